"""A task graph as two tables: the columns, shared by the CSV files and the app's Tables tab.

One row per task (its fields, then one ``param:<name>`` column per parameter) and one row per
edge (with its relation's direction and colour). :mod:`ragviz.graph.csv_files` writes and reads
these as files; :mod:`ragviz.graph.selection` shows them as editable tables, which add a hidden
row id and a read-only ``zero_shot`` column. The reading rules every graph format shares
(:func:`reading`, :func:`as_text`) live here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edge, Task
from ragviz.safety.errors import GraphError, RagvizError

NODE_COLUMNS: tuple[str, ...] = ("name", "family", "train_size", "test_size", "seed", "x", "y")
REQUIRED_NODE_COLUMNS: tuple[str, ...] = NODE_COLUMNS[:5]
EDGE_COLUMNS: tuple[str, ...] = ("source", "target", "relation", "weight", "directed", "color")
REQUIRED_EDGE_COLUMNS: tuple[str, ...] = ("source", "target", "relation")
#: Shown beside the task columns, never read back: a task is zero-shot when its train size is 0.
ZERO_SHOT_COLUMN = "zero_shot"
PARAM_PREFIX = "param:"


def param_column(key: str) -> str:
    return PARAM_PREFIX + key


def param_key(column: str) -> str | None:
    """The parameter a column holds, or None when it is not a parameter column."""
    column = str(column)
    return column[len(PARAM_PREFIX):] if column.startswith(PARAM_PREFIX) and len(column) > len(PARAM_PREFIX) else None


def task_row(task: Task) -> dict[str, Any]:
    """A task's :data:`NODE_COLUMNS` (x and y None when it has no position)."""
    x, y = task.pos if task.pos is not None else (None, None)
    return {"name": task.name, "family": task.family, "train_size": task.train_size, "test_size": task.test_size,
            "seed": task.seed, "x": x, "y": y}


def edge_row(graph: TaskGraph, edge: Edge) -> dict[str, Any]:
    """An edge's :data:`EDGE_COLUMNS`: its relation's direction and colour travel with it."""
    relation = graph.relations.get(edge.relation)
    return {"source": edge.source, "target": edge.target, "relation": edge.relation, "weight": float(edge.weight),
            "directed": relation.directed if relation is not None else False,
            "color": relation.color if relation is not None else ""}


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Let GraphErrors through and turn anything else a parser throws into one."""
    try:
        yield
    except RagvizError:
        raise
    except RecursionError:
        raise GraphError(f"The {what} is nested too deeply to read.") from None
    except Exception as exc:  # noqa: BLE001 - a stranger's file must never surface a raw traceback
        raise GraphError(f"The {what} could not be read: {type(exc).__name__}: {exc}") from None


def as_text(data: str | bytes, what: str) -> str:
    """A file's text (UTF-8, a byte-order mark dropped), or a GraphError saying why not."""
    if isinstance(data, str):
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise GraphError(f"The {what} must be text or bytes, got {type(data).__name__}.")
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GraphError(f"The {what} is not UTF-8 text (bad byte at position {exc.start}).") from None
