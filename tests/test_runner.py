"""TrainingRun: a worker thread that finishes, stops, survives divergence, trains a baseline, and stays apart."""

from __future__ import annotations

import time

import torch
from conftest import small_ring

from ragviz.config import ModelConfig, TrainConfig
from ragviz.project import Project
from ragviz.runner import TrainingRun
from ragviz.train import train


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
