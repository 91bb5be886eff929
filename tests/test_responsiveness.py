"""Pages stay quick while a big graph trains: training steps aside for pages, big figures are kept
per session, and a thousand tasks' training curves come as a few traces."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import torch

from ragviz.config import ModelConfig, TrainConfig
from ragviz.history import History
from ragviz.page_gate import PageGate
from ragviz.plots.training import MAX_TASK_CURVES, curves_figure
from ragviz.project import Project
from ragviz.runner import RunSlots, TrainingRun
from ragviz.train import train
from ragviz.ui.figure_cache import MAX_FIGURES, cached_figure
from tests.helpers import small_ring


def _wait_until(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


# ------------------------------------------------------------------------------- page gate
def test_a_training_thread_waits_while_a_page_runs_and_goes_on_when_it_ends() -> None:
    gate = PageGate(max_pause=60.0)
    waiting, done = threading.Event(), threading.Event()

    def step_loop() -> None:
        waiting.set()
        gate.yield_to_pages()
        done.set()

    with gate.page_running():
        assert gate.pages_running == 1
        worker = threading.Thread(target=step_loop)
        worker.start()
        waiting.wait(10)
        assert not done.wait(0.3)  # the page is still running: the step waits
    assert done.wait(10)  # the page ended: the step goes on
    worker.join()
    assert gate.pages_running == 0


def test_a_page_that_raises_still_releases_the_gate() -> None:
    gate = PageGate()
    try:
        with gate.page_running():
            raise RuntimeError("a rerun or a stop ends a script run with an exception")
    except RuntimeError:
        pass
    assert gate.pages_running == 0 and gate.yield_to_pages() == 0.0


def test_pages_without_a_break_still_leave_training_time_to_work() -> None:
    gate = PageGate(max_pause=0.05, min_work=30.0)
    with gate.page_running():
        assert gate.yield_to_pages() >= 0.05  # waited as long as it may
        assert gate.yield_to_pages() == 0.0  # then works without waiting, though the page still runs


def test_a_run_makes_no_step_while_a_page_runs_and_trains_the_same_model() -> None:
    project = Project(small_ring(4, zero_shot=(1,), train_size=20), ModelConfig(embed_dim=8, hidden=16),
                      TrainConfig(steps=30, eval_every=10), name="tiny")
    gate = PageGate(max_pause=60.0)
    run = TrainingRun(project, slots=RunSlots(4), gate=gate)
    with gate.page_running():
        run.start()
        time.sleep(0.5)
        assert run.snapshot().step == 0  # not one step while the page runs
    run.join(120)
    expected = train(project.graph, project.model_config, project.train_config)
    assert run.result.status == "finished" and run.result.history.steps == [0, 10, 20, 30]
    for mine, theirs in zip(run.result.model.state_dict().values(), expected.model.state_dict().values(),
                            strict=True):
        assert torch.equal(mine, theirs)  # waiting changes when it trains, not what


# ---------------------------------------------------------------------------- figure cache
def test_a_kept_figure_is_reused_for_the_same_objects_and_values_and_rebuilt_otherwise() -> None:
    store: dict = {}
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
    assert len(store["ragviz_figure_cache"]) == MAX_FIGURES  # bounded per session


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
