"""A non-learned zero-shot baseline: average the neighbours' predictions.

A zero-shot task's predictor should be at least as good as the obvious guess — "do what my
neighbours do". This baseline takes the seen tasks' own trained predictors (any trained
model's heads, usually independent heads) and gives each zero-shot task the edge-weighted
average of its neighbours' predictions (class probabilities or regression outputs). A
zero-shot neighbour's prediction is itself such an average, so adjacent zero-shot tasks and
tasks several hops from data get one too: the values are propagated over hops until they
settle, which is the harmonic extension of the seen tasks' predictors over the graph.

What the plain baseline does not know: relation types. Edges count both ways with their weight,
whatever their relation, so a relation that flips labels (or any relation whose meaning is not
"similar") is treated like "near". The label-reversing variant is told which relations reverse
labels (``reversing``) and reverses a prediction each time it crosses one. The direct variant
averages only a task's seen neighbours. A zero-shot task with no path to a seen task gets the
plain average of every seen task's prediction (an uninformed guess).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ragviz.data.domains import make_graph_data
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edge

Predict = Callable[[str, np.ndarray], np.ndarray]


def propagation_weights(
    graph: TaskGraph, edges: Sequence[Edge] | None = None, *, direct: bool = False,
) -> tuple[list[str], list[str], np.ndarray]:
    """How much each seen task's prediction counts in each zero-shot task's average.

    Returns ``(zero-shot names, seen names, P)`` with ``P[i, j]`` the weight of seen task j in
    zero-shot task i; every row sums to 1. ``P`` is the fixed point of "each zero-shot task is the
    edge-weighted mean of its neighbours" (seen tasks fixed to their own predictions), found by one
    linear solve instead of iterating hop by hop.
    """
    zero, seen, same, _ = signed_propagation_weights(graph, edges, (), direct=direct)
    return zero, seen, same


def signed_propagation_weights(
    graph: TaskGraph, edges: Sequence[Edge] | None = None, reversing: Sequence[str] = (), *, direct: bool = False,
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """``(zero, seen, S, R)``: zero-shot task i's prediction is Σ_j S[i, j] p_j + R[i, j] reverse(p_j).

    An edge of a relation in ``reversing`` reverses labels (class c ↔ k−1−c). The fixed point splits
    into the part of the predictions that reversal keeps (harmonic over the plain weights, P⁺) and the
    part it negates (harmonic over weights signed −1 across reversing edges, P⁻): S = (P⁺+P⁻)/2,
    R = (P⁺−P⁻)/2. Without reversing relations R = 0 and S is the plain harmonic fill. ``direct``:
    only a task's seen neighbours count (one hop; the others' rows fall back to the plain average).
    """
    names = graph.task_names()
    zero = [t.name for t in graph.tasks() if t.zero_shot]
    seen = [t.name for t in graph.tasks() if not t.zero_shot]
    if edges is None:
        edges = [(e.source, e.target, e.relation, e.weight) for e in graph.edges()]
    index = {name: i for i, name in enumerate(names)}
    flips = set(reversing)
    adjacency = np.zeros((len(names), len(names)))
    signed = np.zeros((len(names), len(names)))
    for source, target, relation, weight in edges:
        if source == target:
            continue
        u, v = index[source], index[target]
        sign = -1.0 if relation in flips else 1.0
        for a, b in ((u, v), (v, u)):
            adjacency[a, b] += float(weight)
            signed[a, b] += sign * float(weight)
    zi = [index[n] for n in zero]
    si = [index[n] for n in seen]
    plus = np.zeros((len(zero), len(seen)))
    minus = np.zeros((len(zero), len(seen)))
    if not zero:
        return zero, seen, plus, minus
    if direct:
        reach = adjacency[np.ix_(zi, si)].sum(axis=1) > 0 if seen else np.zeros(len(zi), dtype=bool)
    else:
        reach = _reaches_seen(adjacency, zi, si)
    if seen and reach.any():
        r = [z for z, ok in zip(zi, reach, strict=True) if ok]
        if direct:
            total = adjacency[np.ix_(r, si)].sum(axis=1, keepdims=True)
            plus[reach] = adjacency[np.ix_(r, si)] / total
            minus[reach] = signed[np.ix_(r, si)] / total
        else:
            degree = np.diag(adjacency[r].sum(axis=1))
            plus[reach] = np.linalg.solve(degree - adjacency[np.ix_(r, r)], adjacency[np.ix_(r, si)])
            minus[reach] = np.linalg.solve(degree - signed[np.ix_(r, r)], signed[np.ix_(r, si)])
    if seen:
        plus[~reach] = minus[~reach] = 1.0 / len(seen)
    return zero, seen, (plus + minus) / 2, (plus - minus) / 2


def _reaches_seen(adjacency: np.ndarray, zi: list[int], si: list[int]) -> np.ndarray:
    """For each zero-shot task, whether some path of positive-weight edges leads to a seen task."""
    linked = adjacency > 0
    known = np.zeros(len(adjacency), dtype=bool)
    known[si] = True
    frontier = known.copy()
    while frontier.any():
        frontier = linked[frontier].any(axis=0) & ~known
        known |= frontier
    return known[zi]


def neighbour_average(
    graph: TaskGraph,
    predict: Predict,
    points: Mapping[str, np.ndarray],
    edges: Sequence[Edge] | None = None,
    *,
    reversing: Sequence[str] = (),
    direct: bool = False,
) -> dict[str, np.ndarray]:
    """Each zero-shot task's baseline outputs on its ``points``.

    ``predict(seen_task, x)`` returns a seen task's own outputs on inputs ``x``: class
    probabilities (n, C) or regression outputs (n,). Zero-shot tasks missing from ``points`` are
    skipped. ``reversing`` and ``direct``: see :func:`signed_propagation_weights`.
    """
    from ragviz.data.domains import task_n_classes

    zero, seen, same, flipped = signed_propagation_weights(graph, edges, reversing, direct=direct)
    tasks = {t.name: t for t in graph.tasks()}
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(zero):
        if name not in points:
            continue
        x = points[name]
        k = task_n_classes(tasks[name])
        total: np.ndarray | None = None
        for j in np.flatnonzero((np.abs(same[i]) + np.abs(flipped[i])) > 1e-12):
            p = np.asarray(predict(seen[j], x), dtype=float)
            part = same[i, j] * p
            if flipped[i, j] != 0 and p.ndim == 2 and k > 0:
                reversed_ = p.copy()
                reversed_[:, :k] = p[:, :k][:, ::-1]
                part = part + flipped[i, j] * reversed_
            total = part if total is None else total + part
        if total is not None:
            out[name] = total
    return out


def task_metric(outputs: np.ndarray, y: np.ndarray, regression: bool) -> float:
    """Accuracy of the most probable class, or mean squared error; NaN with no points."""
    y = np.asarray(y)
    if len(y) == 0:
        return float("nan")
    outputs = np.asarray(outputs, dtype=float)
    if regression:
        return float(np.mean((outputs.reshape(y.shape) - y) ** 2))
    return float(np.mean(outputs.argmax(axis=-1) == y))


def zero_shot_metrics(
    outputs: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray], regression: bool,
) -> dict[str, float]:
    """Per-task metric (accuracy or MSE) of every task in ``outputs`` against its ``targets``."""
    return {name: task_metric(out, targets[name], regression) for name, out in outputs.items()}


def chance_level(graph: TaskGraph, tables: dict[str, Any] | None = None) -> float | None:
    """The accuracy of guessing among a zero-shot task's classes (mean over them); None for regression."""
    from ragviz.data.domains import task_n_classes

    counts = [task_n_classes(t, tables) for t in graph.tasks() if t.zero_shot]
    if not counts or min(counts) == 0:
        return None
    return float(np.mean([1.0 / c for c in counts]))


# ------------------------------------------------------------------------- with a trained model
def model_predictor(model: Any, graph: TaskGraph, tables: dict[str, Any] | None = None) -> Predict:
    """``predict(task, x)`` from a trained model: that task's own predictor (its head) on ``x``.

    Uses the model's ordinary forward pass on the graph it was trained on, with every point
    assigned to the named task; outputs are softmax probabilities or regression outputs.
    """
    import torch

    from ragviz.training.prepared import prepare

    model = model.to("cpu").eval()
    prep = prepare(graph, model, tables)
    index = {name: i for i, name in enumerate(prep.g.names)}

    def predict(task: str, x: np.ndarray) -> np.ndarray:
        xs = torch.tensor(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
        tid = torch.full((len(xs),), index[task], dtype=torch.long)
        with torch.no_grad():
            out = model(prep.g, xs, tid)
        return (out if model.regression else torch.softmax(out, dim=-1)).numpy()

    return predict


def baseline_zero_shot(
    model: Any, graph: TaskGraph, tables: dict[str, Any] | None = None,
    edges: Sequence[Edge] | None = None, *, reversing: Sequence[str] = (), direct: bool = False,
) -> dict[str, float]:
    """Per zero-shot task metric of the neighbour average of ``model``'s seen-task heads.

    ``edges`` are the relations the baseline averages over (default: the graph's own);
    ``reversing`` and ``direct``: see :func:`signed_propagation_weights`.
    """
    data = make_graph_data(graph, tables)
    points = {t.name: data[t.name].x_test for t in graph.tasks() if t.zero_shot}
    outputs = neighbour_average(graph, model_predictor(model, graph, tables), points, edges,
                                reversing=reversing, direct=direct)
    targets = {name: data[name].y_test for name in outputs}
    return zero_shot_metrics(outputs, targets, bool(model.regression))
