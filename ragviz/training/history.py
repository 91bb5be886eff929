"""A training run's record: per-task metrics at each evaluation and layer-wise embedding snapshots.

Its own module, so the pages and checkpoints that read a history never import the trainer.
A history stays bounded while a run goes: the trainer caps how many evaluations it records,
and snapshots are thinned as they arrive (never more than a set number, and never more than
a set number of floats in all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_SNAPSHOTS = 40
#: Floats kept in snapshots at once: a big model keeps fewer snapshots rather than more memory.
SNAPSHOT_BUDGET_FLOATS = 40_000_000
#: Per-task values kept per metric (evaluations × tasks): a big graph gets fewer evaluations.
HISTORY_VALUES = 1_000_000


@dataclass
class History:
    """Per-task metrics at each evaluation, plus layer-wise embedding snapshots.

    The inner per-task lists and the snapshot arrays are never changed once recorded, so a
    :meth:`shared_copy` can hand them to another thread without copying them.
    """

    tasks: list[str]
    zero_shot: list[str]
    metric: str  # "accuracy" or "mse"
    steps: list[int] = field(default_factory=list)
    wall_time: list[float] = field(default_factory=list)
    train_loss: list[list[float]] = field(default_factory=list)
    test_loss: list[list[float]] = field(default_factory=list)
    train_metric: list[list[float]] = field(default_factory=list)
    test_metric: list[list[float]] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    snapshot_steps: list[int] = field(default_factory=list)
    snapshots: list[np.ndarray] = field(default_factory=list)  # each (L+1, N, d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; snapshots travel separately as one tensor."""
        d = {k: v for k, v in self.__dict__.items() if k != "snapshots"}
        return {k: (list(v) if isinstance(v, list) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], snapshots: np.ndarray | None = None) -> History:
        fields_ = dict(data)
        history = cls(**fields_)
        history.snapshots = [] if snapshots is None else [np.asarray(s) for s in snapshots]
        return history

    def shared_copy(self) -> History:
        """A copy whose lists are new but whose recorded items are shared (they never change).

        Costs one pointer per evaluation, not a copy of every task's numbers: what a live page
        gets at each evaluation while the run goes on appending to the original.
        """
        return History(**{k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items()})

    def add_snapshot(self, step: int, snapshot: np.ndarray, max_kept: int = MAX_SNAPSHOTS) -> None:
        """Keep ``snapshot``; past ``max_kept`` (or the float budget), drop every other older one.

        The first and the newest snapshots are always kept and the survivors stay spread over the
        run, so memory stays flat however many evaluations a run makes.
        """
        self.snapshot_steps.append(step)
        self.snapshots.append(snapshot)
        keep = snapshots_kept(snapshot.size, max_kept)
        while len(self.snapshots) > keep:
            last = len(self.snapshots) - 1
            chosen = list(range(0, last, 2)) + [last]
            self.snapshots = [self.snapshots[i] for i in chosen]
            self.snapshot_steps = [self.snapshot_steps[i] for i in chosen]

    def thin_snapshots(self, max_kept: int = MAX_SNAPSHOTS) -> None:
        """Keep at most ``max_kept`` evenly spaced snapshots (first and last always kept)."""
        k = len(self.snapshots)
        if k <= max_kept:
            return
        keep = sorted(set(np.linspace(0, k - 1, max_kept).round().astype(int).tolist()))
        self.snapshots = [self.snapshots[i] for i in keep]
        self.snapshot_steps = [self.snapshot_steps[i] for i in keep]

    def final_metrics(self) -> dict[str, float]:
        """Each task's last test metric (NaN where a task has no test points)."""
        if not self.test_metric:
            return {}
        return dict(zip(self.tasks, self.test_metric[-1], strict=False))

    def summary(self) -> dict[str, float]:
        """Mean test metric over seen and over zero-shot tasks at the last evaluation."""
        final = self.final_metrics()
        seen = [v for k, v in final.items() if k not in self.zero_shot and np.isfinite(v)]
        zero = [v for k, v in final.items() if k in self.zero_shot and np.isfinite(v)]
        return {
            "seen": float(np.mean(seen)) if seen else float("nan"),
            "zero_shot": float(np.mean(zero)) if zero else float("nan"),
        }


def snapshots_kept(floats_each: int, max_kept: int = MAX_SNAPSHOTS) -> int:
    """How many snapshots of ``floats_each`` floats a run keeps: at most ``max_kept``, at least 2."""
    return max(2, min(max_kept, SNAPSHOT_BUDGET_FLOATS // max(1, int(floats_each))))


def max_evaluations(n_tasks: int, limit: int) -> int:
    """Evaluations one run may record: ``limit``, fewer on big graphs (at least 10)."""
    return max(2, min(int(limit), max(10, HISTORY_VALUES // max(1, int(n_tasks)))))
