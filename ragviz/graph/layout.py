"""Where a task graph's tasks sit on the page: readable layouts that fill the plot area.

Chains become arcs or snakes, force layouts are turned so their long side is horizontal and
scaled to fill the plot, and graphs too big for a force layout fall back to a circle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np

from ragviz.graph.task_graph import TaskGraph
from ragviz.safety.errors import GraphError


def circle_positions(n: int) -> list[tuple[float, float]]:
    """n points evenly on the unit circle."""
    if n == 1:
        return [(0.0, 0.0)]
    angle = 2 * np.pi * np.arange(n) / n
    return list(zip(np.cos(angle).tolist(), np.sin(angle).tolist(), strict=True))


LAYOUTS: tuple[str, ...] = ("spring", "circular", "kamada_kawai", "shell", "spectral")
#: Kamada-Kawai is O(n²) in memory and slow: above this many tasks it falls back to spring.
KAMADA_KAWAI_MAX = 300
#: Spring and spectral take from seconds to minutes above this: they fall back to circular.
FORCE_LAYOUT_MAX = 1000

# ---------------------------------------------------------------------------------- layouts
#: Chains up to this many tasks are drawn on an arc; longer ones as a snake of rows.
ARC_MAX = 16
#: The plot area's width over its height: layouts are turned and stretched to fill it.
PLOT_ASPECT = 1.5


def chain_positions(n: int) -> list[tuple[float, float]]:
    """Positions along a chain: an arc when short, a snake of gently curved rows when long.

    A straight line squashes a long chain's labels together, and three tasks in a line let
    an added edge run straight through the middle one: on an arc no three tasks are in a
    line (a snake's rows are only shallow arches). Rows alternate direction so neighbours
    stay side by side.
    """
    if n <= 0:
        return []
    if n == 1:
        return [(0.0, 0.0)]
    if n <= ARC_MAX:
        span = min(math.pi * 1.25, 0.35 * n)  # a gentle bow for a few tasks, most of a circle for more
        angles = math.pi / 2 + span / 2 - span * np.arange(n) / (n - 1)
        points = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    else:
        cols = max(int(math.ceil(math.sqrt(n * PLOT_ASPECT * 1.6))), 4)  # rows 1.6 apart: a wide snake
        k = np.arange(n)
        row, col = k // cols, k % cols
        col = np.where(row % 2 == 0, col, cols - 1 - col)
        bow = 0.3 * np.sin(math.pi * (col + 0.5) / cols)  # each row a shallow arch: no three in a line
        points = np.stack([col.astype(float), -1.6 * row + bow], axis=1)
    return fill_area(points)


def fill_area(points: np.ndarray) -> list[tuple[float, float]]:
    """Centre the points, turn their long axis horizontal, and scale them into [-1, 1]²."""
    points = np.asarray(points, dtype=float)
    if len(points) > 2:
        centred = points - points.mean(axis=0)
        spread = np.ptp(centred, axis=0)
        if spread.min() > 1e-9 and spread[1] > spread[0] * 1.05:  # taller than wide: a quarter turn
            centred = np.stack([centred[:, 1], -centred[:, 0]], axis=1)
        points = centred
    low, high = points.min(axis=0), points.max(axis=0)
    mid, half = (low + high) / 2, max(float((high - low).max()) / 2, 1e-9)
    return [(round(float(x), 6), round(float(y), 6)) for x, y in (points - mid) / half]


def path_order(simple: nx.Graph) -> list[Any] | None:
    """The tasks in order when the whole graph is one chain of three or more tasks, else None."""
    n = simple.number_of_nodes()
    if n < 3 or simple.number_of_edges() != n - 1 or max(d for _, d in simple.degree()) > 2:
        return None
    if not nx.is_connected(simple):
        return None
    start = next(node for node, d in simple.degree() if d == 1)
    return list(nx.dfs_preorder_nodes(simple, start))
def layout_positions(graph: TaskGraph, layout: str = "spring", seed: int = 0) -> dict[str, tuple[float, float]]:
    """Positions for every task, roughly within [-1, 1]², by a networkx layout.

    Relations and directions are ignored (the undirected simple graph is laid out).
    Kamada-Kawai and spectral lay out each connected component apart and pack them side
    by side, since on a disconnected graph they squash components into points. Fallbacks
    for speed: kamada_kawai on more than 300 tasks becomes spring; spring and spectral on
    more than 1000 tasks become circular.
    """
    if layout not in LAYOUTS:
        raise GraphError(f"Unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}.")
    names = graph.task_names()
    n = len(names)
    if n == 0:
        return {}
    simple = nx.Graph()
    simple.add_nodes_from(names)
    simple.add_edges_from((u, v) for u, v in graph.nx.edges() if u != v)
    if layout == "kamada_kawai" and n > KAMADA_KAWAI_MAX:
        layout = "spring"
    if layout in ("spring", "spectral") and n > FORCE_LAYOUT_MAX:
        layout = "circular"

    chain = path_order(simple) if layout in ("spring", "kamada_kawai", "spectral") else None
    if chain is not None:  # these would draw a chain as one long line (or a tangle): use a snake
        pos = dict(zip(chain, chain_positions(n), strict=True))
    elif layout == "circular":
        pos = dict(zip(names, circle_positions(n), strict=True))
    elif layout == "shell":
        pos = nx.shell_layout(simple)
    elif layout == "spring":
        pos = spring_layout(simple, seed) if n > 1 else {names[0]: (0.0, 0.0)}
    elif layout == "kamada_kawai":
        pos = _packed(simple, nx.kamada_kawai_layout)
    else:
        pos = _packed(simple, nx.spectral_layout)
    out = {name: (float(pos[name][0]), float(pos[name][1])) for name in names}
    if n > 1 and len(set(out.values())) == 1:  # a degenerate layout: fall back rather than stack tasks
        out = dict(zip(names, circle_positions(n), strict=True))
    if layout in ("spring", "kamada_kawai", "spectral") and n > 2:
        out = dict(zip(names, fill_area(np.array([out[name] for name in names])), strict=True))
    return out


def spring_layout(simple: nx.Graph, seed: int) -> dict[Any, np.ndarray]:
    """Fruchterman-Reingold with room between tasks (k) and enough steps to untangle.

    networkx's default spacing (1/√n) and 50 steps leave a dense graph a tight hairball; a
    wider spacing spreads the tasks over the plot, and small graphs get more steps.
    """
    n = simple.number_of_nodes()
    iterations = 300 if n <= 100 else 120 if n <= 400 else 50
    return nx.spring_layout(simple, seed=seed, k=2.0 / math.sqrt(n), iterations=iterations)


def _component_layout(sub: nx.Graph, fn: Callable[[nx.Graph], dict]) -> dict[Any, np.ndarray]:
    nodes = list(sub)
    if len(nodes) == 1:
        return {nodes[0]: np.zeros(2)}
    if len(nodes) == 2:
        return {nodes[0]: np.array([-1.0, 0.0]), nodes[1]: np.array([1.0, 0.0])}
    pos = {k: np.asarray(v, dtype=float) for k, v in fn(sub).items()}
    coords = np.array(list(pos.values()))
    if not np.all(np.isfinite(coords)) or np.ptp(coords, axis=0).max() < 1e-9:
        return {k: np.array(v) for k, v in zip(nodes, circle_positions(len(nodes)), strict=True)}
    coords = coords - coords.mean(axis=0)
    radius = np.abs(coords).max() or 1.0
    return {k: c / radius for k, c in zip(pos, coords, strict=True)}


def _packed(simple: nx.Graph, fn: Callable[[nx.Graph], dict]) -> dict[Any, np.ndarray]:
    """Lay out each component apart (radius ∝ √size) and pack them in rows, biggest first."""
    components = sorted(nx.connected_components(simple), key=len, reverse=True)
    if len(components) == 1:
        return _component_layout(simple, fn)
    radii = [math.sqrt(len(c)) for c in components]
    width = 1.2 * math.sqrt(sum((2 * r) ** 2 for r in radii))
    pos: dict[Any, np.ndarray] = {}
    x = y = row_height = 0.0
    for component, r in zip(components, radii, strict=True):
        if x > 0 and x + 2 * r > width:
            x, y, row_height = 0.0, y - row_height, 0.0
        centre = np.array([x + r, y - r])
        sub = simple.subgraph(component)
        for k, c in _component_layout(sub, fn).items():
            pos[k] = centre + 0.8 * r * c
        x += 2 * r
        row_height = max(row_height, 2 * r)
    coords = np.array(list(pos.values()))
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    scale = max(float((hi - lo).max()) / 2, 1e-9)
    mid = (lo + hi) / 2
    return {k: (v - mid) / scale for k, v in pos.items()}
