"""Training in a worker thread that never calls Streamlit (DESIGN section 3).

The page starts a :class:`TrainingRun`, then polls :meth:`TrainingRun.snapshot` from a
fragment. All shared state sits behind one lock; the worker copies the live history only
at evaluations, so reporting costs almost nothing per step. A run also stops by itself
when nobody has polled it for ``heartbeat_timeout`` seconds (its browser tab is gone).
"""

from __future__ import annotations

import copy
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from ragviz.ablations import ablation_setup
from ragviz.errors import RagvizError
from ragviz.limits import get_limits
from ragviz.project import Project
from ragviz.train import History, Progress, TrainResult, train


@dataclass
class RunSnapshot:
    """A consistent copy of a run's state for one redraw of the page."""

    status: str  # "idle" | "running" | "finished" | "stopped" | "diverged" | "error"
    phase: str  # "model" or "baseline"
    step: int
    total: int
    steps_per_sec: float
    elapsed: float
    message: str
    history: History | None
    baseline_history: History | None
    losses: list[tuple[int, float]] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return 0.0 if self.total == 0 else min(1.0, self.step / self.total)

    @property
    def done(self) -> bool:
        return self.status not in ("idle", "running")


class TrainingRun:
    """One training run, optionally followed by a baseline on the same data."""

    def __init__(self, project: Project, baseline: str | None = None, heartbeat_timeout: float | None = None) -> None:
        self.project = project.copy()
        self.baseline = baseline
        # Default: RAGVIZ_HEARTBEAT_S (90 s), so a server can reclaim abandoned runs sooner.
        self.heartbeat_timeout = get_limits().heartbeat_s if heartbeat_timeout is None else heartbeat_timeout
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_poll = time.monotonic()
        self._state: dict[str, Any] = {
            "status": "idle", "phase": "model", "step": 0, "total": 0, "elapsed": 0.0, "rate": 0.0,
            "message": "", "history": None, "baseline_history": None, "losses": [],
        }
        self.result: TrainResult | None = None
        self.baseline_result: TrainResult | None = None

    # ------------------------------------------------------------------ control
    def start(self) -> TrainingRun:
        self.project.graph.validate()
        with self._lock:
            self._state["status"] = "running"
        self._thread = threading.Thread(target=self._work, name="ragviz-train", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def snapshot(self) -> RunSnapshot:
        """Copy the state under the lock; polling also counts as a heartbeat."""
        with self._lock:
            self._last_poll = time.monotonic()
            s = self._state
            return RunSnapshot(s["status"], s["phase"], s["step"], s["total"], s["rate"], s["elapsed"],
                               s["message"], s["history"], s["baseline_history"], list(s["losses"]))

    # ------------------------------------------------------------------- worker
    def _stop_flag(self) -> _StopFlag:
        return _StopFlag(self)

    def _callback(self, phase: str):
        def report(progress: Progress) -> None:
            copied = copy.deepcopy(progress.history) if progress.history is not None else None
            with self._lock:
                s = self._state
                s["phase"], s["step"], s["total"], s["elapsed"] = phase, progress.step, progress.total, progress.elapsed
                s["rate"] = progress.step / progress.elapsed if progress.elapsed > 0 else 0.0
                if copied is not None:
                    s["history" if phase == "model" else "baseline_history"] = copied
                if progress.loss is not None and phase == "model":
                    s["losses"].append((progress.step, progress.loss))
        return report

    def _work(self) -> None:
        project = self.project
        try:
            result = train(project.graph, project.model_config, project.train_config, project.tables,
                           callback=self._callback("model"), stop=self._stop_flag())
            self.result = result
            message = result.message
            if self.baseline and result.status == "finished":
                config, edges = ablation_setup(self.baseline, project.model_config, project.graph,
                                               project.train_config.seed)
                base = train(project.graph, config, project.train_config, project.tables,
                             callback=self._callback("baseline"), stop=self._stop_flag(), edges=edges)
                self.baseline_result = base
                message += f" Baseline ({self.baseline}): {base.message}"
                status = base.status if base.status != "finished" else "finished"
            else:
                status = result.status
            with self._lock:
                self._state["status"], self._state["message"] = status, message
                self._state["history"] = result.history
                if self.baseline_result is not None:
                    self._state["baseline_history"] = self.baseline_result.history
        except RagvizError as err:
            with self._lock:
                self._state["status"], self._state["message"] = "error", str(err)
        except Exception as err:  # a worker must never die silently
            traceback.print_exc()
            with self._lock:
                self._state["status"] = "error"
                self._state["message"] = f"Training failed unexpectedly: {type(err).__name__}: {err}"


class _StopFlag:
    """Set by the user's Stop, or when the page has stopped polling (tab closed)."""

    def __init__(self, run: TrainingRun) -> None:
        self.run = run

    def is_set(self) -> bool:
        if self.run._stop.is_set():
            return True
        if time.monotonic() - self.run._last_poll > self.run.heartbeat_timeout:
            self.run._stop.set()
            return True
        return False
