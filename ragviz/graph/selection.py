"""Selections on the task graph and table edits, as pure functions the page only wires up.

Streamlit hands the page a Plotly selection event and ``st.data_editor`` hands it an
edited table; turning those into a selection or a new :class:`TaskGraph` happens here,
so it is tested without a browser. Graph edits always work on a copy: the graph passed
in is never changed, and a refused edit raises :class:`GraphError` naming the row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ragviz.graph.schema import (
    EDGE_COLUMNS,
    NODE_COLUMNS,
    ZERO_SHOT_COLUMN,
    edge_row,
    param_column,
    param_key,
    task_row,
)
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Task, make_task
from ragviz.safety.errors import GraphError

MAX_SELECTED = 2
#: Hidden column holding each row's original identity, so renames and deletions map back.
ROW_ID = "_id"
_EDGE_SEP = "\x1f"


# --------------------------------------------------------------------------- selection
def _points(event: Any) -> list[Mapping[str, Any]]:
    """The clicked points of a Streamlit Plotly event (or of its ``selection`` part)."""
    if not isinstance(event, Mapping):
        return []
    selection = event.get("selection", event)
    if not isinstance(selection, Mapping):
        return []
    points = selection.get("points") or []
    return [p for p in points if isinstance(p, Mapping)]


def point_tasks(point: Mapping[str, Any], edges: bool = True) -> list[str]:
    """Task names a clicked point stands for: a task node, or (``edges``) both ends of an edge marker.

    Node traces carry the task name as ``customdata``; edge markers carry
    ``["edge", source, target, relation]``. Anything else (no customdata) is ignored.
    """
    data = point.get("customdata")
    if isinstance(data, str):
        return [data]
    if isinstance(data, (list, tuple)) and data:
        if data[0] == "edge" and len(data) >= 3:
            return [str(data[1]), str(data[2])] if edges else []
        if isinstance(data[0], str):
            return [data[0]]
    return []


def event_tasks(event: Any, edges: bool = True) -> list[str]:
    """Every task named by an event's points, in point order, without repeats.

    With ``edges=False`` only clicked task nodes count: what the chart itself shows as selected.
    """
    names: list[str] = []
    for point in _points(event):
        for name in point_tasks(point, edges):
            if name not in names:
                names.append(name)
    return names


def selected_tasks(event: Any, previous: Iterable[str]) -> list[str]:
    """The new ordered selection (at most two tasks) after a chart selection event.

    Plotly reports the whole current selection, not the last click: a plain click gives
    one point, a shift-click gives the earlier point(s) plus the new one. Tasks kept from
    ``previous`` keep their order and new ones go last, so the second task clicked is
    second; beyond two, the oldest drops out.
    """
    now = event_tasks(event)
    kept = [name for name in previous if name in now]
    ordered = kept + [name for name in now if name not in kept]
    return ordered[-MAX_SELECTED:]


# --------------------------------------------------------------------------- tables
def _param_keys(tasks: list[Task]) -> list[str]:
    keys: list[str] = []
    for task in tasks:
        for key in task.full_params():
            if key not in keys:
                keys.append(key)
    return keys


def node_table(graph: TaskGraph) -> pd.DataFrame:
    """One row per task: the schema's columns (:mod:`ragviz.graph.schema`), zero-shot, hidden id."""
    tasks = graph.tasks()
    keys = _param_keys(tasks)
    rows = []
    for task in tasks:
        row: dict[str, Any] = {ROW_ID: task.name, **task_row(task), ZERO_SHOT_COLUMN: task.zero_shot}
        full = task.full_params()
        for key in keys:
            row[param_column(key)] = full.get(key)
        rows.append(row)
    columns = [ROW_ID, *NODE_COLUMNS, ZERO_SHOT_COLUMN, *(param_column(k) for k in keys)]
    table = pd.DataFrame(rows, columns=columns)
    for column in ("train_size", "test_size", "seed"):
        table[column] = table[column].astype("int64")
    for column in ("x", "y"):
        table[column] = table[column].astype("float64")
    return table


def edge_table(graph: TaskGraph) -> pd.DataFrame:
    """One row per edge in the schema's columns (the relation's direction and colour) plus a hidden id."""
    rows = [{ROW_ID: _EDGE_SEP.join((e.source, e.target, e.relation)), **edge_row(graph, e)} for e in graph.edges()]
    table = pd.DataFrame(rows, columns=[ROW_ID, *EDGE_COLUMNS])
    table["weight"] = table["weight"].astype("float64")
    return table


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    try:
        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    """A table cell as a plain Python value: numpy scalars unwrapped, numeric text parsed."""
    if _missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, str):
        return text_value(value)
    return value


def text_value(text: str) -> Any:
    """Typed text as the value it spells: true/false, a whole number, a number, or the text itself."""
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _same(a: Any, b: Any) -> bool:
    a, b = _plain(a), _plain(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def _row_label(position: int, row: Mapping[str, Any], what: str) -> str:
    name = row.get("name") if what == "Task" else None
    shown = f" ('{_plain(name)}')" if name is not None and not _missing(name) else ""
    return f"{what} table row {position}{shown}"


def _check_columns(table: pd.DataFrame, needed: Iterable[str], what: str) -> None:
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise GraphError(f"The {what} table has no column {', '.join(repr(c) for c in missing)}.")


def _row_params(row: Mapping[str, Any], old: Task | None, columns: list[str]) -> dict[str, Any]:
    """New params: the old task's own params, with the cells that changed written over them.

    Cells equal to the old full value are left alone (so defaults do not get copied into
    every task); a cleared cell removes the parameter, falling back to the family default.
    """
    params = dict(old.params) if old is not None else {}
    full = old.full_params() if old is not None else {}
    for column in columns:
        key = param_key(column)
        value = _plain(row.get(column))
        if value is None:
            params.pop(key, None)
        elif old is None or not _same(value, full.get(key)):
            params[key] = _like(value, full.get(key))
    return params


def _like(value: Any, reference: Any) -> Any:
    """Keep a parameter's type: a table turns ints into floats when a column has gaps."""
    if isinstance(reference, bool) and isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(reference, int) and not isinstance(reference, bool) and isinstance(value, float) \
            and value.is_integer():
        return int(value)
    return value


def _row_pos(row: Mapping[str, Any], old: Task | None) -> Any:
    x, y = _plain(row.get("x")), _plain(row.get("y"))
    if x is None and y is None:
        return old.pos if old is not None else None
    if x is None or y is None:
        raise GraphError("give both x and y, or neither")
    return (x, y)


def _task_from_row(row: Mapping[str, Any], old: Task | None, param_columns: list[str], default_family: str | None,
                   label: str) -> Task:
    """Build the row's task, or raise with the row named."""
    try:
        family = _plain(row.get("family")) or (old.family if old else default_family)
        if family is None:
            raise GraphError("choose a data family")
        size = {k: _plain(row.get(k)) for k in ("train_size", "test_size", "seed")}
        defaults = {"train_size": 40, "test_size": 100, "seed": 0} if old is None else \
            {"train_size": old.train_size, "test_size": old.test_size, "seed": old.seed}
        size = {k: defaults[k] if v is None else v for k, v in size.items()}
        name = _plain(row.get("name"))
        return make_task(str(name) if name is not None else "", str(family), _row_params(row, old, param_columns),
                         size["train_size"], size["test_size"], size["seed"], _row_pos(row, old))
    except GraphError as err:
        raise GraphError(f"{label}: {err}") from None


def apply_node_table(graph: TaskGraph, edited: pd.DataFrame) -> TaskGraph:
    """A new graph with the node table's edits: renames, field changes, added and deleted rows.

    Rows carry their original task name in the hidden ``_id`` column; a row without one
    is new (rows left entirely blank are ignored, since the editor adds empty rows).
    Deleting a task that still has edges is refused: delete its edges first.
    """
    _check_columns(edited, ("name",), "task")
    new = graph.copy()
    originals = set(graph.task_names())
    param_columns = [c for c in edited.columns if param_key(c) is not None]
    default_family = next(iter(t.family for t in graph.tasks()), None)
    rows = [(i + 1, dict(row)) for i, (_, row) in enumerate(edited.iterrows())]
    kept_ids = {_plain(r.get(ROW_ID)) for _, r in rows} & originals
    existing, added = [], []
    for position, row in rows:
        row_id = _plain(row.get(ROW_ID))
        if row_id in originals:
            existing.append((position, row, row_id))
        elif any(not _missing(row.get(c)) for c in row if c not in (ROW_ID, ZERO_SHOT_COLUMN)):
            added.append((position, row))
    _check_unique_names(existing, added)
    for name in originals - kept_ids:
        try:
            new.remove_task(name, with_edges=False)
        except GraphError as err:
            raise GraphError(f"Deleting task '{name}' from the table: {err}") from None
    _apply_task_rows(new, graph, existing, param_columns)
    for position, row in added:
        label = _row_label(position, row, "Task")
        task = _task_from_row(row, None, param_columns, default_family, label)
        try:
            new.add_task(task)
        except GraphError as err:
            raise GraphError(f"{label}: {err}") from None
    return new


def _check_unique_names(existing: list[tuple[int, dict, str]], added: list[tuple[int, dict]]) -> None:
    seen: dict[str, int] = {}
    for position, row, *_ in [*existing, *added]:
        name = _plain(row.get("name"))
        if name is None:
            raise GraphError(f"Task table row {position}: a task name cannot be empty.")
        name = str(name).strip()
        if name in seen:
            raise GraphError(f"Task table row {position}: a task named '{name}' already exists (row {seen[name]}).")
        seen[name] = position


def _apply_task_rows(new: TaskGraph, old_graph: TaskGraph, existing: list[tuple[int, dict, str]],
                     param_columns: list[str]) -> None:
    """Renames (through temporary names, so two tasks may swap names) then field changes."""
    changed = []
    for position, row, old_name in existing:
        old = old_graph.task(old_name)
        label = _row_label(position, row, "Task")
        task = _task_from_row(row, old, param_columns, old.family, label)
        if task != old:
            changed.append((label, old_name, task))
    renamed = [(label, old_name, task) for label, old_name, task in changed if task.name != old_name]
    taken = set(new.task_names()) | {task.name for _, _, task in changed}
    temporary = [_free_name(f"renaming {i}", taken) for i in range(len(renamed))]
    for (_, old_name, _), temp in zip(renamed, temporary, strict=True):
        new.rename_task(old_name, temp)
    for (label, _, task), temp in zip(renamed, temporary, strict=True):
        try:
            new.rename_task(temp, task.name)
        except GraphError as err:
            raise GraphError(f"{label}: {err}") from None
    for label, _, task in changed:
        fields = task.to_dict()
        del fields["name"]
        try:
            new.update_task(task.name, **fields)
        except GraphError as err:
            raise GraphError(f"{label}: {err}") from None


def _free_name(stem: str, taken: set[str]) -> str:
    name, k = stem, 0
    while name in taken:
        k += 1
        name = f"{stem} ({k})"
    taken.add(name)
    return name


def _edge_id(value: Any) -> tuple[str, str, str] | None:
    value = _plain(value)
    if not isinstance(value, str) or value.count(_EDGE_SEP) != 2:
        return None
    source, target, relation = value.split(_EDGE_SEP)
    return source, target, relation


def _edge_fields(row: Mapping[str, Any], label: str) -> tuple[str, str, str, Any]:
    values = {k: _plain(row.get(k)) for k in ("source", "target", "relation")}
    empty = [k for k, v in values.items() if v is None]
    if empty:
        raise GraphError(f"{label}: fill in {', '.join(empty)}.")
    weight = _plain(row.get("weight"))
    return str(values["source"]), str(values["target"]), str(values["relation"]), 1.0 if weight is None else weight


def apply_edge_table(graph: TaskGraph, edited: pd.DataFrame) -> TaskGraph:
    """A new graph with the edge table's edits: changed ends/relation/weight, added and deleted rows.

    Removals happen before additions, so an edge can be re-pointed or two rows swapped.
    """
    _check_columns(edited, ("source", "target", "relation"), "edge")
    new = graph.copy()
    originals = {(e.source, e.target, e.relation): e for e in graph.edges()}
    rows = [(i + 1, dict(row)) for i, (_, row) in enumerate(edited.iterrows())]
    kept: set[tuple[str, str, str]] = set()
    additions: list[tuple[str, tuple[str, str, str, Any]]] = []
    for position, row in rows:
        row_id = _edge_id(row.get(ROW_ID))
        label = f"Edge table row {position}"
        if row_id is None or row_id not in originals:
            if any(not _missing(row.get(c)) for c in ("source", "target", "relation")):
                additions.append((label, _edge_fields(row, label)))
            continue
        kept.add(row_id)
        source, target, relation, weight = _edge_fields(row, label)
        if (source, target, relation) != row_id:
            new.remove_edge(*row_id)
            additions.append((label, (source, target, relation, weight)))
        elif not _same(weight, originals[row_id].weight):
            try:
                new.set_edge_weight(source, target, relation, weight)
            except GraphError as err:
                raise GraphError(f"{label}: {err}") from None
    for row_id in originals.keys() - kept:
        new.remove_edge(*row_id)
    for label, fields in additions:
        try:
            new.add_edge(*fields)
        except GraphError as err:
            raise GraphError(f"{label}: {err}") from None
    return new
