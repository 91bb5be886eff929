"""A session's training runs, from queued to shown in its tab: one small state machine.

A run goes ``queued → running → finished | failed | stopped → taken in → shown``. *Taken in*
means the session has dealt with the result exactly once (its model adopted, offered or held
back); *shown* means a whole redraw of the tab completed after that, so the tab shows it.
Until a run is shown, the app shell's one watcher keeps asking for that redraw: a redraw that
was lost (a busy server, a tab that reconnected) is asked for again, never forgotten.

A tab can close or reconnect at any step. It does not change the phase by itself: a run keeps
training while its session exists (:mod:`ragviz.training.liveness` decides when a session is
gone, and then the run is stopped, which is the ``stop`` event); a result that ended while the
tab was away is taken in and shown when it comes back.

This module is pure (no Streamlit): ``tests/test_lifecycle.py`` tests every transition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    TAKEN_IN = "taken in"
    SHOWN = "shown"


class Event(StrEnum):
    ADMITTED = "admitted"  # the run got a training slot
    FINISH = "finish"  # trained to the end (a diverged run too: its model is held back at take-in)
    FAIL = "fail"  # an error ended it
    STOP = "stop"  # Stop, Leave queue, its session gone, or a class's cap
    TAKE_IN = "take in"  # the session dealt with the result (exactly once)
    REDRAWN = "redrawn"  # a whole redraw of the tab completed after the take-in
    TAB_AWAY = "tab away"  # the tab's connection dropped (it may come back)
    TAB_BACK = "tab back"  # the tab reconnected to the same session


class IllegalTransition(ValueError):
    """An event that cannot happen in a phase: a bug in the caller, never a user's doing."""


ENDED = frozenset({Phase.FINISHED, Phase.FAILED, Phase.STOPPED})
LIVE = frozenset({Phase.QUEUED, Phase.RUNNING})
_TAB = {Event.TAB_AWAY, Event.TAB_BACK}

#: (phase, event) -> next phase. Tab events keep every phase (see the module's docstring).
TRANSITIONS: dict[tuple[Phase, Event], Phase] = {
    (Phase.QUEUED, Event.ADMITTED): Phase.RUNNING,
    (Phase.QUEUED, Event.STOP): Phase.STOPPED,
    (Phase.QUEUED, Event.FAIL): Phase.FAILED,
    (Phase.RUNNING, Event.FINISH): Phase.FINISHED,
    (Phase.RUNNING, Event.FAIL): Phase.FAILED,
    (Phase.RUNNING, Event.STOP): Phase.STOPPED,
    **{(ended, Event.TAKE_IN): Phase.TAKEN_IN for ended in ENDED},
    (Phase.TAKEN_IN, Event.REDRAWN): Phase.SHOWN,
    (Phase.SHOWN, Event.REDRAWN): Phase.SHOWN,  # every later redraw shows it as well
    **{(phase, tab): phase for phase in Phase for tab in _TAB},
}


def advance(phase: Phase, event: Event) -> Phase:
    """The phase after ``event``; raises :class:`IllegalTransition` for an event the phase cannot take."""
    try:
        return TRANSITIONS[(phase, event)]
    except KeyError:
        raise IllegalTransition(f"a run that is {phase} cannot take the event {event!r}") from None


#: A run's reported status (``RunStatus`` values) -> the events that bring a queued run there.
_STATUS_EVENTS: dict[str, tuple[Event, ...]] = {
    "queued": (),
    "idle": (),
    "running": (Event.ADMITTED,),
    "finished": (Event.ADMITTED, Event.FINISH),
    "diverged": (Event.ADMITTED, Event.FINISH),
    "error": (Event.FAIL,),
    "stopped": (Event.STOP,),
}


@dataclass
class RunRecord:
    """One run of a session with its phase, the project it started from and what its take-in did.

    ``run`` is anything with ``snapshot()`` (a status and whether it trained) and ``stop()``:
    a :class:`ragviz.training.runner.TrainingRun` or an ensemble's run.
    """

    run: Any
    kind: str = "train"  # "train" or "ensemble"
    origin: Any = None  # the session's project object when it started (identity, not equality)
    key: str = ""  # what an ensemble was made for (graph, configs, model)
    phase: Phase = Phase.QUEUED
    outcome: str = ""  # after take-in: "adopted", "offered", "held", "nothing"
    views: dict[str, Any] = field(default_factory=dict)  # an ensemble's computed views, by graph

    def apply(self, event: Event) -> Phase:
        self.phase = advance(self.phase, event)
        return self.phase

    def sync(self) -> Phase:
        """Follow the run's own status (its worker moves it on); phases past ``ended`` are the session's."""
        if self.phase in LIVE:
            status = str(self.run.snapshot().status)
            for event in _STATUS_EVENTS.get(status, ()):
                if (self.phase, event) in TRANSITIONS:  # a running run is already admitted
                    self.apply(event)
        return self.phase

    @property
    def live(self) -> bool:
        return self.sync() in LIVE

    @property
    def ended(self) -> bool:
        """Over, and not yet taken in."""
        return self.sync() in ENDED

    @property
    def taken_in(self) -> bool:
        return self.phase in (Phase.TAKEN_IN, Phase.SHOWN)

    @property
    def awaiting_redraw(self) -> bool:
        """Live, ended or taken in, but not yet on the tab's screen: the watcher is needed."""
        return self.sync() != Phase.SHOWN


@dataclass
class SessionRuns:
    """Every run of one session: at most one trains at a time (an ensemble counts as that run).

    ``previous`` is the model the last adopted run replaced (kept one click away); it is owned by
    :mod:`ragviz.ui.runs`, which knows what a model is.
    """

    train: RunRecord | None = None
    ensemble: RunRecord | None = None
    previous: Any = None

    def records(self) -> list[RunRecord]:
        return [r for r in (self.train, self.ensemble) if r is not None]

    def busy(self) -> RunRecord | None:
        """The session's run that is queued or training, if any."""
        return next((r for r in self.records() if r.live), None)

    def awaiting_redraw(self) -> bool:
        return any(r.awaiting_redraw for r in self.records())

    def redrawn(self) -> None:
        """A whole redraw completed: every taken-in run is on the screen now."""
        for record in self.records():
            if record.phase in (Phase.TAKEN_IN, Phase.SHOWN):
                record.apply(Event.REDRAWN)

    def stop_all(self) -> None:
        """The session ended: stop whatever still trains (called by the session state's finaliser)."""
        for record in self.records():
            record.run.stop()
