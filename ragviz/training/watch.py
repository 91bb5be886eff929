"""Reading a training history as it grows: best step against last, zero-shot getting worse, runs compared.

Pure (no Streamlit), so the Train page's warnings are tested on hand-made histories. Means are
over tasks with a finite test metric at that evaluation, like :meth:`History.summary`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ragviz.training.history import History

#: A zero-shot mean this much worse than its best counts as getting worse (accuracy: points; MSE: ratio).
ACCURACY_DROP = 0.03
MSE_RISE = 0.10


def lower_is_better(metric: str) -> bool:
    return metric != "accuracy"


def group_means(history: History, zero_shot: bool) -> np.ndarray:
    """The mean test metric over seen (or zero-shot) tasks at each evaluation; NaN where none is finite."""
    zero = set(history.zero_shot)
    idx = [i for i, t in enumerate(history.tasks) if (t in zero) == zero_shot]
    if not history.test_metric or not idx:
        return np.full(len(history.test_metric), np.nan)
    values = np.asarray(history.test_metric, dtype=float)[:, idx]
    finite = np.isfinite(values)
    sums = np.where(finite, values, 0.0).sum(axis=1)
    counts = finite.sum(axis=1)
    with np.errstate(all="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


@dataclass(frozen=True)
class BestAndLast:
    """One group's best evaluation and its last one."""

    group: str  # "seen" or "zero-shot"
    metric: str
    best_step: int
    best: float
    last_step: int
    last: float

    @property
    def best_is_last(self) -> bool:
        return self.best_step == self.last_step


def best_and_last(history: History, zero_shot: bool) -> BestAndLast | None:
    """The best and the last mean test metric of one group, or None when it has no finite value."""
    means = group_means(history, zero_shot)
    finite = np.flatnonzero(np.isfinite(means))
    if finite.size == 0:
        return None
    values = means[finite]
    pick = int(finite[np.argmin(values) if lower_is_better(history.metric) else np.argmax(values)])
    last = int(finite[-1])
    return BestAndLast("zero-shot" if zero_shot else "seen", history.metric, int(history.steps[pick]),
                       float(means[pick]), int(history.steps[last]), float(means[last]))


def worse_by(metric: str, best: float, now: float) -> bool:
    """Whether ``now`` is clearly worse than ``best`` (beyond the noise tolerance of the metric)."""
    if not (math.isfinite(best) and math.isfinite(now)):
        return False
    if lower_is_better(metric):
        return now > best * (1 + MSE_RISE) + 1e-12
    return now < best - ACCURACY_DROP


def zero_shot_decline(history: History) -> BestAndLast | None:
    """The zero-shot tasks' best and last when their metric has clearly got worse since its best, else None.

    This is the sign that training longer is now fitting the seen tasks at the zero-shot tasks' cost.
    """
    report = best_and_last(history, zero_shot=True)
    if report is None or report.best_is_last or not worse_by(history.metric, report.best, report.last):
        return None
    return report


def worse_groups(previous: History, new: History) -> list[str]:
    """The groups ("seen", "zero-shot") whose final mean test metric ``new`` made clearly worse.

    Compare only histories of the same tasks (the same graph, so the same test points).
    """
    if previous.tasks != new.tasks or previous.metric != new.metric:
        return []
    before, after = previous.summary(), new.summary()
    return [label for key, label in (("seen", "seen"), ("zero_shot", "zero-shot"))
            if worse_by(new.metric, before[key], after[key])]


def history_until(history: History, step: int) -> History:
    """The history as it stood at ``step``: evaluations and snapshots up to it (for replaying a run)."""
    n = sum(1 for s in history.steps if s <= step)
    k = sum(1 for s in history.snapshot_steps if s <= step)
    cut = history.shared_copy()
    for name in ("steps", "wall_time", "train_loss", "test_loss", "train_metric", "test_metric"):
        setattr(cut, name, getattr(cut, name)[:n])
    cut.step_loss = cut.step_loss[:max(0, n - 1)]  # one loss per evaluation after step 0
    cut.snapshot_steps, cut.snapshots = cut.snapshot_steps[:k], cut.snapshots[:k]
    return cut


def format_value(value: float, metric: str) -> str:
    if not math.isfinite(value):
        return "—"
    return f"{value:.1%}" if metric == "accuracy" else f"{value:.4g}"


def best_line(report: BestAndLast) -> str:
    """'zero-shot: best 81.0% at step 240 · last 74.2% at step 500' (or 'best and last' when they are one)."""
    name = "accuracy" if report.metric == "accuracy" else "MSE"
    best = format_value(report.best, report.metric)
    if report.best_is_last:
        return f"{report.group} {name}: best and last {best} at step {report.last_step:,}"
    return (f"{report.group} {name}: best {best} at step {report.best_step:,} · last "
            f"{format_value(report.last, report.metric)} at step {report.last_step:,}")
