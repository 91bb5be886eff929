"""What-ifs on a trained model: edit a COPY of the graph, recompute the trace, compare.

Nothing is retrained: a trained model runs on an edited graph (docs/DESIGN.md §4), so
adding an edge into a zero-shot task changes that task's embedding and hence its
generated predictor. Every function here returns a new graph and never touches the
one it was given; a refused edit raises :class:`~ragviz.safety.errors.GraphError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import make_task
from ragviz.inspection.trace import Trace
from ragviz.safety.errors import GraphError

#: Embeddings that moved less than this (relative to their size) count as unchanged (float noise).
SHIFT_TOLERANCE = 1e-5


def with_edge(graph: TaskGraph, source: str, target: str, relation: str, weight: float = 1.0) -> TaskGraph:
    """A copy of ``graph`` with one more edge."""
    edited = graph.copy()
    edited.add_edge(source, target, relation, weight)
    return edited


def without_edge(graph: TaskGraph, source: str, target: str, relation: str) -> TaskGraph:
    """A copy of ``graph`` without the ``relation`` edge between ``source`` and ``target``."""
    edited = graph.copy()
    edited.remove_edge(source, target, relation)
    return edited


def free_seed(graph: TaskGraph) -> int:
    """A data seed no task of ``graph`` uses, so a new task's test points are its own."""
    return max((t.seed for t in graph.tasks()), default=-1) + 1


def with_zero_shot_task(
    graph: TaskGraph,
    name: str,
    family: str,
    params: dict[str, Any] | None = None,
    neighbours: Iterable[str] = (),
    relation: str | None = None,
    test_size: int = 100,
    seed: int | None = None,
) -> TaskGraph:
    """A copy with a new task that has no training data, linked from each of ``neighbours`` by ``relation``.

    Its position is left unset, so drawings place it beside its neighbours.
    """
    neighbours = list(dict.fromkeys(neighbours))
    if neighbours and relation is None:
        raise GraphError("Choose the relation that links the new task to its neighbours.")
    edited = graph.copy()
    task = make_task(name, family, params, 0, test_size, free_seed(graph) if seed is None else seed)
    edited.add_task(task)
    for other in neighbours:
        edited.add_edge(other, task.name, relation)
    return edited


def _shift(before: Trace, after: Trace, name: str) -> float:
    a, b = before.embeddings[before.index(name)], after.embeddings[after.index(name)]
    return float(np.linalg.norm(a - b))


def metric_changes(before: Trace, after: Trace, only_affected: bool = False) -> pd.DataFrame:
    """Per task: metric before and after an edit, the change, and how far its embedding t_v moved.

    A task is *affected* when it is new, gone, or its embedding moved (beyond float noise):
    with L layers a task with an embedding of its own is affected only within L − 1 hops of an edited
    edge's ends (the edge's message changes its ends' states at layer 1, and each further layer spreads
    that one hop); a task without data, whose state is the fixed point of its neighbours' (the default
    propagated start and close), can be affected at any distance.
    """
    names = list(dict.fromkeys([*before.task_names, *after.task_names]))
    rows = []
    for name in names:
        in_before, in_after = name in before.task_names, name in after.task_names
        old = float(before.test_metric[before.index(name)]) if in_before else float("nan")
        new = float(after.test_metric[after.index(name)]) if in_after else float("nan")
        if in_before and in_after:
            shift = _shift(before, after, name)
            scale = max(float(np.linalg.norm(before.embeddings[before.index(name)])), 1.0)
            affected = shift > SHIFT_TOLERANCE * scale
        else:
            shift, affected = float("nan"), True
        zero = bool(after.zero_shot[after.index(name)]) if in_after else bool(before.zero_shot[before.index(name)])
        status = "new" if not in_before else "removed" if not in_after else "changed" if affected else "unchanged"
        rows.append({"task": name, "zero_shot": zero, "before": old, "after": new, "change": new - old,
                     "embedding_shift": shift, "status": status, "affected": affected})
    table = pd.DataFrame(rows, columns=["task", "zero_shot", "before", "after", "change", "embedding_shift",
                                        "status", "affected"])
    if only_affected:
        table = table[table["affected"]].reset_index(drop=True)
    return table
