"""Ready-made task graphs whose tasks' parameters vary along the graph.

A generated graph is the quickest way to see RAG work: neighbouring tasks differ a
little (a rotation, a phase), so a zero-shot task can be inferred from its neighbours.
Generators build the ``networkx`` graph directly from attributes validated once up front,
because adding 100,000 tasks one validated call at a time is too slow for the app.
"""

from __future__ import annotations

import gc
import math
from typing import Any

import networkx as nx
import numpy as np

from ragviz.graph.layout import LAYOUTS, chain_positions, circle_positions, fill_area, layout_positions, spring_layout
from ragviz.graph.nx_fill import fill_graph
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import FAMILY_DEFAULTS, FAMILY_DOMAIN, RELATION_PALETTE, Relation, check_name, make_task
from ragviz.safety import checks
from ragviz.safety.errors import GraphError
from ragviz.safety.limits import check_budget

GENERATORS: tuple[str, ...] = ("chain", "ring", "star", "grid", "complete", "random")

MAX_GENERATED_TASKS = 200_000
#: Refuse generators that would create more edges than this (a complete or dense random graph).
MAX_GENERATED_EDGES = 2_000_000
#: Random graphs up to this size get a spring layout (a few seconds at most); larger ones a circular one.
_GENERATOR_SPRING_MAX = 1000


# ------------------------------------------------------------------------------- generators
def generate_graph(
    kind: str,
    n: int,
    family: str = "moons",
    *,
    base_params: dict | None = None,
    vary: str | None = "rotate",
    start: float = 0.0,
    stop: float = 360.0,
    relation: str = "near",
    directed: bool = False,
    train_size: int = 40,
    test_size: int = 100,
    zero_shot: list[int] | None = None,
    seed: int = 0,
    p: float = 0.3,
    name_prefix: str | None = None,
) -> TaskGraph:
    """Build a ``kind`` graph of about ``n`` tasks whose parameter ``vary`` goes from start to stop.

    ``ring`` excludes the endpoint (task k gets start + (stop-start)·k/n, so a full turn
    does not repeat its first task); the other kinds include it (k/(n-1)). ``grid`` rounds
    n to rows × cols with rows = floor(√n). Task k's seed is seed·1000 + k so tasks' data
    differ; tasks listed in ``zero_shot`` (indices) get train size 0.
    """
    # Hundreds of thousands of small objects trigger repeated full garbage collections that
    # find nothing to free; pausing the collector makes large graphs ~3× faster to build.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(kind, n, family, base_params, vary, start, stop, relation, directed, train_size, test_size,
                         zero_shot, seed, p, name_prefix)
    finally:
        if enabled:
            gc.enable()


def _generate(kind: str, n: int, family: str, base_params: dict | None, vary: str | None, start: float,
              stop: float, relation: str, directed: bool, train_size: int, test_size: int,
              zero_shot: list[int] | None, seed: int, p: float, name_prefix: str | None) -> TaskGraph:
    if kind not in GENERATORS:
        raise GraphError(f"Unknown graph kind {kind!r}; choose one of {', '.join(GENERATORS)}.")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise GraphError(f"The number of tasks must be a whole number, got {n!r}.")
    n = int(n)
    if n < 1 or n > MAX_GENERATED_TASKS:
        raise GraphError(f"The number of tasks must be between 1 and {MAX_GENERATED_TASKS:,}, got {n:,}.")
    if family not in FAMILY_DOMAIN:
        raise GraphError(f"Unknown data family {family!r}; choose one of {', '.join(FAMILY_DOMAIN)}.")
    p = _check_number(p, "The edge probability p")
    if not 0.0 <= p <= 1.0:
        raise GraphError(f"The edge probability p must be between 0 and 1, got {p}.")
    start = _check_number(start, "The start value")
    stop = _check_number(stop, "The stop value")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GraphError(f"The seed must be a whole number ≥ 0, got {seed!r}.")
    seed = int(seed)
    prefix = check_name(family if name_prefix is None else name_prefix, "name prefix")
    relation = check_name(relation, "relation")

    rows = cols = 0
    if kind == "grid":
        rows = max(1, math.isqrt(n))
        cols = max(1, int(n / rows + 0.5))
        n = rows * cols
    if kind == "complete" and n * (n - 1) // 2 > MAX_GENERATED_EDGES:
        raise GraphError(f"A complete graph of {n:,} tasks has {n * (n - 1) // 2:,} edges; "
                         f"the limit is {MAX_GENERATED_EDGES:,}. Use fewer tasks.")
    if kind == "random" and p * n * (n - 1) / 2 > MAX_GENERATED_EDGES:
        raise GraphError(f"A random graph of {n:,} tasks with p={p} would have about {p * n * (n - 1) / 2:,.0f} "
                         f"edges; the limit is {MAX_GENERATED_EDGES:,}. Lower p or the number of tasks.")

    zero = _check_zero_shot(zero_shot, n)
    base = dict(base_params or {})
    values = _values(kind, n, start, stop) if vary is not None else None
    if vary is not None:
        default = FAMILY_DEFAULTS.get(family, {}).get(vary)
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            numeric = [k for k, v in FAMILY_DEFAULTS.get(family, {}).items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)]
            raise GraphError(f"Family '{family}' has no numeric parameter {vary!r} to vary; "
                             f"choose one of {', '.join(numeric) or 'none'} or vary nothing.")
        if isinstance(default, int):
            values = [int(round(v)) for v in values]
    names = _names(prefix, vary, values, n)

    # Validate once with the extreme values; every task differs only in name, seed, size and `vary`.
    probe_params = dict(base)
    if vary is not None:
        probe_params[vary] = values[0]
    probe = make_task(names[0], family, probe_params, train_size, test_size, seed * 1000 + n - 1)
    # Names are the checked prefix plus digits and symbols: only their length needs checking.
    check_name(max(names, key=len))
    # The work budget, from what the graph would declare, before any edge or task is built.
    check_budget(tasks=n, edges=_edge_count(kind, n, rows, cols, p),
                 points=n * probe.test_size + (n - len(zero)) * probe.train_size, subject="The generated graph")

    positions = _positions(kind, n, rows, cols)
    edges = _edges(kind, n, rows, cols, p, seed, directed)
    if positions is None:  # random graphs: spring when small enough to be quick
        if n <= _GENERATOR_SPRING_MAX:
            simple = nx.Graph()
            simple.add_nodes_from(range(n))
            simple.add_edges_from(edges)
            layout = spring_layout(simple, seed) if n > 1 else {0: (0.0, 0.0)}
            positions = fill_area(np.array([layout[k] for k in range(n)]))
        else:
            positions = circle_positions(n)

    graph = TaskGraph([Relation(relation, bool(directed), RELATION_PALETTE[0])])
    _build(graph, names, values, vary, family, probe.params, probe.train_size, probe.test_size, zero, seed,
           positions, edges, relation)
    return graph


def _build(graph: TaskGraph, names: list[str], values: list | None, vary: str | None, family: str,
           base: dict[str, Any], train_size: int, test_size: int, zero: set[int], seed: int,
           positions: list[tuple[float, float]], edges: list[tuple[int, int]], relation: str) -> None:
    nodes = []
    for k, name in enumerate(names):
        params = dict(base)
        if vary is not None:
            params[vary] = values[k]
        nodes.append((name, {
            "family": family,
            "params": params,
            "train_size": 0 if k in zero else train_size,
            "test_size": test_size,
            "seed": seed * 1000 + k,
            "pos": [positions[k][0], positions[k][1]],
        }))
    fill_graph(graph.nx, nodes, [(names[u], names[v]) for u, v in edges], relation)


def ring_of_moons(
    n: int = 12,
    zero_shot: tuple[int, ...] = (3, 8),
    train_size: int = 40,
    test_size: int = 100,
    noise: float = 0.1,
    seed: int = 0,
) -> TaskGraph:
    """The canonical example: moons rotated by 360°/n steps, neighbours linked by "near"."""
    return generate_graph(
        "ring", n, "moons", base_params={"noise": noise}, vary="rotate", start=0.0, stop=360.0,
        relation="near", directed=False, train_size=train_size, test_size=test_size,
        zero_shot=list(zero_shot), seed=seed,
    )


def _check_number(value: Any, what: str) -> float:
    return checks.real(value, what, GraphError)


def _check_zero_shot(zero_shot: Any, n: int) -> set[int]:
    zero: set[int] = set()
    for index in zero_shot or []:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise GraphError(f"Zero-shot task indices must be whole numbers, got {index!r}.")
        if not 0 <= index < n:
            raise GraphError(f"Zero-shot task index {index} is out of range: the graph has {n} tasks (0 to {n - 1}).")
        zero.add(int(index))
    return zero


def _values(kind: str, n: int, start: float, stop: float) -> list[float]:
    if kind == "ring":
        steps = np.arange(n) / n
    elif n == 1:
        steps = np.zeros(1)
    else:
        steps = np.arange(n) / (n - 1)
    # + 0.0 turns -0.0 into 0.0 so that names never read "-0°".
    return [float(v) + 0.0 for v in start + (stop - start) * steps]


def _fmt(value: float, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _names(prefix: str, vary: str | None, values: list[float] | None, n: int) -> list[str]:
    """Readable, unique names: more decimals until unique, else numbered."""
    if values is not None and vary in ("rotate", "phase"):
        first = 1 if vary == "rotate" else 2
        gaps = np.diff(np.sort(np.asarray(values, dtype=float)))
        gap = float(gaps.min()) if len(gaps) else 1.0
        if gap > 0:  # values more than 10⁻ᵈ apart round to different d-decimal texts
            first = max(first, math.floor(-math.log10(gap)) + 1)
        for decimals in range(first, 10):
            if vary == "rotate":
                names = [f"{prefix} {_fmt(v, decimals)}°" for v in values]
            else:
                names = [f"{prefix} φ={_fmt(v, decimals)}" for v in values]
            if len(set(names)) == n:
                return names
    return [f"{prefix} {k}" for k in range(n)]


def _edge_count(kind: str, n: int, rows: int, cols: int, p: float) -> int:
    """How many edges ``kind`` makes (a random graph's expected count), known before building it."""
    if kind == "ring":
        return n if n > 2 else n - 1
    if kind in ("chain", "star"):
        return n - 1
    if kind == "grid":
        return rows * (cols - 1) + cols * (rows - 1)
    if kind == "complete":
        return n * (n - 1) // 2
    return int(round(p * n * (n - 1) / 2))


def _positions(kind: str, n: int, rows: int, cols: int) -> list[tuple[float, float]] | None:
    """A layout that shows the generator's structure at a glance, in O(n)."""
    if kind in ("ring", "complete"):
        return circle_positions(n)
    if kind == "chain":
        return chain_positions(n)
    if kind == "star":
        return [(0.0, 0.0)] + (circle_positions(n - 1) if n > 2 else [(1.0, 0.0)] * (n - 1))
    if kind == "grid":
        span = max(rows - 1, cols - 1, 1)
        return [((2.0 * c - (cols - 1)) / span, ((rows - 1) - 2.0 * r) / span)
                for r in range(rows) for c in range(cols)]
    return None


def _edges(kind: str, n: int, rows: int, cols: int, p: float, seed: int, directed: bool) -> list[tuple[int, int]]:
    if kind == "chain":
        return [(k, k + 1) for k in range(n - 1)]
    if kind == "ring":
        edges = [(k, (k + 1) % n) for k in range(n)] if n > 1 else []
        if n == 2 and not directed:  # 0–1 and 1–0 are the same undirected edge
            edges = edges[:1]
        return edges
    if kind == "star":
        return [(0, k) for k in range(1, n)]
    if kind == "complete":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    if kind == "grid":
        edges = []
        for r in range(rows):
            for c in range(cols):
                k = r * cols + c
                if c + 1 < cols:
                    edges.append((k, k + 1))
                if r + 1 < rows:
                    edges.append((k, k + cols))
        return edges
    # random: O(n + m) generator; gnp_random_graph is O(n²) and too slow for large n.
    random = nx.fast_gnp_random_graph(n, p, seed=seed)
    return sorted((min(u, v), max(u, v)) for u, v in random.edges())


def text_table_graph(table: Any, table_name: str = "texts", test_fraction: float = 0.3) -> TaskGraph:
    """One ``text_table`` task per task value of a loaded text table, no edges yet.

    Each task tests on ``test_fraction`` of its rows (at least one) and trains on the rest;
    the user links tasks (and makes some zero-shot) on the Task graph page.
    """
    graph = TaskGraph()
    counts = table["task"].astype(str).value_counts(sort=False)
    for i, (value, n) in enumerate(sorted(counts.items())):
        test = max(1, math.ceil(n * test_fraction))
        graph.add_task(make_task(str(value)[:80], "text_table", {"table": table_name, "task": str(value)},
                                 int(n) - test, test, i))
    return graph


__all__ = ["GENERATORS", "LAYOUTS", "generate_graph", "layout_positions", "ring_of_moons", "text_table_graph"]
