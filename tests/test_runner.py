"""TrainingRun: a worker thread that finishes, stops, survives divergence, trains a baseline, and stays apart."""

from __future__ import annotations

import threading
import time

import pytest
import torch

import ragviz.data.domains as data_module
from ragviz.graph.generators import generate_graph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.model.rag import RAGModel
from ragviz.safety.errors import Stopped
from ragviz.training.project import Project
from ragviz.training.runner import RunSlots, TrainingRun
from ragviz.training.train import train
from tests.helpers import small_ring


@pytest.fixture(autouse=True)
def in_a_thread(monkeypatch) -> None:
    """These tests look inside the worker (patched data makers, its threads): train in a thread
    whatever the graph's size. The child-process path is tested in test_responsiveness.py."""
    monkeypatch.setenv("RAGVIZ_TRAIN_PROCESS", "never")


def _project(steps: int = 20, **train_settings) -> Project:
    return Project(small_ring(4, zero_shot=(1,), train_size=20), ModelConfig(embed_dim=8, hidden=16),
                   TrainConfig(steps=steps, eval_every=10, **train_settings), name="tiny")


def _wait(run: TrainingRun, until, timeout: float = 60.0):
    """Poll like the page does until ``until(snapshot)``; the polling is also the heartbeat."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = run.snapshot()
        if until(snap):
            return snap
        time.sleep(0.02)
    raise AssertionError(f"run did not get there in {timeout} s: {run.snapshot()}")


def test_a_run_progresses_and_finishes_with_a_result() -> None:
    run = TrainingRun(_project())
    assert run.snapshot().status == "idle"
    run.start()
    snap = _wait(run, lambda s: s.done)
    run.join()
    assert snap.status == "finished" and snap.message == "Trained 20 steps."
    assert snap.step == snap.total == 20 and snap.fraction == 1.0 and snap.steps_per_sec > 0
    assert snap.history is run.result.history and snap.history.steps == [0, 10, 20]
    assert [step for step, _ in snap.losses] == [10, 20]
    assert run.result.status == "finished" and run.baseline_result is None and not run.alive


def test_the_run_trains_a_copy_of_the_project() -> None:
    project = _project()
    run = TrainingRun(project).start()
    project.graph.remove_task("moons 0°")  # the user edits the graph while training runs
    run.join()
    assert "moons 0°" in run.result.history.tasks


def test_stop_mid_run_gives_stopped_with_a_usable_model() -> None:
    run = TrainingRun(_project(steps=100_000)).start()
    _wait(run, lambda s: s.step >= 3)
    run.stop()
    run.join(timeout=30)
    snap = run.snapshot()
    assert snap.status == "stopped" and "Stopped by the user" in snap.message
    assert 3 <= run.result.steps_done < 100_000
    assert run.result.history.steps[-1] == run.result.steps_done
    assert all(torch.isfinite(p).all() for p in run.result.model.parameters())


def test_learning_rate_1000_diverges_and_keeps_finite_weights() -> None:
    run = TrainingRun(_project(steps=200, lr=1000.0)).start()
    run.join(timeout=60)
    snap = run.snapshot()
    assert snap.status == "diverged"
    assert "learning rate 1000" in snap.message and "kept the last finite weights" in snap.message
    assert run.result.steps_done < 200
    assert all(torch.isfinite(p).all() for p in run.result.model.parameters())


def test_a_baseline_trains_after_the_model_on_the_same_data() -> None:
    run = TrainingRun(_project(), baseline="independent").start()
    phases = set()
    _wait(run, lambda s: phases.add(s.phase) or s.done)
    run.join()
    snap = run.snapshot()
    assert snap.status == "finished" and "Baseline (independent)" in snap.message
    assert run.baseline_result is not None and run.baseline_result.model.config.decoder == "independent"
    assert snap.baseline_history.tasks == snap.history.tasks
    assert "baseline" in phases or snap.phase == "baseline"


def test_a_bad_baseline_name_is_an_error_not_a_crash() -> None:
    run = TrainingRun(_project(steps=5), baseline="nonsense").start()
    run.join(timeout=60)
    snap = run.snapshot()
    assert snap.status == "error" and "Unknown baseline" in snap.message
    assert run.result is not None  # the model itself trained and stays usable


def test_an_unpolled_run_stops_itself_after_the_heartbeat_timeout() -> None:
    run = TrainingRun(_project(steps=100_000), heartbeat_timeout=0.3).start()
    run.join(timeout=30)  # nobody calls snapshot(): the tab is gone
    assert not run.alive
    assert run.result.status == "stopped" and run.result.steps_done < 100_000


def test_two_runs_in_parallel_do_not_mix_results() -> None:
    a = _project(seed=1)
    b = Project(small_ring(5, zero_shot=(), train_size=20), ModelConfig(layers=1, embed_dim=8, hidden=16),
                TrainConfig(steps=20, eval_every=10, seed=2), name="five")
    run_a, run_b = TrainingRun(a).start(), TrainingRun(b).start()
    run_a.join(timeout=60)
    run_b.join(timeout=60)
    assert run_a.result.history.tasks == a.graph.task_names()
    assert run_b.result.history.tasks == b.graph.task_names()
    alone_a = train(a.graph, a.model_config, a.train_config)
    alone_b = train(b.graph, b.model_config, b.train_config)
    assert run_a.result.history.test_metric == alone_a.history.test_metric
    assert run_b.result.history.test_metric == alone_b.history.test_metric


# ------------------------------------------------------------------------------ the server's queue
def test_over_the_cap_a_run_waits_with_its_place_then_starts_when_a_slot_frees() -> None:
    slots = RunSlots(capacity=1)
    first = TrainingRun(_project(steps=100_000), slots=slots).start()
    _wait(first, lambda s: s.status == "running" and s.step >= 1)
    second = TrainingRun(_project(steps=20), slots=slots).start()
    snap = _wait(second, lambda s: s.status == "queued")
    assert snap.queue_place == 1 and snap.runs_going == 1 and snap.step == 0 and not snap.done
    third = TrainingRun(_project(steps=20), slots=slots).start()
    assert _wait(third, lambda s: s.status == "queued").queue_place == 2
    assert second.snapshot().status == "queued"  # still waiting while the first trains
    first.stop()
    started = _wait(second, lambda s: s.step > 0 or s.done)
    assert first.snapshot().done and started.queue_place == 0  # it began only once the first had ended
    done = _wait(second, lambda s: s.done)
    assert done.status == "finished" and second.result.steps_done == 20
    assert _wait(third, lambda s: s.done).status == "finished"
    assert slots.running() == 0


def test_a_queued_run_whose_tab_closed_leaves_the_queue() -> None:
    slots = RunSlots(capacity=1)
    first = TrainingRun(_project(steps=100_000), slots=slots).start()
    _wait(first, lambda s: s.status == "running")
    gone = TrainingRun(_project(steps=20), heartbeat_timeout=0.3, slots=slots).start()
    gone.join(timeout=30)  # never polled: its tab is gone
    assert not gone.alive and slots.place(gone) == 0
    snap = gone.snapshot()
    assert snap.status == "stopped" and "tab was closed" in snap.message and "left the queue" in snap.message
    assert gone.result is None
    first.stop()
    first.join(timeout=30)


def test_stop_while_the_data_is_prepared_ends_the_run_before_the_rest_is_made(monkeypatch) -> None:
    calls = []
    real = data_module._make  # what graph_data_items makes each task's data with

    def slow(task, tables=None, shared=None):  # a big graph's data takes a while; one task at a time
        calls.append(task.name)
        time.sleep(0.002)
        return real(task, tables, shared)

    monkeypatch.setattr(data_module, "_make", slow)
    graph = generate_graph("ring", 1_000, train_size=10, test_size=10, seed=7)
    run = TrainingRun(Project(graph, ModelConfig(embed_dim=8, hidden=16), TrainConfig(steps=10))).start()
    _wait(run, lambda s: len(calls) > 0)
    run.stop()  # from this thread while the worker prepares data
    run.join(timeout=60)
    snap = run.snapshot()
    assert not run.alive and snap.status == "stopped" and "before training began" in snap.message
    assert run.result is None and len(calls) < 1_000


def test_stop_during_the_first_evaluation_ends_it_between_chunks(monkeypatch) -> None:
    graph = small_ring(4, zero_shot=(), train_size=20)
    for task in graph.tasks():
        graph.update_task(task.name, test_size=10_000)  # 40,000 test points: several chunks of whole tasks
    stop = threading.Event()
    decoded = []
    real = RAGModel.decode_points

    def decode(self, *args, **kwargs):
        decoded.append(1)
        stop.set()  # the user presses Stop while the first evaluation decodes
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RAGModel, "decode_points", decode)
    with pytest.raises(Stopped, match="nothing was trained"):
        train(graph, ModelConfig(embed_dim=8, hidden=16), TrainConfig(steps=10), stop=stop)
    assert len(decoded) == 1  # the train split's one chunk; the test split's chunks never ran


def test_the_page_gets_a_history_that_later_evaluations_do_not_change() -> None:
    run = TrainingRun(_project(steps=60)).start()
    early = _wait(run, lambda s: s.history is not None and len(s.history.steps) >= 2)
    steps, metrics = list(early.history.steps), list(early.history.test_metric)
    _wait(run, lambda s: s.done)
    assert early.history.steps == steps and early.history.test_metric == metrics
    assert len(run.result.history.steps) > len(steps)
