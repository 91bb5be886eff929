"""What every data family shares: a task's split, its validated sizes, and a csv task's table.

Kept apart from :mod:`ragviz.data.domains` so every family module uses the same rules without
importing the module that dispatches to them. The size limits live here, with the rule that uses them,
and :mod:`ragviz.graph.tasks` checks a task's sizes against the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ragviz.safety.errors import DataError

if TYPE_CHECKING:
    from ragviz.graph.tasks import Task

MAX_TASK_SIZE = 100_000
MAX_SEED = 2**32 - 1


@dataclass
class TaskData:
    """One task's train and test split."""

    x_train: np.ndarray  # (n, D) float32
    y_train: np.ndarray  # (n,) int64 for classification, float32 for regression
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int  # classes this task uses; 0 for regression


def task_sizes(task: Task) -> tuple[int, int, int]:
    """Validated (train_size, test_size, seed): a raw Task may not have gone through make_task."""
    out = []
    for what, value, high in (("train size", task.train_size, MAX_TASK_SIZE),
                              ("test size", task.test_size, MAX_TASK_SIZE), ("seed", task.seed, MAX_SEED)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= high:
            raise DataError(f"Task '{task.name}': {what} must be a whole number from 0 to {high}, got {value!r}.")
        out.append(int(value))
    return out[0], out[1], out[2]


def split_sizes(n: int, train: int, test: int) -> tuple[int, int]:
    """Fit the requested sizes into a pool of ``n`` items without overlap.

    When both fit they are used as asked. Otherwise the test split keeps what the train
    split leaves, but never less than half the pool (a score on a handful of points means
    little); train gets the rest. Zero-shot tasks (train 0) may use the whole pool for test.
    """
    if train + test <= n:
        return train, test
    test = min(test, max(n - train, n // 2))
    return min(train, n - test), test


def csv_params(task: Task) -> tuple[str, str]:
    p = task.full_params()
    table, value = p.get("table"), p.get("task")
    if not isinstance(table, str) or not table.strip():
        raise DataError(f"Task '{task.name}': parameter 'table' must name an uploaded table.")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(f"Task '{task.name}': parameter 'task' must name a value of the table's task column.")
    return table.strip(), str(value).strip()
