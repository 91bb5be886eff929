"""A run's lifecycle: every transition, every illegal event, and a tab that closes or reconnects at each step."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ragviz.training.lifecycle import (
    ENDED,
    LIVE,
    TRANSITIONS,
    Event,
    IllegalTransition,
    Phase,
    RunRecord,
    SessionRuns,
    advance,
)


@dataclass
class _Snap:
    status: str


class FakeRun:
    """A run whose status the test sets, as the worker thread would."""

    def __init__(self, status: str = "queued") -> None:
        self.status = status
        self.stopped = False

    def snapshot(self) -> _Snap:
        return _Snap(self.status)

    def stop(self) -> None:
        self.stopped = True
        if self.status in ("queued", "running"):
            self.status = "stopped"


EXPECTED = {
    (Phase.QUEUED, Event.ADMITTED): Phase.RUNNING,
    (Phase.QUEUED, Event.STOP): Phase.STOPPED,
    (Phase.QUEUED, Event.FAIL): Phase.FAILED,
    (Phase.RUNNING, Event.FINISH): Phase.FINISHED,
    (Phase.RUNNING, Event.FAIL): Phase.FAILED,
    (Phase.RUNNING, Event.STOP): Phase.STOPPED,
    (Phase.FINISHED, Event.TAKE_IN): Phase.TAKEN_IN,
    (Phase.FAILED, Event.TAKE_IN): Phase.TAKEN_IN,
    (Phase.STOPPED, Event.TAKE_IN): Phase.TAKEN_IN,
    (Phase.TAKEN_IN, Event.REDRAWN): Phase.SHOWN,
    (Phase.SHOWN, Event.REDRAWN): Phase.SHOWN,
}


@pytest.mark.parametrize(("phase", "event"), sorted(EXPECTED))
def test_each_transition_goes_where_the_lifecycle_says(phase: Phase, event: Event) -> None:
    assert advance(phase, event) == EXPECTED[(phase, event)]


ILLEGAL = [(p, e) for p in Phase for e in Event
           if (p, e) not in EXPECTED and e not in (Event.TAB_AWAY, Event.TAB_BACK)]


@pytest.mark.parametrize(("phase", "event"), ILLEGAL)
def test_every_other_event_is_refused(phase: Phase, event: Event) -> None:
    """No run is taken in twice, nothing is shown before it is taken in, an ended run never restarts."""
    with pytest.raises(IllegalTransition, match=str(phase)):
        advance(phase, event)


def test_the_table_holds_exactly_the_expected_moves_and_the_tab_events() -> None:
    tab = {(p, e): p for p in Phase for e in (Event.TAB_AWAY, Event.TAB_BACK)}
    assert TRANSITIONS == {**EXPECTED, **tab}
    assert (Phase.TAKEN_IN, Event.TAKE_IN) in ILLEGAL and (Phase.RUNNING, Event.TAKE_IN) in ILLEGAL


# ------------------------------------------------------------------------ following a run's status
@pytest.mark.parametrize(("status", "phase"), [
    ("queued", Phase.QUEUED), ("running", Phase.RUNNING), ("finished", Phase.FINISHED),
    ("diverged", Phase.FINISHED), ("error", Phase.FAILED), ("stopped", Phase.STOPPED),
])
def test_a_record_follows_its_runs_status_from_queued(status: str, phase: Phase) -> None:
    record = RunRecord(FakeRun(status))
    assert record.sync() == phase
    assert record.live == (phase in LIVE) and record.ended == (phase in ENDED)


@pytest.mark.parametrize(("status", "phase"), [
    ("running", Phase.RUNNING), ("finished", Phase.FINISHED), ("error", Phase.FAILED), ("stopped", Phase.STOPPED),
])
def test_a_record_follows_its_runs_status_from_running(status: str, phase: Phase) -> None:
    run = FakeRun("running")
    record = RunRecord(run)
    assert record.sync() == Phase.RUNNING
    run.status = status
    assert record.sync() == phase


def test_after_the_take_in_the_runs_status_no_longer_moves_the_phase() -> None:
    run = FakeRun("finished")
    record = RunRecord(run)
    assert record.ended
    record.apply(Event.TAKE_IN)
    run.status = "stopped"  # anything the worker says now is history
    assert record.sync() == Phase.TAKEN_IN and record.taken_in and record.awaiting_redraw
    record.apply(Event.REDRAWN)
    assert record.sync() == Phase.SHOWN and not record.awaiting_redraw


# ------------------------------------------------------------------ a tab that closes or reconnects
def _record_at(phase: Phase) -> tuple[RunRecord, FakeRun]:
    """A record brought to ``phase`` the way the app brings it there."""
    status = {Phase.QUEUED: "queued", Phase.RUNNING: "running", Phase.FAILED: "error",
              Phase.STOPPED: "stopped"}.get(phase, "finished")
    run = FakeRun(status)
    record = RunRecord(run)
    record.sync()
    if phase in (Phase.TAKEN_IN, Phase.SHOWN):
        record.apply(Event.TAKE_IN)
    if phase == Phase.SHOWN:
        record.apply(Event.REDRAWN)
    assert record.phase == phase
    return record, run


@pytest.mark.parametrize("phase", list(Phase))
def test_a_tab_that_reconnects_finds_its_run_where_it_was(phase: Phase) -> None:
    record, run = _record_at(phase)
    record.apply(Event.TAB_AWAY)
    assert record.sync() == phase and not run.stopped  # a dropped connection alone changes nothing
    record.apply(Event.TAB_BACK)
    assert record.sync() == phase


@pytest.mark.parametrize("phase", list(Phase))
def test_a_tab_that_reconnects_still_gets_the_result_once(phase: Phase) -> None:
    """Whatever step the tab dropped at, after it is back the run ends, is taken in once and shown."""
    record, run = _record_at(phase)
    record.apply(Event.TAB_AWAY)
    if run.status in ("queued", "running"):
        run.status = "finished"  # it trained on while the tab was away
    record.apply(Event.TAB_BACK)
    if record.ended:
        record.apply(Event.TAKE_IN)
    with pytest.raises(IllegalTransition):
        record.apply(Event.TAKE_IN)  # never twice
    SessionRuns(train=record).redrawn()
    assert record.phase == Phase.SHOWN


@pytest.mark.parametrize("phase", list(Phase))
def test_a_tab_that_closes_for_good_stops_a_live_run_and_leaves_a_result(phase: Phase) -> None:
    """The session ends (its state is dropped): a queued or training run stops; an ended one stays as it was."""
    record, run = _record_at(phase)
    record.apply(Event.TAB_AWAY)
    SessionRuns(train=record).stop_all()
    if phase in LIVE:
        assert record.sync() == Phase.STOPPED
    else:
        assert record.sync() == phase


# --------------------------------------------------------------------------------- one per session
def test_a_session_is_busy_while_either_of_its_runs_is_live() -> None:
    runs = SessionRuns()
    assert runs.busy() is None and not runs.awaiting_redraw()
    ensemble = RunRecord(FakeRun("queued"), "ensemble")
    runs.ensemble = ensemble
    assert runs.busy() is ensemble and runs.awaiting_redraw()
    ensemble.run.status = "finished"
    assert runs.busy() is None and runs.awaiting_redraw()  # ended: still to take in and show
    ensemble.apply(Event.TAKE_IN)
    runs.redrawn()
    assert ensemble.phase == Phase.SHOWN and not runs.awaiting_redraw()


def test_a_redraw_shows_only_what_was_taken_in() -> None:
    runs = SessionRuns(train=RunRecord(FakeRun("finished")), ensemble=RunRecord(FakeRun("running"), "ensemble"))
    runs.redrawn()  # a redraw before the take-in shows nothing yet
    assert runs.train.sync() == Phase.FINISHED and runs.ensemble.sync() == Phase.RUNNING
