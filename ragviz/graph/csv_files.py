"""A task graph as two CSV files, nodes and edges, in the columns of :mod:`ragviz.graph.schema`.

A spreadsheet can write these, so the reader checks every header, row and cell and names the
line of the first problem.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ragviz.graph.schema import (
    EDGE_COLUMNS,
    NODE_COLUMNS,
    PARAM_PREFIX,
    REQUIRED_EDGE_COLUMNS,
    REQUIRED_NODE_COLUMNS,
    as_text,
    edge_row,
    param_column,
    param_key,
    reading,
    task_row,
)
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import RELATION_PALETTE, make_task
from ragviz.safety import checks
from ragviz.safety.errors import GraphError
from ragviz.safety.limits import check_budget, declared_points


def _cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def graph_to_csv(graph: TaskGraph) -> tuple[str, str]:
    """Two tables: tasks (one ``param:<name>`` column per parameter, JSON cells) and edges.

    The edges table opens with one row per relation (empty source and target) in declared
    order, so relation order and relations without edges survive the round trip.
    """
    tasks = graph.tasks()
    param_names = list(dict.fromkeys(key for task in tasks for key in task.params))
    nodes = io.StringIO()
    writer = csv.writer(nodes, lineterminator="\n")
    writer.writerow([*NODE_COLUMNS, *(param_column(k) for k in param_names)])
    for task in tasks:
        row = task_row(task)
        pos = ["", ""] if task.pos is None else [repr(float(row["x"])), repr(float(row["y"]))]
        params = [_cell(task.params[k]) if k in task.params else "" for k in param_names]
        writer.writerow([*(row[c] for c in NODE_COLUMNS if c not in ("x", "y")), *pos, *params])

    edges = io.StringIO()
    writer = csv.writer(edges, lineterminator="\n")
    writer.writerow(EDGE_COLUMNS)
    for rel in graph.relations.values():
        writer.writerow(["", "", rel.name, "", _cell(rel.directed), rel.color])
    for edge in graph.edges():
        row = edge_row(graph, edge)
        writer.writerow([*(row[c] for c in EDGE_COLUMNS[:3]), repr(row["weight"]), _cell(row["directed"]),
                         row["color"]])
    return nodes.getvalue(), edges.getvalue()


def _rows(text: str, what: str, required: tuple[str, ...], allowed: tuple[str, ...],
          prefix: str | None = None) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Parse a table into (header, [(line number, row dict)]) with every structural check."""
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise GraphError(f"The {what} is not a readable CSV table: {exc}.") from None
    lines = [(i + 1, row) for i, row in enumerate(lines) if any(cell.strip() for cell in row)]
    if not lines:
        raise GraphError(f"The {what} is empty: it needs a header row with the columns {', '.join(required)}.")
    _, header = lines[0]
    header = [h.strip() for h in header]
    if "" in header:
        raise GraphError(f"The {what} has a column without a name in its header.")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise GraphError(f"The {what} has duplicate columns: {', '.join(duplicates)}.")
    missing = [c for c in required if c not in header]
    if missing:
        raise GraphError(f"The {what} is missing the column(s) {', '.join(missing)}.")
    unknown = [h for h in header if h not in allowed and not (prefix and h.startswith(prefix) and len(h) > len(prefix))]
    if unknown:
        hint = f" (parameters go in columns named '{prefix}<name>')" if prefix else ""
        raise GraphError(f"The {what} has unknown column(s) {', '.join(unknown)}{hint}.")
    rows = []
    for number, row in lines[1:]:
        if len(row) != len(header):
            raise GraphError(f"The {what}, line {number}: {len(row)} cells but the header has {len(header)} columns.")
        rows.append((number, dict(zip(header, row, strict=True))))
    return header, rows


def _param_value(cell: str) -> Any:
    """JSON-decode a parameter cell, keeping the raw text when it is not a JSON scalar."""
    try:
        value = json.loads(cell)
    except (json.JSONDecodeError, RecursionError):
        return cell
    return value if isinstance(value, (str, int, float, bool)) else cell


def _bool(cell: str, what: str) -> bool:
    return checks.flag(cell, f"{what}: 'directed'", GraphError)


def graph_from_csv(nodes_csv: str | bytes, edges_csv: str | bytes | None = None) -> TaskGraph:
    """Read :func:`graph_to_csv` tables; without an edges table the graph has no edges."""
    nodes_text = as_text(nodes_csv, "nodes table")
    edges_text = None if edges_csv is None else as_text(edges_csv, "edges table")
    with reading("CSV tables"):
        header, rows = _rows(nodes_text, "nodes table", REQUIRED_NODE_COLUMNS, NODE_COLUMNS, PARAM_PREFIX)
        if ("x" in header) != ("y" in header):
            raise GraphError("The nodes table has only one of the columns x and y.")
        params = [h for h in header if param_key(h) is not None]
        check_budget(tasks=len(rows), points=declared_points(row for _, row in rows))  # before building
        graph = TaskGraph()
        for number, row in rows:
            where = f"nodes table, line {number}"
            x, y = row.get("x", "").strip(), row.get("y", "").strip()
            if bool(x) != bool(y):
                raise GraphError(f"The {where}: give both x and y, or neither.")
            task_params = {param_key(h): _param_value(row[h]) for h in params if row[h].strip() != ""}
            try:
                graph.add_task(make_task(row["name"], row["family"].strip(), task_params, row["train_size"].strip(),
                                         row["test_size"].strip(), row["seed"].strip(), (x, y) if x else None))
            except GraphError as exc:
                raise GraphError(f"The {where}: {exc}") from None
        if edges_text is None:
            return graph
        _, rows = _rows(edges_text, "edges table", REQUIRED_EDGE_COLUMNS, EDGE_COLUMNS)
        check_budget(tasks=graph.number_of_tasks(), edges=sum(1 for _, row in rows if row["source"].strip()))
        for number, row in rows:
            where = f"The edges table, line {number}"
            try:
                _csv_edge_row(graph, row, where)
            except GraphError as exc:
                message = str(exc)
                raise GraphError(message if message.startswith(where) else f"{where}: {message}") from None
        return graph


def _csv_edge_row(graph: TaskGraph, row: dict[str, str], where: str) -> None:
    source, target = row["source"].strip(), row["target"].strip()
    name = row["relation"].strip()
    if not name:
        raise GraphError(f"{where}: the relation is empty.")
    directed_cell = row.get("directed", "").strip()
    color = row.get("color", "").strip() or None
    if name in graph.relations:
        rel = graph.relations[name]
        if directed_cell and _bool(directed_cell, where) != rel.directed:
            raise GraphError(f"{where}: relation '{name}' is declared both directed and undirected.")
        if color is not None and color.lower() != rel.color.lower():
            raise GraphError(f"{where}: relation '{name}' is given two colours, {rel.color} and {color}.")
    else:
        directed = _bool(directed_cell, where) if directed_cell else False
        graph.add_relation(name, directed, color if color is not None else
                           RELATION_PALETTE[len(graph.relations) % len(RELATION_PALETTE)])
    if not source and not target:
        return  # a relation declaration row
    if not source or not target:
        raise GraphError(f"{where}: an edge needs both a source and a target.")
    weight = row.get("weight", "").strip() or 1.0
    graph.add_edge(source, target, name, weight)
