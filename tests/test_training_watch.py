"""Reading a history: best against last, zero-shot getting worse, runs compared, a run replayed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ragviz.plots.replay import replay_curves, replay_embedding, snapshot_index
from ragviz.training.history import History
from ragviz.training.watch import (
    best_and_last,
    best_line,
    group_means,
    history_until,
    worse_groups,
    zero_shot_decline,
)


def _history(seen: list[float], zero: list[float], metric: str = "accuracy", step: int = 10) -> History:
    """Two seen tasks (the second 0.1 below the first) and one zero-shot task, one row per evaluation."""
    history = History(["a", "b", "z"], ["z"], metric)
    for i, (s, z) in enumerate(zip(seen, zero, strict=True)):
        history.steps.append(i * step)
        history.wall_time.append(float(i))
        history.test_metric.append([s, s - 0.1, z])
        history.test_loss.append([1.0, 1.0, 1.0])
        history.train_metric.append([s, s, float("nan")])
        history.train_loss.append([1.0, 1.0, float("nan")])
        if i:
            history.step_loss.append(1.0 / i)
        history.add_snapshot(i * step, np.full((2, 3, 4), float(i)) + np.arange(12.0).reshape(1, 3, 4))
    return history


def test_group_means_skip_tasks_without_a_finite_value() -> None:
    history = _history([0.5, 0.8], [0.4, 0.6])
    history.test_metric[1][1] = float("nan")
    assert group_means(history, zero_shot=False) == pytest.approx([0.45, 0.8])
    assert group_means(history, zero_shot=True) == pytest.approx([0.4, 0.6])


def test_best_step_is_reported_beside_the_last() -> None:
    history = _history([0.5, 0.9, 0.95, 0.97], [0.5, 0.8, 0.7, 0.6])
    zero = best_and_last(history, zero_shot=True)
    assert (zero.best_step, zero.best, zero.last_step, zero.last) == (10, pytest.approx(0.8), 30, pytest.approx(0.6))
    assert best_line(zero) == "zero-shot accuracy: best 80.0% at step 10 · last 60.0% at step 30"
    seen = best_and_last(history, zero_shot=False)
    assert seen.best_is_last and best_line(seen) == "seen accuracy: best and last 92.0% at step 30"


def test_a_falling_zero_shot_accuracy_is_flagged_and_a_wobble_is_not() -> None:
    falling = zero_shot_decline(_history([0.5, 0.9, 0.95, 0.97], [0.5, 0.8, 0.7, 0.6]))
    assert falling is not None and falling.best_step == 10 and falling.last == pytest.approx(0.6)
    assert zero_shot_decline(_history([0.5, 0.9, 0.95], [0.5, 0.8, 0.79])) is None  # within the noise
    assert zero_shot_decline(_history([0.5, 0.9, 0.95], [0.5, 0.7, 0.8])) is None  # still improving


def test_for_regression_a_rising_mse_is_what_gets_worse() -> None:
    rising = zero_shot_decline(_history([1.0, 0.5, 0.3], [1.0, 0.4, 0.6], metric="mse"))
    assert rising is not None and rising.best == pytest.approx(0.4) and rising.last == pytest.approx(0.6)
    assert zero_shot_decline(_history([1.0, 0.5, 0.3], [1.0, 0.6, 0.4], metric="mse")) is None
    assert best_line(best_and_last(_history([1.0, 0.5], [1.0, 0.4], metric="mse"), True)) == \
        "zero-shot MSE: best and last 0.4 at step 10"


def test_without_zero_shot_tasks_nothing_is_flagged() -> None:
    history = _history([0.5, 0.9, 0.6], [math.nan, math.nan, math.nan])
    assert best_and_last(history, zero_shot=True) is None and zero_shot_decline(history) is None


def test_a_worse_run_is_named_by_group_and_only_on_the_same_tasks() -> None:
    before = _history([0.5, 0.9], [0.5, 0.8])
    assert worse_groups(before, _history([0.5, 0.9], [0.5, 0.6])) == ["zero-shot"]
    assert worse_groups(before, _history([0.5, 0.7], [0.5, 0.6])) == ["seen", "zero-shot"]
    assert worse_groups(before, _history([0.5, 0.95], [0.5, 0.85])) == []
    other = _history([0.5, 0.1], [0.5, 0.1])
    other.tasks = ["a", "b", "y"]
    assert worse_groups(before, other) == []


def test_history_until_is_the_run_as_it_stood_at_that_step() -> None:
    history = _history([0.5, 0.6, 0.7, 0.8], [0.4, 0.5, 0.6, 0.7])
    cut = history_until(history, 15)
    assert cut.steps == [0, 10] and cut.test_metric == history.test_metric[:2] and cut.step_loss == [1.0]
    assert cut.snapshot_steps == [0, 10] and len(cut.snapshots) == 2
    assert history.steps == [0, 10, 20, 30]  # the original is untouched


def test_replayed_curves_keep_the_whole_runs_axis_and_mark_the_step() -> None:
    history = _history([0.5, 0.6, 0.7, 0.8], [0.4, 0.5, 0.6, 0.7])
    fig = replay_curves(history, 10)
    assert list(fig.layout.xaxis.range) == [0, 30]
    assert all(list(trace.x) == [0, 10] for trace in fig.data)
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].x0 == 10
    assert len(replay_curves(history, 30).layout.shapes) == 0  # at the end: nothing to mark


def test_replayed_embeddings_show_the_snapshot_at_that_step_on_shared_axes() -> None:
    history = _history([0.5, 0.6, 0.7, 0.8], [0.4, 0.5, 0.6, 0.7])
    assert snapshot_index(history, 25) == 2 and snapshot_index(history, -1) is None
    early, late = replay_embedding(history, 0), replay_embedding(history, 30)
    assert early.layout.xaxis.range == late.layout.xaxis.range
    assert list(early.data[0].x) != list(late.data[0].x)
    assert "step 30" in late.layout.title.text
    assert not late.frames and not late.layout.updatemenus  # the page's slider scrubs, no second player
    empty = History(["a"], [], "accuracy", steps=[0])
    assert replay_embedding(empty, 0) is None
