"""Training in a worker thread that never calls Streamlit (docs/DESIGN.md §3).

The page starts a :class:`TrainingRun`, then polls :meth:`TrainingRun.snapshot` from a
fragment. All shared state sits behind one lock; at evaluations the worker hands the page a
:meth:`~ragviz.training.history.History.shared_copy` of the live history (new lists, shared records),
so reporting costs almost nothing per step. A run also stops by itself when its browser tab is
gone for ``heartbeat_timeout`` seconds (see below).

One server runs at most ``RAGVIZ_MAX_RUNS`` runs at once (:class:`RunSlots`); a run started
beyond that waits in a first-come queue, shows its place, and starts when a slot frees. A run
that is stopped, or whose tab closes, leaves the queue. A run on a big graph trains in a child
process (:mod:`ragviz.training.train_process`), so the server's pages never wait for its share of the GIL;
the worker thread then only relays its progress.

A run started by the app is given a probe of its session's connection
(:mod:`ragviz.training.liveness`): it stops when the tab has been gone for ``RAGVIZ_HEARTBEAT_S``,
never because page polls came late. A class's caps apply to every run: ``RAGVIZ_MAX_STEPS`` is
checked when it starts, ``RAGVIZ_MAX_RUN_SECONDS`` stops it (keeping what it learned).
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import torch

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edges
from ragviz.model.config import ModelConfig
from ragviz.safety.errors import ConfigError, RagvizError, Stopped
from ragviz.safety.limits import get_limits
from ragviz.training.ablations import ablation_setup
from ragviz.training.history import History
from ragviz.training.liveness import Liveness, Probe
from ragviz.training.prepared import Checked, check_work
from ragviz.training.project import Project
from ragviz.training.train import Progress, TrainResult, train
from ragviz.training.train_process import Job, run_in_child, use_process

QUEUE_POLL_S = 0.25  # how often a queued run re-checks its stop flag (and its heartbeat)


def baseline_setup(name: str, config: ModelConfig, graph: TaskGraph, seed: int = 0) -> tuple[ModelConfig, Edges | None]:
    """An ablation by name, or ``layers=N``: a lesson's contrast that is the same model with N layers."""
    if name.startswith("layers="):
        try:
            layers = int(name.split("=", 1)[1])
        except ValueError as err:
            raise ConfigError(f"Unknown baseline {name!r}: layers=N needs a whole number.") from err
        return replace(config, layers=layers), None
    return ablation_setup(name, config, graph, seed)


class RunStatus(StrEnum):
    """Where a run is; equal to its plain-text name, so it prints and stores as that name."""

    IDLE = "idle"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    ERROR = "error"


@dataclass(frozen=True)
class RunSnapshot:
    """A consistent copy of a run's state for one redraw of the page."""

    status: RunStatus
    phase: str = "model"  # "model" or "baseline"
    step: int = 0
    total: int = 0
    steps_per_sec: float = 0.0
    elapsed: float = 0.0
    message: str = ""
    history: History | None = None
    baseline_history: History | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    queue_place: int = 0  # 1 = next to start; 0 when not queued
    runs_going: int = 0  # runs training on the server now (shown to a queued student)

    @property
    def fraction(self) -> float:
        return 0.0 if self.total == 0 else min(1.0, self.step / self.total)

    @property
    def done(self) -> bool:
        return self.status not in (RunStatus.IDLE, RunStatus.QUEUED, RunStatus.RUNNING)


class RunSlots:
    """The server's cap on runs training at once, with a first-come queue for the rest.

    ``capacity`` None reads ``RAGVIZ_MAX_RUNS`` at every admission, so an administrator's
    change applies to the next run.
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.fixed_capacity = capacity
        self._cond = threading.Condition()
        self._running: list[object] = []
        self._waiting: list[object] = []

    @property
    def capacity(self) -> int:
        return self.fixed_capacity if self.fixed_capacity is not None else get_limits().max_runs

    def join(self, run: object) -> None:
        """Put ``run`` at the end of the queue."""
        with self._cond:
            self._waiting.append(run)
            self._admit()

    def _admit(self) -> None:
        while self._waiting and len(self._running) < self.capacity:
            self._running.append(self._waiting.pop(0))
        self._cond.notify_all()

    def wait_turn(self, run: object, stop: Any) -> bool:
        """Block until ``run`` holds a slot (True) or ``stop.is_set()`` (False: it left the queue)."""
        with self._cond:
            while run not in self._running:
                if stop.is_set():
                    if run in self._waiting:
                        self._waiting.remove(run)
                    self._admit()
                    return False
                self._cond.wait(QUEUE_POLL_S)
            return True

    def leave(self, run: object) -> None:
        """Free ``run``'s slot (or its place in the queue); the next in line starts."""
        with self._cond:
            if run in self._running:
                self._running.remove(run)
            if run in self._waiting:
                self._waiting.remove(run)
            self._admit()

    def place(self, run: object) -> int:
        """``run``'s place in the queue (1 = next), or 0 when it is not waiting."""
        with self._cond:
            return self._waiting.index(run) + 1 if run in self._waiting else 0

    def running(self) -> int:
        with self._cond:
            return len(self._running)


#: The one queue of this server process.
SLOTS = RunSlots()


class TrainingRun:
    """One training run, optionally followed by a baseline on the same data."""

    def __init__(self, project: Project, baseline: str | None = None, heartbeat_timeout: float | None = None,
                 slots: RunSlots | None = None, probe: Probe | None = None) -> None:
        self.project = project.copy()
        self.baseline = baseline
        limits = get_limits()
        # Default: RAGVIZ_HEARTBEAT_S (90 s), so a server can reclaim abandoned runs sooner.
        self.heartbeat_timeout = limits.heartbeat_s if heartbeat_timeout is None else heartbeat_timeout
        self.liveness = Liveness(self.heartbeat_timeout, probe)
        self.max_seconds = limits.max_run_seconds
        self.slots = SLOTS if slots is None else slots
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_reason = ""  # why the run stopped when it was not the user's Stop
        self._training_since: float | None = None
        self._thread: threading.Thread | None = None
        self._snap = RunSnapshot(RunStatus.IDLE)
        self._losses: list[tuple[int, float]] = []
        self.checked: Checked | None = None  # set by start()
        self.result: TrainResult | None = None
        self.baseline_result: TrainResult | None = None

    # ------------------------------------------------------------------ control
    def start(self) -> TrainingRun:
        """Check the graph and the work budget here (errors reach the caller), then queue the run."""
        project = self.project
        check_steps(project.train_config.steps)
        self.checked = check_work(project.graph, project.model_config, project.tables,  # trained without a recheck
                                  models=self.models_trained())
        with self._lock:
            self._snap = replace(self._snap, status=RunStatus.QUEUED)
        self.slots.join(self)
        self._thread = threading.Thread(target=self._work, name="ragviz-train", daemon=True)
        self._thread.start()
        return self

    def models_trained(self) -> int:
        """How many models this run trains at once, for the work budget (an ensemble: its K)."""
        return 1

    def stop(self) -> None:
        self._stop.set()

    def halt(self, reason: str) -> None:
        """Stop for a reason that is not the user's (the tab gone, a class's cap); the message says it."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    def explain(self, message: str) -> str:
        """A stopped run's message with the real reason in place of 'Stopped by the user'."""
        if self._stop_reason and message.startswith("Stopped by the user"):
            return self._stop_reason + message[len("Stopped by the user"):]
        return message

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> RunSnapshot:
        """Copy the state under the lock; without a session probe, polling also counts as a heartbeat."""
        place = self.slots.place(self)
        going = self.slots.running() if place else 0
        self.liveness.polled()
        with self._lock:
            snap = self._snap
            status = snap.status if not (snap.status == RunStatus.QUEUED and not place) else RunStatus.RUNNING
            return replace(snap, status=status, losses=list(self._losses), queue_place=place, runs_going=going)

    # ------------------------------------------------------------------- worker
    def _stop_flag(self) -> _StopFlag:
        return _StopFlag(self)

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._snap = replace(self._snap, **changes)

    def _callback(self, phase: str):
        def report(progress: Progress) -> None:
            copied = progress.history.shared_copy() if progress.history is not None else None
            changes: dict[str, Any] = {
                "phase": phase, "step": progress.step, "total": progress.total, "elapsed": progress.elapsed,
                "steps_per_sec": progress.step / progress.elapsed if progress.elapsed > 0 else 0.0,
            }
            if copied is not None:
                changes["history" if phase == "model" else "baseline_history"] = copied
            with self._lock:
                self._snap = replace(self._snap, **changes)
                if progress.loss is not None and phase == "model":
                    self._losses.append((progress.step, progress.loss))
        return report

    def _work(self) -> None:
        try:
            if not self.slots.wait_turn(self, self._stop_flag()):
                why = f"{self._stop_reason}: it left" if self._stop_reason else "Left"
                self._set(status=RunStatus.STOPPED, message=f"{why} the queue before training began: nothing was "
                                                            "trained.")
                return
            self._training_since = time.monotonic()
            self._set(status=RunStatus.RUNNING)
            self._train()
        except Stopped as err:
            self._set(status=RunStatus.STOPPED, message=self.explain(str(err)))
        except RagvizError as err:
            self._set(status=RunStatus.ERROR, message=str(err))
        except Exception as err:  # a worker must never die silently
            traceback.print_exc()
            self._set(status=RunStatus.ERROR, message=f"Training failed unexpectedly: {type(err).__name__}: {err}")
        finally:
            self.slots.leave(self)

    def _train(self) -> None:
        outcome = self._execute(train_with_baseline, self.project, self.baseline, self.checked)
        self.result, self.baseline_result = outcome.result, outcome.baseline_result
        with self._lock:
            baseline_history = outcome.baseline_result.history if outcome.baseline_result is not None else None
            self._snap = replace(self._snap, status=outcome.status, message=self.explain(outcome.message),
                                 history=outcome.result.history,
                                 baseline_history=baseline_history or self._snap.baseline_history)

    def _execute(self, fn: Any, *args: Any) -> Any:
        """``fn(*args, report=..., stop=...)`` here, or in a child process for a big graph
        (:mod:`ragviz.training.train_process`): same numbers, but pages never wait on its GIL."""
        if use_process(self.project.graph.number_of_tasks()):
            return run_in_child(Job(fn, args, torch.get_num_threads()), self._callback, self._stop_flag())
        return fn(*args, report=self._callback, stop=self._stop_flag())


@dataclass
class RunOutcome:
    """A run's models and how it ended (the baseline's result is None when there was none)."""

    result: TrainResult
    baseline_result: TrainResult | None
    status: RunStatus
    message: str


def train_with_baseline(project: Project, baseline: str | None, checked: Checked | None = None, *, report: Any,
                        stop: Any) -> RunOutcome:
    """Train ``project``'s RAG, then, when it finished, the baseline on the same data.

    ``checked``: the project already checked (:func:`~ragviz.training.prepared.check_work`) when the run
    started. Module-level and free of the run object, so a child process can run it too.
    """
    result = train(project.graph if checked is None else checked, project.model_config, project.train_config,
                   project.tables, callback=report("model"), stop=stop)
    message, status, base = result.message, RunStatus(result.status), None
    if baseline and result.status == "finished":
        try:
            config, edges = baseline_setup(baseline, project.model_config, project.graph, project.train_config.seed)
            base = train(project.graph, config, project.train_config, project.tables,
                         callback=report("baseline"), stop=stop, edges=edges)
        except Stopped:
            message += f" The baseline ({baseline}) was stopped before it trained."
            status = RunStatus.STOPPED
        except RagvizError as err:  # the model trained and stays usable; the error is what the page shows
            message, status = str(err), RunStatus.ERROR
        else:
            message += f" Baseline ({baseline}): {base.message}"
            status = RunStatus(base.status)
    return RunOutcome(result, base, status, message)


def check_steps(steps: int) -> None:
    """Refuse a run longer than the class's cap (``RAGVIZ_MAX_STEPS``) before it queues."""
    cap = get_limits().max_steps
    if steps > cap:
        raise ConfigError(f"This run asks for {steps:,} steps; this server's limit is {cap:,} steps per run. Use "
                          "fewer steps. (The server's administrator can change it with RAGVIZ_MAX_STEPS.)")


class _StopFlag:
    """Set by the user's Stop, when the run's session is gone (:class:`Liveness`), or at the class's time cap.

    The loop asks it every step and between chunks of work (a child process's relay, every
    :data:`ragviz.training.train_process.POLL_S`).
    """

    def __init__(self, run: TrainingRun) -> None:
        self.run = run

    def is_set(self) -> bool:
        run = self.run
        if run._stop.is_set():
            return True
        if run.liveness.gone():
            run.halt(f"Stopped because its tab was closed (away over {run.heartbeat_timeout:g} s)")
        elif run._training_since is not None and time.monotonic() - run._training_since > run.max_seconds:
            run.halt(f"Stopped at this server's limit of {run.max_seconds:g} s per run (RAGVIZ_MAX_RUN_SECONDS)")
        return run._stop.is_set()
