"""Pages stay quick while a big graph trains: a big run trains in a child process (same numbers as
a thread), big figures are kept per session, and a thousand tasks' training curves come as a few traces."""

from __future__ import annotations

import math
import os
import signal
import time
from collections import OrderedDict

import numpy as np
import pytest
import torch

from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.plots.training import MAX_TASK_CURVES, curves_figure
from ragviz.safety.errors import RagvizError
from ragviz.training.history import History
from ragviz.training.project import Project
from ragviz.training.runner import RunSlots, TrainingRun
from ragviz.training.train import train
from ragviz.training.train_process import DEFAULT_NICE, PROCESS_ENV, PROCESS_FROM_TASKS, WARM_ENV, use_process
from ragviz.ui.figure_cache import MAX_FIGURES, MAX_PER_NAME, cached_figure
from tests.helpers import small_ring, training_children


def _wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# -------------------------------------------------------------------- training in a child process
def _tiny(steps: int = 30) -> Project:
    return Project(small_ring(4, zero_shot=(1,), train_size=20), ModelConfig(embed_dim=8, hidden=16),
                   TrainConfig(steps=steps, eval_every=10), name="tiny")


def test_without_a_pool_big_graphs_train_in_a_child_process_and_small_ones_in_a_thread(monkeypatch) -> None:
    monkeypatch.setenv(WARM_ENV, "0")  # the pool (on by default) sends every run to a child
    assert use_process(PROCESS_FROM_TASKS, "auto") and not use_process(PROCESS_FROM_TASKS - 1, "auto")
    assert use_process(1, "always") and not use_process(10**6, "never")
    with pytest.raises(RagvizError, match="auto, always or never"):
        use_process(5, "sometimes")


def test_a_run_in_a_child_process_trains_the_very_model_of_a_thread(monkeypatch) -> None:
    monkeypatch.setenv(PROCESS_ENV, "always")
    project = _tiny()
    run = TrainingRun(project, slots=RunSlots(4), baseline="no edges").start()
    seen_pids: set[int] = set()
    _wait_until(lambda: seen_pids.update(training_children(os.getpid())) or run.snapshot().done, 120)
    run.join(30)
    assert seen_pids, "no child process trained it"
    expected = train(project.graph, project.model_config, project.train_config)
    snap = run.snapshot()
    assert snap.status == "finished" and "Baseline (no edges)" in snap.message
    assert run.result.history.steps == [0, 10, 20, 30] and [s for s, _ in snap.losses] == [10, 20, 30]
    assert run.result.history.test_metric == expected.history.test_metric
    assert len(run.result.history.snapshots) == len(expected.history.snapshots)
    for mine, theirs in zip(run.result.model.state_dict().values(), expected.model.state_dict().values(),
                            strict=True):
        assert torch.equal(mine, theirs)
    assert snap.baseline_history is run.baseline_result.history and snap.baseline_history is not snap.history


def test_the_live_history_of_a_lower_priority_child_run_grows_as_the_threads_does(monkeypatch) -> None:
    monkeypatch.setenv(PROCESS_ENV, "always")
    run = TrainingRun(_tiny(steps=100_000), slots=RunSlots(4)).start()
    _wait_until(lambda: (run.snapshot().history is not None and len(run.snapshot().history.steps) >= 3), 120)
    live = run.snapshot().history
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert [os.getpriority(os.PRIO_PROCESS, pid) for pid in training_children(os.getpid())] == \
        [min(19, own + DEFAULT_NICE)]  # it steps behind the server's pages for the CPU
    run.stop()
    run.join(60)
    final = run.result.history
    assert run.snapshot().status == "stopped" and "Stopped by the user" in run.snapshot().message
    assert live.steps == final.steps[:len(live.steps)]  # what the page showed is the start of the record
    assert live.test_metric == final.test_metric[:len(live.steps)]
    assert live.snapshot_steps[0] == 0 and all(s in live.steps for s in live.snapshot_steps)


def test_an_ensemble_in_a_child_process_disagrees_exactly_as_in_a_thread(monkeypatch) -> None:
    from ragviz.training.ensemble_run import EnsembleRun

    disagreements = []
    for mode in ("always", "never"):
        monkeypatch.setenv(PROCESS_ENV, mode)
        run = EnsembleRun(_tiny(), k=3, slots=RunSlots(4)).start()
        _wait_until(lambda run=run: run.snapshot().done, 120)
        run.join(30)
        assert run.snapshot().status == "finished", run.snapshot().message
        disagreements.append(run.ensemble.disagreement())
    assert disagreements[0] == disagreements[1] and len(disagreements[0]) == 4


def test_a_child_that_dies_is_an_error_the_page_can_show(monkeypatch) -> None:
    monkeypatch.setenv(PROCESS_ENV, "always")
    run = TrainingRun(_tiny(steps=100_000), slots=RunSlots(4)).start()
    _wait_until(lambda: run.snapshot().step >= 1, 120)
    for pid in training_children(os.getpid()):
        os.kill(pid, signal.SIGKILL)
    run.join(60)
    snap = run.snapshot()
    assert snap.status == "error" and "training process ended unexpectedly" in snap.message
    assert not run.alive and not training_children(os.getpid())


def test_an_unpolled_child_run_stops_itself_and_its_process_ends(monkeypatch) -> None:
    monkeypatch.setenv(PROCESS_ENV, "always")
    run = TrainingRun(_tiny(steps=1_000_000), slots=RunSlots(4), heartbeat_timeout=3.0).start()
    run.join(120)  # nobody calls snapshot(): the tab is gone
    assert not run.alive and not training_children(os.getpid())
    assert run.snapshot().status == "stopped"
    assert run.result is None or run.result.steps_done < 1_000_000


def test_an_error_in_the_child_comes_back_as_itself(monkeypatch) -> None:
    monkeypatch.setenv(PROCESS_ENV, "always")
    run = TrainingRun(_tiny(steps=5), slots=RunSlots(4), baseline="nonsense").start()
    run.join(120)
    snap = run.snapshot()
    assert snap.status == "error" and "Unknown baseline" in snap.message


# ---------------------------------------------------------------------------- figure cache
def test_a_kept_figure_is_reused_for_the_same_objects_and_values_and_rebuilt_otherwise() -> None:
    store: OrderedDict = OrderedDict()
    built: list[str] = []

    def build(tag: str):
        built.append(tag)
        return {"figure": tag}

    trace, other = object(), object()
    first = cached_figure("map", (trace,), ("layer 1",), lambda: build("a"), store)
    assert cached_figure("map", (trace,), ("layer 1",), lambda: build("b"), store) is first
    assert cached_figure("map", (trace,), ("layer 2",), lambda: build("c"), store)["figure"] == "c"
    assert cached_figure("map", (other,), ("layer 1",), lambda: build("d"), store)["figure"] == "d"
    assert built == ["a", "c", "d"]
    for k in range(MAX_FIGURES + 3):
        cached_figure("map", (trace,), (k,), lambda: build("e"), store)
    assert len(store) == MAX_PER_NAME  # one figure's versions: the current one and the one before
    for k in range(MAX_FIGURES + 3):
        cached_figure(f"figure {k}", (trace,), (), lambda: build("f"), store)
    assert len(store) == MAX_FIGURES  # bounded per session


def test_a_new_figure_under_one_name_keeps_the_other_pages_figures() -> None:
    store: OrderedDict = OrderedDict()
    trace = object()
    kept = cached_figure("curves", (trace,), (), lambda: {"figure": "curves"}, store)
    for k in range(MAX_FIGURES):  # many layers looked at on one page
        cached_figure("map", (trace,), (k,), lambda: {"figure": "map"}, store)
    assert cached_figure("curves", (trace,), (), lambda: {"figure": "rebuilt"}, store) is kept


# ------------------------------------------------------------------------ bundled curves
def _big_history(n: int, evaluations: int = 5) -> History:
    rng = np.random.default_rng(0)
    names = [f"task {k}" for k in range(n)]
    history = History(names, [names[3], names[n // 2]], "accuracy", steps=[25 * k for k in range(evaluations)])
    history.test_metric = rng.random((evaluations, n)).tolist()
    history.test_loss = rng.random((evaluations, n)).tolist()
    return history


def test_past_the_limit_the_curves_come_as_seen_and_zero_shot_bundles_with_every_task_in_them() -> None:
    n = MAX_TASK_CURVES * 5
    history = _big_history(n)
    fig = curves_figure(history, "metric", "test")
    assert len(fig.data) == 6  # per group: the lines, their end dots (named), the mean
    lines = [t for t in fig.data if t.mode == "lines" and "mean" not in t.name]
    assert [t.name for t in lines] == [f"seen tasks ({n - 2:,})", "zero-shot tasks ★ (2)"]
    assert lines[1].line.dash == "dash" and lines[0].line.dash == "solid"
    seen_y = np.asarray(lines[0].y, dtype=float).reshape(n - 2, len(history.steps) + 1)
    assert np.isnan(seen_y[:, -1]).all()  # a gap after every task's line
    values = np.asarray(history.test_metric)
    seen_columns = [k for k in range(n) if k not in (3, n // 2)]
    np.testing.assert_allclose(seen_y[:, :-1], values[:, seen_columns].T, rtol=1e-6)
    dots = [t for t in fig.data if t.mode == "markers"]
    assert sorted(name for t in dots for name in t.text) == sorted(history.tasks)
    mean = next(t for t in fig.data if t.name == "mean (seen tasks)")
    assert math.isclose(mean.y[-1], float(values[-1, seen_columns].mean()), rel_tol=1e-9)


def test_up_to_the_limit_every_task_keeps_its_own_line() -> None:
    history = _big_history(MAX_TASK_CURVES)
    fig = curves_figure(history, "loss", "test")
    assert len(fig.data) == MAX_TASK_CURVES + 1  # one line per task and the mean
