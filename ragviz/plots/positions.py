"""Where the task graph figure draws each task: stored positions, new tasks placed clear of others.

Pure: a graph in, positions out. A new task goes next to its neighbours at a spot where no edge
from it passes near a third task; a chain stored on one straight line is drawn as an arc or snake.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np

from ragviz.graph.task_graph import TaskGraph

#: Chains of at least this many tasks stored on one straight line are drawn as an arc or snake.
CHAIN_REDRAW_MIN = 8
#: New tasks are kept out of line with two others while the graph has at most this many tasks.
COLLINEAR_CHECK_MAX = 120


def node_positions(graph: TaskGraph) -> dict[str, tuple[float, float]]:
    """Every task's drawing position: its stored one, or a deterministic spot for new tasks.

    A task without a position goes next to its placed neighbours (their centroid, nudged
    so it does not sit on top of them), else on a column right of the drawing.
    """
    pos: dict[str, tuple[float, float]] = {}
    missing: list[str] = []
    for name, stored in graph.nx.nodes(data="pos"):
        if stored is not None:
            pos[name] = (float(stored[0]), float(stored[1]))
        else:
            missing.append(name)
    if not missing:
        return pos
    if not pos and len(missing) > 1:
        angles = np.linspace(0.0, 2 * math.pi, len(missing), endpoint=False)
        return {n: (round(math.cos(a), 6), round(math.sin(a), 6)) for n, a in zip(missing, angles, strict=True)}
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1.0)
    for i, name in enumerate(missing):
        near = [pos[m] for m in nx_neighbours(graph, name) if m in pos]
        if near:
            centre = (float(np.mean([p[0] for p in near])), float(np.mean([p[1] for p in near])))
        elif pos:
            centre = (max(xs) + 0.2 * span, float(np.mean(ys)))
        else:
            centre = (0.0, 0.0)
        pos[name] = _clear_spot(centre, near, pos, 0.12 * span, i) if pos else centre
    return pos


def _clear_spot(centre: tuple[float, float], near: list[tuple[float, float]], pos: dict[str, tuple[float, float]],
                radius: float, turn: int) -> tuple[float, float]:
    """A free spot around ``centre``: off every task and off the line through any two tasks.

    Spots are tried on a spiral (golden angle, growing radius). A spot is clear when no task
    is nearer than a fraction of ``radius`` to it or to its edges to ``near`` (so no edge is
    drawn through a task), and it is not in line with two tasks. The best spot tried is
    used when none is fully clear.
    """
    points = np.array(list(pos.values()), dtype=float)
    gap = 0.25 * radius
    best, best_score = None, -1.0
    for k in range(48):
        angle = 2.399963 * (turn + k + 1)
        r = radius * (1.0 + 0.15 * k)
        spot = np.array([centre[0] + r * math.cos(angle), centre[1] + r * math.sin(angle)])
        score = _clearance(spot, points, np.array(near, dtype=float).reshape(-1, 2))
        if score >= gap:
            return (float(spot[0]), float(spot[1]))
        if score > best_score:
            best, best_score = spot, score
    assert best is not None
    return (float(best[0]), float(best[1]))


def _clearance(spot: np.ndarray, points: np.ndarray, ends: np.ndarray) -> float:
    """The smallest distance from any task to ``spot`` or to an edge from it to ``ends``.

    While there are few tasks, an edge from ``spot`` to any task must also pass clear of the
    others: that is the "three in a line" that makes a later edge run through a task.
    """
    if len(points) == 0:
        return math.inf
    dist = float(np.min(np.linalg.norm(points - spot, axis=1)))
    for end in ends:
        dist = min(dist, _segment_distance(points, spot, end, exclude=end))
    if 2 <= len(points) <= COLLINEAR_CHECK_MAX:
        ab = points - spot  # one row per possible edge spot → task i
        ap = points - spot  # one row per other task j
        t = np.clip((ap @ ab.T) / np.maximum((ab * ab).sum(axis=1), 1e-12)[None, :], 0.0, 1.0)  # [j, i]
        nearest = spot + t[:, :, None] * ab[None, :, :]
        gaps = np.linalg.norm(points[:, None, :] - nearest, axis=2)
        np.fill_diagonal(gaps, np.inf)
        dist = min(dist, float(np.min(gaps)))
    return dist


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray, exclude: np.ndarray) -> float:
    """Distance from the segment a–b to the nearest point other than ``exclude``."""
    others = points[np.linalg.norm(points - exclude, axis=1) > 1e-12]
    if len(others) == 0:
        return math.inf
    ab = b - a
    t = np.clip(((others - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return float(np.min(np.linalg.norm(others - (a + t[:, None] * ab), axis=1)))


def drawing_positions(graph: TaskGraph) -> dict[str, tuple[float, float]]:
    """Where the figure draws each task: the stored positions, unless they put a chain on one line.

    A chain stored as a straight line (as older graphs and checkpoints have it) squashes its
    names together and draws any added edge through the tasks between; it is drawn as an
    arc or snake instead (the stored positions are kept, and a layout chosen later wins).
    """
    pos = node_positions(graph)
    n = len(pos)
    if n < CHAIN_REDRAW_MIN:
        return pos
    points = np.array(list(pos.values()), dtype=float)
    spread = np.ptp(points, axis=0)
    if spread.min() > 0.02 * max(spread.max(), 1e-12):
        return pos
    from ragviz.graph.layout import chain_positions, path_order

    simple = nx.Graph()
    simple.add_nodes_from(pos)
    simple.add_edges_from((u, v) for u, v in graph.nx.edges() if u != v)
    order = path_order(simple)
    if order is None:
        return pos
    return dict(zip(order, chain_positions(n), strict=True))


def nx_neighbours(graph: TaskGraph, name: str) -> list[str]:
    """Tasks linked to ``name`` by an edge in either direction."""
    g = graph.nx
    return list(dict.fromkeys([*g.predecessors(name), *g.successors(name)]))


def with_positions(graph: TaskGraph) -> TaskGraph:
    """A copy in which every task has a stored position (the drawn one), so the drawing is kept from now on."""
    out = graph.copy()
    if any(p is None for _, p in out.nx.nodes(data="pos")):
        out.set_positions(node_positions(graph))
    drawn = drawing_positions(out)
    if drawn != node_positions(out):
        out.set_positions(drawn)
    return out
