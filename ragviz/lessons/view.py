"""What the app shows of an open lesson: the tasks its claim is about, where to look, and its contrast.

A lesson's claim is about some tasks (the zero-shot tasks, or those three hops from data, or the
few-shot tasks); every figure marks them. Each lesson names the pages to look at, with the task
and layer to look at them with ("go there"). Its contrast's figures come from the claims table
the last sample build recorded (``sample_models/RESULTS.json``), seed by seed, so the app shows
exactly what the table says, including the seed where the claim came out weakest. Pure: no
Streamlit, so all of this is tested without a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ragviz.graph.task_graph import TaskGraph
from ragviz.lessons.graphs import hop_distance

#: Page identifiers a go-there target can name (the stems of the app's page files).
TASK_GRAPH, TRAIN, MESSAGE_PASSING, EMBEDDINGS, TASK_OUTPUTS = (
    "task_graph", "train", "message_passing", "embeddings", "task_outputs")
LAST_LAYER = -1  # a go-there layer meaning "the model's last layer"


@dataclass(frozen=True)
class GoThere:
    """A "go there" link: open ``page`` with ``task`` in focus (and ``layer``, where the page has layers)."""

    label: str
    page: str
    task: str | None = None
    layer: int | None = None


# ----------------------------------------------------------------------------- claim tasks
def _zero_shot(graph: TaskGraph) -> list[str]:
    return [t.name for t in graph.tasks() if t.zero_shot]


def _seen(graph: TaskGraph) -> list[str]:
    return [t.name for t in graph.tasks() if not t.zero_shot]


def _three_hops(graph: TaskGraph) -> list[str]:
    dist = hop_distance(graph)
    return [t.name for t in graph.tasks() if t.zero_shot and dist.get(t.name) == 3]


def _both_rings(graph: TaskGraph) -> list[str]:
    """The failing ring's zero-shot task first, then the working ring's (its contrast)."""
    zero = _zero_shot(graph)
    return [n for n in zero if n.startswith("fails")] + [n for n in zero if n.startswith("works")]


#: Which tasks each lesson's claim (and its contrast) is measured on, read from the graph as it is now.
CLAIM_TASKS: dict[str, Callable[[TaskGraph], list[str]]] = {
    "message_passing_hops": _three_hops,
    "zero_shot_ring": _zero_shot,
    "relation_types": _zero_shot,
    "wrong_relations": _zero_shot,
    "real_digits": _zero_shot,
    "few_shot": _seen,
    "when_zero_shot_fails": _both_rings,
    "text_tasks": _zero_shot,
    "drawing_rotations": _zero_shot,
    "unseen_speakers": _zero_shot,
}


def claim_tasks(key: str | None, graph: TaskGraph) -> list[str]:
    """The tasks the lesson's claim is about, in graph order (none for an unknown lesson)."""
    pick = CLAIM_TASKS.get(key or "")
    return pick(graph) if pick is not None else []


# ----------------------------------------------------------------------------- go there
#: Per lesson: (label, page, layer) of each link; the task is the first claim task.
_TARGETS: dict[str, tuple[tuple[str, str, int | None], ...]] = {
    "message_passing_hops": (("A 3-hop task at layer 3", MESSAGE_PASSING, 3),
                             ("Its curve vs the dashed truth", TASK_OUTPUTS, None)),
    "zero_shot_ring": (("Zero-shot boundaries", TASK_OUTPUTS, None),
                       ("Where a zero-shot task lands", EMBEDDINGS, None),
                       ("Messages into it", MESSAGE_PASSING, LAST_LAYER)),
    "relation_types": (("Same vs flipped outputs", TASK_OUTPUTS, None),
                       ("Messages into a zero-shot task", MESSAGE_PASSING, LAST_LAYER)),
    "wrong_relations": (("Zero-shot boundaries", TASK_OUTPUTS, None),
                        ("A zero-shot task's edges", TASK_GRAPH, None)),
    "real_digits": (("Zero-shot confusion matrices", TASK_OUTPUTS, None),
                    ("Where the held-out angles land", EMBEDDINGS, None)),
    "few_shot": (("Spiral arms from five points", TASK_OUTPUTS, None),
                 ("Messages into a task", MESSAGE_PASSING, LAST_LAYER)),
    "when_zero_shot_fails": (("The failing zero-shot task", TASK_OUTPUTS, None),
                             ("Where it lands", EMBEDDINGS, None)),
    "text_tasks": (("The hotel tasks' answers", TASK_OUTPUTS, None),
                   ("Messages into a hotel task", MESSAGE_PASSING, LAST_LAYER)),
    "drawing_rotations": (("Zero-shot drawings beside the truth", TASK_OUTPUTS, None),
                          ("Where the held-out angles land", EMBEDDINGS, None)),
    "unseen_speakers": (("An unseen speaker's answers", TASK_OUTPUTS, None),
                        ("Messages into an unseen speaker", MESSAGE_PASSING, LAST_LAYER),
                        ("Where the unseen speakers land", EMBEDDINGS, None)),
}


def go_there_targets(key: str | None, graph: TaskGraph, layers: int) -> list[GoThere]:
    """The lesson's links, each with the task to focus and a layer within ``1…layers`` (None: no layers)."""
    tasks = claim_tasks(key, graph)
    task = tasks[0] if tasks else None
    out = []
    for label, page, layer in _TARGETS.get(key or "", ()):
        if layer is not None:
            layer = None if layers < 1 else (layers if layer == LAST_LAYER else min(layer, layers))
        out.append(GoThere(label, page, task, layer))
    return out


# ----------------------------------------------------------------------------- contrast figures
def seed_margins(model: Sequence[float], contrast: Sequence[float], lower_is_better: bool = False,
                 chance: float | None = None, below_chance: bool = False) -> list[float]:
    """How far each seed clears the lesson's rule (larger is better; the claim's weakest seed has the least).

    Accuracy: model − contrast; MSE: contrast ÷ model; judged against chance: the distance from
    chance on the rule's side.
    """
    out = []
    for m, c in zip(model, contrast, strict=True):
        if m is None or c is None or not (np.isfinite(m) and np.isfinite(c)):
            out.append(float("nan"))
        elif chance is not None:
            out.append((chance - m) if below_chance else (m - chance))
        elif lower_is_better:
            out.append(c / m if m > 0 else float("inf"))
        else:
            out.append(m - c)
    return out


@dataclass(frozen=True)
class ContrastFigures:
    """One lesson's recorded claim: the model and its contrast on every seed, and the rule they were judged by."""

    model_label: str
    contrast_label: str
    metric: str
    seeds: list[int]
    model: list[float]
    contrast: list[float]
    holds: bool
    requirement: str
    lower_is_better: bool = False
    chance: float | None = None
    below_chance: bool = False

    @classmethod
    def from_record(cls, record: Any, lesson: Any = None) -> ContrastFigures:
        """From a recorded claim (``ClaimResult`` or its dict) and, if known, the ``Lesson`` (for its chance rule)."""
        get = record.get if isinstance(record, dict) else (lambda name, default=None: getattr(record, name, default))
        return cls(str(get("model_label", "model")), str(get("contrast_label", "contrast")), str(get("metric", "")),
                   [int(s) for s in get("seeds", [])], [_num(v) for v in get("model", [])],
                   [_num(v) for v in get("contrast", [])], bool(get("holds", False)), str(get("requirement", "")),
                   bool(get("lower_is_better", False)), getattr(lesson, "chance", None),
                   bool(getattr(lesson, "below_chance", False)))

    def margins(self) -> list[float]:
        return seed_margins(self.model, self.contrast, self.lower_is_better, self.chance, self.below_chance)

    def worst_seed(self) -> int | None:
        """The seed on which the claim came out weakest (an unmeasured seed counts as weakest)."""
        margins = self.margins()
        if not margins:
            return None
        ranked = [-np.inf if np.isnan(m) else m for m in margins]
        return self.seeds[int(np.argmin(ranked))]

    def table(self, weakest: str = " (weakest)") -> pd.DataFrame:
        """One row per seed: the model, the contrast, and the rule's margin; the weakest seed marked ``weakest``."""
        worst = self.worst_seed()
        margin = "contrast ÷ model" if self.lower_is_better and self.chance is None else (
            "distance from chance" if self.chance is not None else "model − contrast")
        return pd.DataFrame({
            "seed": [f"{s}{weakest}" if s == worst else str(s) for s in self.seeds],
            self.model_label: self.model, self.contrast_label: self.contrast, margin: self.margins()})

    def summary(self) -> str:
        """'model 0.92 (weakest seed 12: 0.77) vs contrast 0.49': the means and the weakest seed, in words."""
        if not self.model:
            return "No figures recorded."
        worst = self.worst_seed()
        i = self.seeds.index(worst) if worst in self.seeds else 0
        return (f"{self.model_label}: mean {_fmt(np.nanmean(self.model))}; {self.contrast_label}: mean "
                f"{_fmt(np.nanmean(self.contrast))}. Weakest seed {worst}: {_fmt(self.model[i])} vs "
                f"{_fmt(self.contrast[i])}.")


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _fmt(value: float) -> str:
    return f"{value:.3f}" if np.isfinite(value) else "n/a"


def per_task_comparison(names: Sequence[str], zero_shot: Sequence[bool], model: dict[str, float],
                        contrast: dict[str, float], claim: Sequence[str], model_label: str,
                        contrast_label: str) -> pd.DataFrame:
    """The claim's tasks (then a mean row): ★ for zero-shot, the model's metric and the contrast's side by side."""
    zero = dict(zip(names, zero_shot, strict=True))
    rows = [{"task": n, "zero-shot": "★" if zero.get(n) else "", model_label: model.get(n, np.nan),
             contrast_label: contrast.get(n, np.nan)} for n in claim if n in zero]
    if rows:
        frame = pd.DataFrame(rows)
        rows.append({"task": "Mean", "zero-shot": "", model_label: float(np.nanmean(frame[model_label])),
                     contrast_label: float(np.nanmean(frame[contrast_label]))})
    return pd.DataFrame(rows, columns=["task", "zero-shot", model_label, contrast_label])
