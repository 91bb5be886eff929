"""The ``csv`` family: one task per value of a user table's task column.

Reading the table is :mod:`ragviz.data.table_io`'s job.

Only these tasks depend on something outside the task, the user's table, which travels inside
the checkpoint instead; so their data is never cached.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ragviz.data.family import DataFamily, DomainSpec, Tables
from ragviz.data.task_data import TaskData, csv_params, split_sizes, task_sizes
from ragviz.safety.errors import DataError

if TYPE_CHECKING:
    from ragviz.data.table_io import TableInfo
    from ragviz.graph.tasks import Task


def _info(task: Task, tables: Tables, shared: dict[str, Any] | None) -> TableInfo:
    """The task's table, read once per graph when ``shared`` is given."""
    from ragviz.data.table_io import table_info  # pandas, only when a table is read

    name = csv_params(task)[0]
    if shared is None:
        return table_info(name, tables, task.name)
    key = f"csv:{name}"
    if key not in shared:
        shared[key] = table_info(name, tables, task.name)
    return shared[key]


class CsvTables(DataFamily):
    """Numeric user tables: classification when the target is a few whole numbers, else regression."""

    domain = "csv"
    families = {"csv": {"table": "data", "task": ""}}

    def cacheable(self, task: Task) -> bool:
        return False

    def n_classes(self, task: Task, tables: Tables = None) -> int:
        info = _info(task, tables, None)
        return 0 if info.classes is None else len(info.classes)

    def make(self, task: Task, tables: Tables = None, shared: dict[str, Any] | None = None) -> TaskData:
        """One task's rows of a user table: a seeded permutation, train first, then test.

        Sizes larger than the task's rows are shrunk by :func:`ragviz.data.task_data.split_sizes` (test
        keeps at least half the rows unless train asks for fewer).
        """
        table_name, value = csv_params(task)
        info = _info(task, tables, shared)
        rows = np.flatnonzero(info.tasks == value)
        if len(rows) == 0:
            present = sorted(set(info.tasks.tolist()))
            shown = ", ".join(f"'{t}'" for t in present[:10]) + (" …" if len(present) > 10 else "")
            raise DataError(f"Task '{task.name}': table '{table_name}' has no rows for task '{value}' "
                            f"(tasks: {shown}).")
        train, test, seed = task_sizes(task)
        train, test = split_sizes(len(rows), train, test)
        order = np.random.default_rng(seed).permutation(rows)
        idx_tr, idx_te = order[:train], order[train:train + test]
        n_classes = 0 if info.classes is None else len(info.classes)
        return TaskData(info.x[idx_tr].astype(np.float32), info.y[idx_tr], info.x[idx_te].astype(np.float32),
                        info.y[idx_te], n_classes)

    def spec(self, tasks: Sequence[Task], tables: Tables = None) -> DomainSpec:
        shared: dict[str, Any] = {}
        infos = {csv_params(t)[0]: _info(t, tables, shared) for t in tasks}
        dims = {len(i.features) for i in infos.values()}
        if len(dims) > 1:
            raise DataError(f"The graph's tables have different numbers of feature columns ({sorted(dims)}); "
                            "one encoder needs one input size.")
        kinds = {"regression" if i.classes is None else "classification" for i in infos.values()}
        if len(kinds) > 1:
            raise DataError("The graph mixes classification and regression tables; one graph uses one kind.")
        kind = kinds.pop()
        n_out = 1 if kind == "regression" else max(2, max(len(i.classes) for i in infos.values()))
        lo = min(float(i.x.min()) for i in infos.values())
        hi = max(float(i.x.max()) for i in infos.values())
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        return DomainSpec("csv", dims.pop(), n_out, kind, (lo, hi))
