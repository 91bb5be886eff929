"""The six lessons behind the shipped samples: each a graph, a model, a contrast and a claim.

A lesson says something true about RAG and measures it: the lesson's model and its
contrast (the same data with one thing changed: fewer layers, relation-blind messages,
shuffled edges, independent heads) are trained side by side, and the claim holds only when
the model beats the contrast by a clear margin on every seed. ``quick=True`` gives a
smaller version of each lesson that trains in seconds, for the test suite.

The settings below were tuned so every claim holds with a wide margin on seeds 0–5; the
lesson texts (in :mod:`ragviz.samples`) explain why each setting is what it is.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ragviz.ablations import ablation_setup
from ragviz.config import ModelConfig, TrainConfig
from ragviz.generators import generate_graph, ring_of_moons
from ragviz.graph import Edges, Relation, Task, TaskGraph
from ragviz.history import History
from ragviz.train import TrainResult, train

#: A claim on accuracy holds when the model's worst seed beats the contrast's best seed by this much.
ACCURACY_MARGIN = 0.15
#: A claim on MSE holds when the contrast's best seed has at least this many times the model's worst MSE.
MSE_RATIO = 3.0


# ----------------------------------------------------------------------------------- graphs
def hop_chain(n: int = 61, held_out: tuple[int, ...] = (18, 42), train_size: int = 30, test_size: int = 50,
              weight: float = 3.0) -> TaskGraph:
    """A chain of sine tasks whose phase turns once along the chain; every third task has data.

    Tasks between data tasks have none, so a held-out data position (a multiple of 3) is
    exactly three hops from the nearest data. Edges weigh ``weight`` so that, summed, the
    neighbours' messages outweigh a data-less task's own (shared, uninformative) state.
    """
    zero = [k for k in range(n) if k % 3 != 0 or k in held_out]
    graph = generate_graph("chain", n, "sine", vary="phase", start=0.0, stop=2 * math.pi * (n - 1) / n,
                           relation="next", train_size=train_size, test_size=test_size, zero_shot=zero)
    for edge in graph.edges():
        graph.set_edge_weight(edge.source, edge.target, edge.relation, weight)
    return graph


def typed_relations(rotations: tuple[int, ...] = (0, 60, 120), train_size: int = 40,
                    test_size: int = 100) -> TaskGraph:
    """Groups of rotated moons: a task, its copy ("same"), its flipped twin ("labels flipped"),
    and two zero-shot tasks linked to the task, one by each relation.

    The two zero-shot tasks of a group have the same neighbour; only the relation type tells
    them apart, so a relation-blind model must give them the same predictor.
    """
    graph = TaskGraph([Relation("same", False, "#2ca02c"), Relation("labels flipped", False, "#d62728")])
    seed = 0
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
                                seed, pos))
            seed += 1
            if relation is not None:
                graph.add_edge(base, name, relation)
    return graph


def rotated_digits(train_size: int = 200, test_size: int = 200, zero_shot: tuple[int, ...] = (3, 8)) -> TaskGraph:
    """scikit-learn's 8×8 digits rotated in 30° steps round a ring; ``zero_shot`` angles held out."""
    return generate_graph("ring", 12, "digits_rotated", vary="rotate", start=0.0, stop=360.0, relation="near",
                          train_size=train_size, test_size=test_size, zero_shot=list(zero_shot), name_prefix="digits")


def few_shot_spirals(n: int = 24, train_size: int = 5, test_size: int = 100) -> TaskGraph:
    """Three-armed spirals rotated round a ring, five training points each."""
    return generate_graph("ring", n, "spiral", base_params={"n_classes": 3, "noise": 0.1}, vary="rotate",
                          start=0.0, stop=360.0, relation="near", train_size=train_size, test_size=test_size)


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


def three_hop_mean(graph: TaskGraph, history: History) -> float:
    dist = hop_distance(graph)
    return _mean_of(history, [name for name, d in dist.items() if d == 3])


# ----------------------------------------------------------------------------------- lessons
@dataclass(frozen=True)
class Lesson:
    """How to build, train and judge one sample; ``quick`` overrides make the CI version."""

    key: str
    graph: Callable[..., TaskGraph]
    model: ModelConfig
    train: TrainConfig
    contrast: str  # an ablation name, or "layers=N"
    model_label: str
    contrast_label: str
    metric: str  # what is measured, in words
    measure: Callable[[TaskGraph, History], float]
    lower_is_better: bool = False
    graph_kwargs: dict[str, Any] = field(default_factory=dict)
    quick_graph_kwargs: dict[str, Any] = field(default_factory=dict)
    quick_steps: int | None = None

    def build_graph(self, quick: bool = False) -> TaskGraph:
        return self.graph(**{**self.graph_kwargs, **(self.quick_graph_kwargs if quick else {})})

    def configs(self, seed: int, quick: bool = False) -> tuple[ModelConfig, TrainConfig]:
        steps = self.quick_steps if quick and self.quick_steps else self.train.steps
        return replace(self.model), replace(self.train, steps=steps, seed=seed, device="cpu")

    def contrast_setup(self, config: ModelConfig, graph: TaskGraph, seed: int) -> tuple[ModelConfig, Edges | None]:
        """The contrast's config and edges: the same data, one thing changed."""
        if self.contrast.startswith("layers="):
            return replace(config, layers=int(self.contrast.split("=", 1)[1])), None
        return ablation_setup(self.contrast, config, graph, seed)

    def holds(self, model: list[float], contrast: list[float]) -> bool:
        """Worst model seed against best contrast seed, with the margin for the metric's kind."""
        if not model or not contrast or not all(np.isfinite(model + contrast)):
            return False
        if self.lower_is_better:
            return min(contrast) >= MSE_RATIO * max(model)
        return min(model) - max(contrast) >= ACCURACY_MARGIN

    @property
    def requirement(self) -> str:
        if self.lower_is_better:
            return f"contrast ≥ {MSE_RATIO:g}× model on every seed"
        return f"model ≥ contrast + {ACCURACY_MARGIN:g} on every seed"


LESSONS: dict[str, Lesson] = {
    lesson.key: lesson
    for lesson in (
        Lesson(
            key="message_passing_hops",
            graph=hop_chain,
            model=ModelConfig(layers=3, aggregation="sum", task_dropout=0.4),
            train=TrainConfig(steps=1500, lr=0.005, eval_every=50),
            contrast="layers=1",
            model_label="3 layers",
            contrast_label="1 layer",
            metric="test MSE of the zero-shot tasks 3 hops from data",
            measure=three_hop_mean,
            lower_is_better=True,
            quick_graph_kwargs={"test_size": 20},
            quick_steps=1200,
        ),
        Lesson(
            key="zero_shot_ring",
            graph=ring_of_moons,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="no edges",
            model_label="RAG",
            contrast_label="no edges",
            metric="zero-shot accuracy",
            measure=zero_shot_mean,
            quick_steps=300,
        ),
        Lesson(
            key="relation_types",
            graph=typed_relations,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="relation-blind",
            model_label="relation-aware (mult)",
            contrast_label="relation-blind (none)",
            metric="zero-shot accuracy",
            measure=zero_shot_mean,
            quick_graph_kwargs={"rotations": (0, 90)},
            quick_steps=150,
        ),
        Lesson(
            key="wrong_relations",
            graph=ring_of_moons,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="shuffled edges",
            model_label="right edges",
            contrast_label="shuffled edges",
            metric="zero-shot accuracy",
            measure=zero_shot_mean,
            graph_kwargs={"n": 24, "zero_shot": (2, 7, 12, 17, 22)},
            quick_steps=150,
        ),
        Lesson(
            key="real_digits",
            graph=rotated_digits,
            model=ModelConfig(hidden=64, layers=1, task_dropout=0.2),
            train=TrainConfig(steps=1000, lr=0.005, eval_every=50),
            contrast="independent",
            model_label="RAG",
            contrast_label="independent heads",
            metric="zero-shot accuracy (10 classes)",
            measure=zero_shot_mean,
            quick_graph_kwargs={"train_size": 100, "test_size": 100},
            quick_steps=200,
        ),
        Lesson(
            key="few_shot",
            graph=few_shot_spirals,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="independent",
            model_label="RAG",
            contrast_label="independent heads",
            metric="test accuracy of tasks with 5 training points",
            measure=seen_mean,
            quick_steps=200,
        ),
    )
}


@dataclass
class LessonRun:
    """One seed of one lesson: both trained models and the measured metric of each."""

    key: str
    seed: int
    graph: TaskGraph
    model: TrainResult
    contrast: TrainResult
    model_value: float
    contrast_value: float
    contrast_model_config: ModelConfig
    contrast_edges: Edges | None
    seconds: float


def run_lesson(key: str, seed: int = 0, quick: bool = False, graph: TaskGraph | None = None) -> LessonRun:
    """Train a lesson's model and its contrast on the same data with the same seed."""
    lesson = LESSONS[key]
    start = time.perf_counter()
    graph = lesson.build_graph(quick) if graph is None else graph
    model_config, train_config = lesson.configs(seed, quick)
    model = train(graph, model_config, train_config)
    contrast_config, edges = lesson.contrast_setup(model_config, graph, seed)
    contrast = train(graph, contrast_config, train_config, edges=edges)
    return LessonRun(key, seed, graph, model, contrast, lesson.measure(graph, model.history),
                     lesson.measure(graph, contrast.history), contrast_config, edges,
                     time.perf_counter() - start)


def single_threaded() -> Any:
    """Context manager: small models train several times faster on one thread (and reproducibly)."""

    class _Threads:
        def __enter__(self) -> None:
            self.before = torch.get_num_threads()
            torch.set_num_threads(1)

        def __exit__(self, *exc: object) -> None:
            torch.set_num_threads(self.before)

    return _Threads()
