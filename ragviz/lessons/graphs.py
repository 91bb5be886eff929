"""The graphs the lessons train on, and what each lesson measures on them.

Each builder is a pure function of its arguments (seeded), so a lesson's graph is the same on
every machine; each measure reads a trained model's final per-task metrics.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ragviz.data.speech import SIZES, SPEAKERS, VOICES
from ragviz.graph.generators import generate_graph
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edges, Relation, Task
from ragviz.training.history import History
from ragviz.training.train import TrainResult


# ----------------------------------------------------------------------------------- graphs
def hop_chain(n: int = 61, held_out: tuple[int, ...] = (18, 42), train_size: int = 30, test_size: int = 50,
              weight: float = 3.0, seed: int = 0) -> TaskGraph:
    """A chain of sine tasks whose phase turns once along the chain; every third task has data.

    Tasks between data tasks have none, so a held-out data position (a multiple of 3) is
    exactly three hops from the nearest data. Edges weigh ``weight`` so that, summed, the
    neighbours' messages outweigh a data-less task's own (shared, uninformative) state.
    """
    zero = [k for k in range(n) if k % 3 != 0 or k in held_out]
    graph = generate_graph("chain", n, "sine", vary="phase", start=0.0, stop=2 * math.pi * (n - 1) / n,
                           relation="next", train_size=train_size, test_size=test_size, zero_shot=zero, seed=seed)
    for edge in graph.edges():
        graph.set_edge_weight(edge.source, edge.target, edge.relation, weight)
    return graph


def typed_relations(rotations: tuple[int, ...] = (0, 60, 120), train_size: int = 40,
                    test_size: int = 100, seed: int = 0) -> TaskGraph:
    """Groups of rotated moons: a task, its copy ("same"), its flipped twin ("labels flipped"),
    and two zero-shot tasks linked to the task, one by each relation.

    The two zero-shot tasks of a group have the same neighbour; only the relation type tells
    them apart, so a relation-blind model must give them the same predictor.
    """
    graph = TaskGraph([Relation("same", False, "#2ca02c"), Relation("labels flipped", False, "#d62728")])
    task_seed = seed * 1000
    for g, rot in enumerate(rotations):
        x = 3.0 * g
        base = f"moons {rot}°"
        members = [
            (base, False, train_size, (x, 0.0), None),
            (f"{base} copy", False, train_size, (x - 1.0, 1.0), "same"),
            (f"{base} flipped", True, train_size, (x + 1.0, 1.0), "labels flipped"),
            (f"new {rot}° (same)", False, 0, (x - 1.0, -1.0), "same"),
            (f"new {rot}° (flipped)", True, 0, (x + 1.0, -1.0), "labels flipped"),
        ]
        for name, flip, size, pos, relation in members:
            graph.add_task(Task(name, "moons", {"rotate": float(rot), "flip": flip, "noise": 0.1}, size, test_size,
                                task_seed, pos))
            task_seed += 1
            if relation is not None:
                graph.add_edge(base, name, relation)
    return graph


def rotated_digits(train_size: int = 200, test_size: int = 200, zero_shot: tuple[int, ...] = (3, 8),
                   seed: int = 0) -> TaskGraph:
    """scikit-learn's 8×8 digits rotated in 30° steps round a ring; ``zero_shot`` angles held out.

    Every task draws its images from the same pool of 1,797 digits, so most of a held-out
    angle's test digits appear, at other angles, in other tasks' training data.
    """
    return generate_graph("ring", 12, "digits_rotated", vary="rotate", start=0.0, stop=360.0, relation="near",
                          train_size=train_size, test_size=test_size, zero_shot=list(zero_shot), name_prefix="digits",
                          seed=seed)


def rotated_drawings(train_size: int = 200, test_size: int = 100, zero_shot: tuple[int, ...] = (3, 8),
                     seed: int = 0) -> TaskGraph:
    """Generation tasks, "draw digit d rotated by θ", in 30° steps round a ring linked by *near*;
    ``zero_shot`` angles held out, so their drawings come from their neighbours' relations alone."""
    return generate_graph("ring", 12, "digits_drawn", vary="rotate", start=0.0, stop=360.0, relation="near",
                          train_size=train_size, test_size=test_size, zero_shot=list(zero_shot), name_prefix="draw",
                          seed=seed)


def few_shot_spirals(n: int = 24, train_size: int = 5, test_size: int = 100, seed: int = 0) -> TaskGraph:
    """Three-armed spirals rotated round a ring, five training points each."""
    return generate_graph("ring", n, "spiral", base_params={"n_classes": 3, "noise": 0.1}, vary="rotate",
                          start=0.0, stop=360.0, relation="near", train_size=train_size, test_size=test_size, seed=seed)


def works_and_fails(works_n: int = 12, fails_n: int = 4, works_zero: tuple[int, ...] = (3,),
                    fails_zero: tuple[int, ...] = (1,), train_size: int = 40, test_size: int = 100,
                    seed: int = 0, fails_kind: str = "ring", fails_stop: float = 360.0) -> TaskGraph:
    """Two rings of rotated moons in one graph and one model: in the "works" ring neighbours are
    360°/works_n apart (30° by default), in the "fails" ring 360°/fails_n (90°).

    Task names start with "works" or "fails"; each ring has its own zero-shot task(s) at 90°. In
    the 90° ring that task's two neighbours (0° and 180°) are also the two neighbours of the seen
    270° task: its relations cannot tell it from a task it is not.
    """
    graph = TaskGraph([Relation("near", False, "#1f77b4")])
    for ring, n, zero, dx, kind, stop in (("works", works_n, works_zero, -1.3, "ring", 360.0),
                                          ("fails", fails_n, fails_zero, 1.3, fails_kind, fails_stop)):
        part = generate_graph(kind, n, "moons", base_params={"noise": 0.1}, vary="rotate", start=0.0, stop=stop,
                              relation="near", train_size=train_size, test_size=test_size, zero_shot=list(zero),
                              seed=seed * 2 + (ring == "fails"), name_prefix=ring)
        for task in part.tasks():
            x, y = task.pos
            graph.add_task(replace(task, pos=(x + dx, y)))
        for edge in part.edges():
            graph.add_edge(edge.source, edge.target, edge.relation, edge.weight)
    return graph


def speaker_grid(zero_shot: tuple[str, ...] = ("gb-high",), train_size: int = 40, test_size: int = 60,
                 seed: int = 0, family: str = "speech_words") -> TaskGraph:
    """Spoken-digit tasks, one per speaker variant, on a grid: voices down, vocal-tract sizes across.
    ``family`` is ``speech_words`` (which word) or ``speech_speaker`` (is it this speaker).

    "next size" links a voice's neighbouring sizes (deep … small) and "same size" links neighbouring
    voices at one size; the speakers named in ``zero_shot`` have no training data (an unseen speaker).
    """
    graph = TaskGraph([Relation("next size", False, "#1f77b4"), Relation("same size", False, "#2ca02c")])
    sizes, voices = list(SIZES), list(VOICES)
    for k, speaker in enumerate(SPEAKERS):
        voice, size = speaker.split("-")
        graph.add_task(Task(speaker, family, {"speaker": speaker}, 0 if speaker in zero_shot else train_size,
                            test_size, seed * 100 + k, (1.5 * sizes.index(size), -1.5 * voices.index(voice))))
    for speaker in SPEAKERS:
        voice, size = speaker.split("-")
        v, z = voices.index(voice), sizes.index(size)
        if z + 1 < len(sizes):
            graph.add_edge(speaker, f"{voice}-{sizes[z + 1]}", "next size")
        if v + 1 < len(voices):
            graph.add_edge(speaker, f"{voices[v + 1]}-{size}", "same size")
    return graph


UNSEEN_SPEAKERS = ("us-high", "sc-small", "gb-deep")


def unseen_speakers(zero_shot: tuple[str, ...] = UNSEEN_SPEAKERS, train_size: int = 80, test_size: int = 120,
                    seed: int = 0) -> TaskGraph:
    """The speaker grid's "is it this speaker?" tasks with a few speakers held out, one per voice and spread over
    the sizes, so each unseen speaker is placed by the speakers who share its size and those who share its voice.

    A speaker task has 240 utterances (its 120 and as many of the others'): 80 train and 120 test each leaves
    a held-out speaker 120 test utterances, so one wrong answer moves its accuracy by under 0.01."""
    return speaker_grid(zero_shot=zero_shot, train_size=train_size, test_size=test_size, seed=seed,
                        family="speech_speaker")


# ----------------------------------------------------------------------------------- metrics
def hop_distance(graph: TaskGraph) -> dict[str, int]:
    """Hops from each task to the nearest task with training data (edges count both ways)."""
    simple = graph.nx.to_undirected(as_view=True)
    dist = {t.name: 0 for t in graph.tasks() if not t.zero_shot}
    queue = deque(dist)
    while queue:
        u = queue.popleft()
        for v in simple.neighbors(u):
            if v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def _mean_of(history: History, names: list[str]) -> float:
    final = history.final_metrics()
    values = [final[n] for n in names if n in final and np.isfinite(final[n])]
    return float(np.mean(values)) if values else float("nan")


def zero_shot_mean(graph: TaskGraph, history: History) -> float:
    return _mean_of(history, [t.name for t in graph.tasks() if t.zero_shot])


def seen_mean(graph: TaskGraph, history: History) -> float:
    return _mean_of(history, [t.name for t in graph.tasks() if not t.zero_shot])


def hop_mean(hops: int) -> Callable[[TaskGraph, History], float]:
    """The mean metric of the zero-shot tasks exactly ``hops`` hops from data."""

    def measure(graph: TaskGraph, history: History) -> float:
        dist = hop_distance(graph)
        return _mean_of(history, [name for name, d in dist.items() if d == hops and graph.task(name).zero_shot])

    measure.__name__ = f"hop_{hops}_mean"
    return measure


three_hop_mean = hop_mean(3)


def group_zero_shot_mean(prefix: str) -> Callable[[TaskGraph, History], float]:
    """The mean metric of the zero-shot tasks whose names start with ``prefix``."""

    def measure(graph: TaskGraph, history: History) -> float:
        return _mean_of(history, [t.name for t in graph.tasks() if t.zero_shot and t.name.startswith(prefix)])

    measure.__name__ = f"{prefix}_zero_shot_mean"
    return measure


# ----------------------------------------------------------------------------------- baselines from a trained model
def _as_trained(graph: TaskGraph, edges: Edges | None) -> TaskGraph:
    """``graph`` with the edges a model was trained with (``None``: its own), for its predictor."""
    if edges is None:
        return graph
    out = graph.copy()
    for edge in out.edges():
        out.remove_edge(edge.source, edge.target, edge.relation)
    for edge in edges:
        out.add_edge(edge.source, edge.target, edge.relation, edge.weight)
    return out


def neighbour_average_metric(graph: TaskGraph, result: TrainResult, edges: Edges | None = None) -> float:
    """Zero-shot metric (MSE, or accuracy for classes) of the neighbour average: each zero-shot task's output
    is the relation-weighted mean of its neighbours' outputs (values or class probabilities) under ``result``'s
    model (trained with ``edges``), averaged along ``graph``'s own edges. The simplest use of the same
    relations, with no GNN."""
    from ragviz.inspection.baselines import baseline_zero_shot

    values = baseline_zero_shot(result.model, _as_trained(graph, edges), edges=graph.edges())
    return float(np.mean(list(values.values()))) if values else float("nan")


def zero_shot_recognised(graph: TaskGraph, result: TrainResult, edges: Edges | None = None) -> float:
    """Share of the zero-shot drawing tasks' test drawings a frozen classifier recognises as the digit asked for
    (:func:`ragviz.data.drawing.recognised`), mean over those tasks."""
    from ragviz.data.domains import make_task_data
    from ragviz.data.drawing import digits_of, recognised, rotation_of
    from ragviz.inspection.baselines import model_predictor

    predict = model_predictor(result.model, _as_trained(graph, edges))
    shares = []
    for task in graph.tasks():
        if task.zero_shot:
            x = make_task_data(task).x_test
            shares.append(recognised(predict(task.name, x), digits_of(x), rotation_of(task)))
    return float(np.mean(shares)) if shares else float("nan")
