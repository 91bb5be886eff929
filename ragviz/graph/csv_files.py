"""A task graph as two CSV files, nodes and edges, in the columns of :mod:`ragviz.graph.schema`.

A spreadsheet can write these, so the reader checks every header, row and cell and names the
line of the first problem.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
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
from ragviz.safety.limits import check_budget, declared_points, get_limits


def _cell(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


#: What a spreadsheet reads as the start of a formula (=1+1, +cmd, -2+3, @SUM, a tab or CR first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def text_cell(text: str) -> str:
    """A name as a CSV cell a spreadsheet shows as text, never runs as a formula (CSV injection).

    A cell starting like a formula, or with the quote itself, gets a leading ``'`` (which
    spreadsheets hide); :func:`from_text_cell` takes it off again, so a graph survives the round trip.
    """
    return QUOTE + text if text.startswith((*FORMULA_STARTS, QUOTE)) else text


def from_text_cell(cell: str) -> str:
    """The name a :func:`text_cell` holds."""
    return cell[1:] if cell.startswith(QUOTE) and cell[1:].startswith((*FORMULA_STARTS, QUOTE)) else cell


def graph_to_csv(graph: TaskGraph) -> tuple[str, str]:
    """Two tables: tasks (one ``param:<name>`` column per parameter, JSON cells) and edges.

    The edges table opens with one row per relation (empty source and target) in declared
    order, so relation order and relations without edges survive the round trip. Names that a
    spreadsheet would run as a formula are written as text (:func:`text_cell`).
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
        row["name"] = text_cell(row["name"])
        writer.writerow([*(row[c] for c in NODE_COLUMNS if c not in ("x", "y")), *pos, *params])

    edges = io.StringIO()
    writer = csv.writer(edges, lineterminator="\n")
    writer.writerow(EDGE_COLUMNS)
    for rel in graph.relations.values():
        writer.writerow(["", "", text_cell(rel.name), "", _cell(rel.directed), rel.color])
    for edge in graph.edges():
        row = edge_row(graph, edge)
        writer.writerow([*(text_cell(row[c]) for c in EDGE_COLUMNS[:3]), repr(row["weight"]), _cell(row["directed"]),
                         row["color"]])
    return nodes.getvalue(), edges.getvalue()


def _rows(text: str, what: str, required: tuple[str, ...], allowed: tuple[str, ...], prefix: str | None = None,
          count: Callable[[dict[str, str]], None] | None = None,
          ) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Parse a table into (header, [(line number, row dict)]) with every structural check.

    ``count`` sees each row as it is parsed, so a table over the work budget is refused at the
    row that breaks it, not after megabytes of rows were read.
    """
    try:
        return _parse_rows(csv.reader(io.StringIO(text, newline="")), what, required, allowed, prefix, count)
    except csv.Error as exc:
        raise GraphError(f"The {what} is not a readable CSV table: {exc}.") from None


def _parse_rows(reader: Iterator[list[str]], what: str, required: tuple[str, ...], allowed: tuple[str, ...],
                prefix: str | None, count: Callable[[dict[str, str]], None] | None,
                ) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    lines = ((i + 1, row) for i, row in enumerate(reader) if "".join(row).strip())  # blank rows skipped
    first = next(lines, None)
    if first is None:
        raise GraphError(f"The {what} is empty: it needs a header row with the columns {', '.join(required)}.")
    header = [h.strip() for h in first[1]]
    if "" in header:
        raise GraphError(f"The {what} has a column without a name in its header.")
    duplicates = sorted(h for h, n in Counter(header).items() if n > 1)  # linear: a header may be megabytes wide
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
    for number, row in lines:
        if len(row) != len(header):
            raise GraphError(f"The {what}, line {number}: {len(row)} cells but the header has {len(header)} columns.")
        record = {h: from_text_cell(cell) for h, cell in zip(header, row, strict=True)}
        if count is not None:
            count(record)
        rows.append((number, record))
    return header, rows


def _task_counter() -> Callable[[dict[str, str]], None]:
    """Counts a nodes table's rows as they are parsed; one past the task limit is refused at once."""
    limit, seen = get_limits().max_tasks, 0

    def count(_row: dict[str, str]) -> None:
        nonlocal seen
        seen += 1
        if seen > limit:
            check_budget(tasks=seen, at_least=True)
    return count


def _edge_counter(tasks: int) -> Callable[[dict[str, str]], None]:
    """Counts an edges table's edges and distinct relations as they are parsed, refusing at the limit."""
    lim, edges, relations = get_limits(), 0, set()

    def count(row: dict[str, str]) -> None:
        nonlocal edges
        relations.add(row["relation"].strip())
        edges += bool(row["source"].strip())
        if edges > lim.max_edges or len(relations) > lim.max_relations:
            check_budget(tasks=tasks, edges=edges, relations=len(relations), at_least=True)
    return count


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
        header, rows = _rows(nodes_text, "nodes table", REQUIRED_NODE_COLUMNS, NODE_COLUMNS, PARAM_PREFIX,
                             _task_counter())
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
        _, rows = _rows(edges_text, "edges table", REQUIRED_EDGE_COLUMNS, EDGE_COLUMNS,  # counted as read
                        count=_edge_counter(graph.number_of_tasks()))
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
