"""The lessons behind the shipped samples: each a graph, a model, a contrast and a claim.

A lesson says something true about RAG and measures it: the lesson's model and its
contrast (the same data with one thing changed: fewer layers, relation-blind messages,
shuffled or no edges, independent heads for seen tasks) are trained side by side, and the
claim holds only when, on every seed, the model beats that seed's contrast by the lesson's
margin. ``quick=True`` gives a
smaller version of each lesson that trains in seconds, for the test suite.

The settings below were tuned on seeds 0–5. Claims are measured on other seeds
(:data:`LESSON_SEEDS`), each of which sets both the data (every task's seed) and the model
(initialisation and training draws). For zero-shot claims the contrast is the same model with no
edges (or with one thing about the edges changed), never independent heads, whose zero-shot
output is a constant class. The lesson texts (in :mod:`ragviz.samples`) explain each setting.
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

#: Seeds the claims are measured on (the shipped checkpoints are the first); tuning used 0–5.
LESSON_SEEDS = (11, 12, 13, 14, 15)
#: A claim on accuracy holds when, on every seed, the model beats the contrast by this much.
ACCURACY_MARGIN = 0.15
#: A claim on MSE holds when, on every seed, the contrast's MSE is at least this many times the model's.
MSE_RATIO = 3.0


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


# ----------------------------------------------------------------------------------- lessons
@dataclass(frozen=True)
class Lesson:
    """How to build, train and judge one sample; ``quick`` overrides make the CI version.

    ``contrast`` is an ablation name, ``layers=N``, or ``same model``: the contrast is then the
    lesson's own trained model measured by ``contrast_measure`` on other tasks (a failing case
    beside a working one). ``also`` names further figures reported beside the claim (not judged).
    """

    key: str
    graph: Callable[..., TaskGraph]
    model: ModelConfig
    train: TrainConfig
    contrast: str
    model_label: str
    contrast_label: str
    metric: str  # what is measured, in words
    measure: Callable[[TaskGraph, History], float]
    lower_is_better: bool = False
    graph_kwargs: dict[str, Any] = field(default_factory=dict)
    quick_graph_kwargs: dict[str, Any] = field(default_factory=dict)
    quick_steps: int | None = None
    margin: float = ACCURACY_MARGIN  # for accuracy claims
    chance: float | None = None  # set: the rule is "model ≥ chance + margin"; the contrast is shown, not judged
    below_chance: bool = False  # with ``chance``: the rule is "model ≤ chance − margin" (a failure that is real)
    contrast_measure: Callable[[TaskGraph, History], float] | None = None
    also: dict[str, Callable[[TaskGraph, History], float]] = field(default_factory=dict)

    def build_graph(self, quick: bool = False, seed: int | None = None) -> TaskGraph:
        """The lesson's graph; ``seed`` sets its data (default: the shipped sample's seed)."""
        seed = LESSON_SEEDS[0] if seed is None else seed
        return self.graph(**{**self.graph_kwargs, **(self.quick_graph_kwargs if quick else {}), "seed": seed})

    def configs(self, seed: int, quick: bool = False) -> tuple[ModelConfig, TrainConfig]:
        steps = self.quick_steps if quick and self.quick_steps else self.train.steps
        return replace(self.model), replace(self.train, steps=steps, seed=seed, device="cpu")

    def contrast_setup(self, config: ModelConfig, graph: TaskGraph, seed: int) -> tuple[ModelConfig, Edges | None]:
        """The contrast's config and edges: the same data, one thing changed."""
        if self.contrast == "same model":
            return config, None
        if self.contrast.startswith("layers="):
            return replace(config, layers=int(self.contrast.split("=", 1)[1])), None
        return ablation_setup(self.contrast, config, graph, seed)

    def holds(self, model: list[float], contrast: list[float]) -> bool:
        """The rule on every seed: each seed's model against the same seed's contrast (same data)."""
        if not model or len(model) != len(contrast) or not all(np.isfinite(model + contrast)):
            return False
        if self.chance is not None:
            side = -1.0 if self.below_chance else 1.0
            return all(side * (m - self.chance) >= self.margin - 1e-9 for m in model)
        if self.lower_is_better:
            return all(c >= MSE_RATIO * m for m, c in zip(model, contrast, strict=True))
        return all(m - c >= self.margin - 1e-9 for m, c in zip(model, contrast, strict=True))

    @property
    def requirement(self) -> str:
        if self.chance is not None:
            rule = "≤" if self.below_chance else "≥"
            sign = "−" if self.below_chance else "+"
            return (f"model {rule} chance ({self.chance:g}) {sign} {self.margin:g} on every seed; "
                    "the contrast is shown, not judged")
        if self.lower_is_better:
            return f"contrast ≥ {MSE_RATIO:g}× model on every seed"
        return f"model ≥ contrast + {self.margin:g} on every seed"


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
            metric="test MSE of the two zero-shot tasks 3 hops from data",
            measure=three_hop_mean,
            lower_is_better=True,
            also={"1-hop zero-shot MSE": hop_mean(1), "2-hop zero-shot MSE": hop_mean(2)},
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
            contrast="no edges",
            model_label="RAG",
            contrast_label="no edges",
            metric="zero-shot accuracy (10 classes)",
            measure=zero_shot_mean,
            # Relations add little on rotated pixels (0.02 to 0.10 on tuning seeds 0–5, about nothing on some
            # report seeds): the claim is that held-out angles are far above chance, with no edges shown beside it.
            chance=0.1,
            quick_graph_kwargs={"test_size": 100},
            quick_steps=300,
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
        Lesson(
            key="when_zero_shot_fails",
            graph=works_and_fails,
            model=ModelConfig(),
            train=TrainConfig(steps=500),
            contrast="same model",
            model_label="90° ring's zero-shot task",
            contrast_label="30° ring's zero-shot task",
            metric="zero-shot accuracy of each ring's zero-shot task (same model)",
            measure=group_zero_shot_mean("fails"),
            contrast_measure=group_zero_shot_mean("works"),
            chance=0.5,
            below_chance=True,
            quick_steps=300,
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
    also: dict[str, tuple[float, float]] = field(default_factory=dict)  # name: (model, contrast)


def run_lesson(key: str, seed: int = LESSON_SEEDS[0], quick: bool = False,
               graph: TaskGraph | None = None) -> LessonRun:
    """Train a lesson's model and its contrast on the same data; ``seed`` sets the data and the model."""
    lesson = LESSONS[key]
    start = time.perf_counter()
    graph = lesson.build_graph(quick, seed) if graph is None else graph
    model_config, train_config = lesson.configs(seed, quick)
    model = train(graph, model_config, train_config)
    contrast_config, edges = lesson.contrast_setup(model_config, graph, seed)
    contrast = model if lesson.contrast == "same model" else train(graph, contrast_config, train_config, edges=edges)
    contrast_measure = lesson.contrast_measure or lesson.measure
    also = {name: (measure(graph, model.history), measure(graph, contrast.history))
            for name, measure in lesson.also.items()}
    return LessonRun(key, seed, graph, model, contrast, lesson.measure(graph, model.history),
                     contrast_measure(graph, contrast.history), contrast_config, edges,
                     time.perf_counter() - start, also)


def single_threaded() -> Any:
    """Context manager: small models train several times faster on one thread (and reproducibly)."""

    class _Threads:
        def __enter__(self) -> None:
            self.before = torch.get_num_threads()
            torch.set_num_threads(1)

        def __exit__(self, *exc: object) -> None:
            torch.set_num_threads(self.before)

    return _Threads()
