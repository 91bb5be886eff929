"""Training an ensemble in a worker thread that never calls Streamlit, like :class:`ragviz.runner.TrainingRun`.

The page starts an :class:`EnsembleRun` and polls :meth:`EnsembleRun.snapshot` from a
fragment; polling is the heartbeat, so a run nobody watches (its tab closed) stops itself.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass

from ragviz.ensemble import DEFAULT_K, Ensemble, train_ensemble
from ragviz.errors import RagvizError
from ragviz.limits import get_limits
from ragviz.project import Project
from ragviz.train import Progress


@dataclass
class EnsembleSnapshot:
    status: str  # "running" | "finished" | "stopped" | "diverged" | "error"
    step: int
    total: int
    elapsed: float
    message: str

    @property
    def fraction(self) -> float:
        return 0.0 if self.total == 0 else min(1.0, self.step / self.total)

    @property
    def done(self) -> bool:
        return self.status != "running"


class EnsembleRun:
    """``train_ensemble`` on a copy of a project (its graph, configs, seed and tables) in a daemon thread."""

    def __init__(self, project: Project, k: int = DEFAULT_K, heartbeat_timeout: float | None = None) -> None:
        self.project = project.copy()
        self.k = k
        self.heartbeat_timeout = get_limits().heartbeat_s if heartbeat_timeout is None else heartbeat_timeout
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_poll = time.monotonic()
        self._state = {"status": "running", "step": 0, "total": self.project.train_config.steps, "elapsed": 0.0,
                       "message": ""}
        self.ensemble: Ensemble | None = None

    def start(self) -> EnsembleRun:
        self.project.graph.validate()
        self._thread = threading.Thread(target=self._work, name="ragviz-ensemble", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def is_set(self) -> bool:
        """The stop flag ``train_ensemble`` checks: set by :meth:`stop` or when nobody polls any more."""
        if not self._stop.is_set() and time.monotonic() - self._last_poll > self.heartbeat_timeout:
            self._stop.set()
        return self._stop.is_set()

    def snapshot(self) -> EnsembleSnapshot:
        with self._lock:
            self._last_poll = time.monotonic()
            return EnsembleSnapshot(**self._state)

    def _progress(self, progress: Progress) -> None:
        with self._lock:
            self._state.update(step=progress.step, total=progress.total, elapsed=progress.elapsed)

    def _work(self) -> None:
        p = self.project
        try:
            ensemble = train_ensemble(p.graph, p.model_config, p.train_config, k=self.k, seed=p.train_config.seed,
                                      progress=self._progress, stop=self, tables=p.tables)
            ensemble.disagreement()  # computed here, off the page's thread
            self.ensemble = ensemble
            outcome = {"status": ensemble.status, "message": ensemble.message}
        except RagvizError as err:
            outcome = {"status": "error", "message": str(err)}
        except Exception as err:  # a worker must never die silently
            traceback.print_exc()
            outcome = {"status": "error", "message": f"Training the models failed unexpectedly: "
                                                     f"{type(err).__name__}: {err}"}
        with self._lock:
            self._state.update(outcome)
