"""Liveness from the session's connection, and a class's caps on a run's steps and seconds."""

from __future__ import annotations

import time

import pytest

from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.errors import ConfigError
from ragviz.safety.limits import get_limits
from ragviz.training.liveness import Liveness
from ragviz.training.project import Project
from ragviz.training.runner import RunSlots, TrainingRun
from tests.helpers import small_ring


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_with_a_probe_slow_polls_never_end_a_connected_session() -> None:
    clock, connected = Clock(), [True]
    live = Liveness(90.0, lambda: connected[0], clock)
    clock.now = 10_000.0  # nobody polled for hours: a server this busy still keeps the run
    assert not live.gone()


def test_with_a_probe_a_session_away_past_the_grace_is_gone_and_a_quick_reconnect_is_not() -> None:
    clock, connected = Clock(), [True]
    live = Liveness(90.0, lambda: connected[0], clock)
    clock.now = 5.0
    assert not live.gone()
    connected[0] = False  # the tab dropped its connection at 5 s
    clock.now = 80.0
    assert not live.gone()
    connected[0] = True  # back within the grace
    clock.now = 85.0
    assert not live.gone()
    connected[0] = False
    clock.now = 170.0
    assert not live.gone()  # away for 85 s only: 85 s was the last time it was seen
    clock.now = 176.0
    assert live.gone()


def test_polls_do_not_count_when_there_is_a_probe() -> None:
    clock = Clock()
    live = Liveness(1.0, lambda: False, clock)
    clock.now = 5.0
    live.polled()
    assert live.gone()


def test_a_probe_that_raises_counts_as_disconnected() -> None:
    clock = Clock()

    def broken() -> bool:
        raise RuntimeError("runtime shutting down")

    live = Liveness(1.0, broken, clock)
    clock.now = 2.0
    assert live.gone()


def test_without_a_probe_polls_keep_it_alive() -> None:
    clock = Clock()
    live = Liveness(1.0, None, clock)
    clock.now = 0.9
    live.polled()
    clock.now = 1.8
    assert not live.gone()
    clock.now = 2.0
    assert live.gone()


# ------------------------------------------------------------------------------------ runs
@pytest.fixture(autouse=True)
def in_a_thread(monkeypatch) -> None:
    monkeypatch.setenv("RAGVIZ_TRAIN_PROCESS", "never")


def _project(steps: int) -> Project:
    return Project(small_ring(4, zero_shot=(1,), train_size=20), ModelConfig(embed_dim=8, hidden=16),
                   TrainConfig(steps=steps, eval_every=max(1, steps // 4)), name="tiny")


def test_a_queued_run_whose_tab_is_open_is_never_cancelled_however_late_the_polls() -> None:
    """The class's failure: 4 of 32 queued runs cancelled because polls came late. With a probe, none is."""
    slots = RunSlots(1)
    blocker = TrainingRun(_project(1_000_000), slots=slots, probe=lambda: True).start()
    waiting = TrainingRun(_project(10), heartbeat_timeout=0.2, slots=slots, probe=lambda: True).start()
    time.sleep(1.0)  # five grace periods with no poll at all
    assert waiting.alive and slots.place(waiting) == 1
    blocker.stop()
    waiting.join(timeout=60)
    blocker.join(timeout=60)
    assert waiting.snapshot().status == "finished"


def test_a_run_whose_tab_is_gone_stops_and_says_why() -> None:
    run = TrainingRun(_project(1_000_000), heartbeat_timeout=0.2, probe=lambda: False).start()
    run.join(timeout=60)
    snap = run.snapshot()
    assert snap.status == "stopped" and snap.message.startswith("Stopped because its tab was closed")
    assert run.result is not None and run.result.steps_done < 1_000_000


def test_a_queued_run_whose_tab_is_gone_leaves_the_queue_and_says_why() -> None:
    slots = RunSlots(1)
    blocker = TrainingRun(_project(1_000_000), slots=slots, probe=lambda: True).start()
    gone = TrainingRun(_project(10), heartbeat_timeout=0.2, slots=slots, probe=lambda: False).start()
    gone.join(timeout=30)
    blocker.stop()
    blocker.join(timeout=60)
    assert gone.snapshot().status == "stopped" and "it left the queue" in gone.snapshot().message
    assert gone.result is None


def test_the_step_cap_refuses_a_longer_run_before_it_queues(monkeypatch) -> None:
    monkeypatch.setenv("RAGVIZ_MAX_STEPS", "500")
    assert get_limits().max_steps == 500
    slots = RunSlots(1)
    with pytest.raises(ConfigError, match="501 steps; this server's limit is 500 steps per run.*RAGVIZ_MAX_STEPS"):
        TrainingRun(_project(501), slots=slots).start()
    assert slots.place(None) == 0 and slots.running() == 0


def test_the_time_cap_stops_a_run_and_keeps_what_it_learned(monkeypatch) -> None:
    monkeypatch.setenv("RAGVIZ_MAX_RUN_SECONDS", "0.5")
    started = time.monotonic()
    run = TrainingRun(_project(1_000_000), probe=lambda: True).start()
    run.join(timeout=60)
    snap = run.snapshot()
    assert time.monotonic() - started < 10
    assert snap.status == "stopped" and "limit of 0.5 s per run (RAGVIZ_MAX_RUN_SECONDS)" in snap.message
    assert run.result is not None and 0 < run.result.steps_done < 1_000_000


@pytest.mark.parametrize("phase", ["queued", "running"])
def test_stop_ends_a_run_within_two_seconds_in_the_queue_and_while_training(phase: str) -> None:
    slots = RunSlots(1)
    blocker = TrainingRun(_project(1_000_000), slots=slots, probe=lambda: True).start()
    run = blocker
    if phase == "queued":
        run = TrainingRun(_project(1_000_000), slots=slots, probe=lambda: True).start()
    deadline = time.monotonic() + 60
    while run.snapshot().status != phase and time.monotonic() < deadline:
        time.sleep(0.02)
    if phase == "running":
        while run.snapshot().step < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    pressed = time.monotonic()
    run.stop()
    run.join(timeout=30)
    assert not run.alive and time.monotonic() - pressed < 2.0
    assert run.snapshot().status == "stopped"
    blocker.stop()
    blocker.join(timeout=30)


@pytest.mark.parametrize("phase", ["queued", "running"])
def test_a_tab_that_drops_and_reconnects_within_the_grace_keeps_its_run(phase: str) -> None:
    """A dropped connection (a laptop lid, a flaky wifi) in the queue or while training: the run goes on."""
    slots = RunSlots(1)
    connected = [True]
    blocker = TrainingRun(_project(1_000_000), slots=slots, probe=lambda: True).start()
    run = TrainingRun(_project(1_000_000 if phase == "running" else 10), heartbeat_timeout=3.0, slots=slots,
                      probe=lambda: connected[0])
    if phase == "running":
        blocker.stop()
        blocker.join(timeout=30)
    run.start()
    deadline = time.monotonic() + 60
    while run.snapshot().status != phase and time.monotonic() < deadline:
        time.sleep(0.02)
    connected[0] = False
    time.sleep(0.6)  # away for a fifth of the grace
    connected[0] = True
    time.sleep(0.6)  # back: the clock restarts
    connected[0] = False
    time.sleep(0.6)
    connected[0] = True
    time.sleep(0.3)
    assert run.liveness.gone() is False
    assert run.alive and run.snapshot().status == phase
    if phase == "queued":
        blocker.stop()
        run.join(timeout=60)
        assert run.snapshot().status == "finished"
    run.stop()
    run.join(timeout=30)
    blocker.stop()
    blocker.join(timeout=30)
