"""What a lesson is: a graph, a model, a contrast and a claim, and the rule that judges the claim.

The catalogue of lessons (:mod:`ragviz.lessons.catalogue`) and the text lesson
(:mod:`ragviz.lessons.text_lesson`) both build :class:`Lesson` records; keeping the record here lets the
catalogue list every lesson, the text one included, without an import cycle or a registration by side effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edges
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.ablations import ablation_setup
from ragviz.training.history import History

#: Seeds the claims are measured on (the shipped checkpoints are the first); tuning used 0–5.
LESSON_SEEDS = (11, 12, 13, 14, 15)
#: A claim on accuracy holds when, on every seed, the model beats the contrast by this much.
ACCURACY_MARGIN = 0.15
#: A claim on MSE holds when, on every seed, the contrast's MSE is at least this many times the model's.
MSE_RATIO = 3.0


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
    #: Further figures that need a trained model itself (a baseline built from its heads): name →
    #: measure(graph, TrainResult, the edges it was trained with or None), for the model and the contrast; not judged.
    also_trained: dict[str, Callable[[TaskGraph, Any, Edges | None], float]] = field(default_factory=dict)
    mse_ratio: float = MSE_RATIO  # for MSE claims: how many times the model's MSE the contrast's must be

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
            return all(c >= self.mse_ratio * m for m, c in zip(model, contrast, strict=True))
        return all(m - c >= self.margin - 1e-9 for m, c in zip(model, contrast, strict=True))

    @property
    def requirement(self) -> str:
        if self.chance is not None:
            rule = "≤" if self.below_chance else "≥"
            sign = "−" if self.below_chance else "+"
            return (f"model {rule} chance ({self.chance:g}) {sign} {self.margin:g} on every seed; "
                    "the contrast is shown, not judged")
        if self.lower_is_better:
            return f"contrast ≥ {self.mse_ratio:g}× model on every seed"
        return f"model ≥ contrast + {self.margin:g} on every seed"
