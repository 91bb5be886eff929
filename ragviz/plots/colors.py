"""One colour per task and per relation, the same on every page.

Tasks are coloured by the first numeric parameter that varies across the graph (say the
rotation of a ring of moons), else by family; relations use their declared colour.
"""

from __future__ import annotations

from typing import Any

from plotly.colors import qualitative, sample_colorscale

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import FAMILY_DOMAIN

SELF_COLOR = "#9e9e9e"
ZERO_SHOT_SYMBOL = "star"
SEEN_SYMBOL = "circle"
FAMILY_COLORS: dict[str, str] = {
    family: qualitative.Safe[i % len(qualitative.Safe)] for i, family in enumerate(FAMILY_DOMAIN)
}
CYCLIC = {"rotate", "phase"}
#: Class k's colour on every page and figure: class 0 blue, class 1 red, then a qualitative cycle.
CLASS_COLORS: tuple[str, ...] = ("#2166ac", "#b2182b", *qualitative.Dark2)


def class_color(k: int) -> str:
    """The colour of class ``k`` (the same in outputs, data previews, text figures and legends)."""
    return CLASS_COLORS[int(k) % len(CLASS_COLORS)]


def class_palette(n_classes: int) -> list[str]:
    """The colours of classes 0…n−1, in order."""
    return [class_color(k) for k in range(max(int(n_classes), 0))]


def varying_parameters(graph: TaskGraph) -> list[str]:
    """Numeric parameters whose value differs between tasks, in a stable order."""
    values: dict[str, set[float]] = {}
    for task in graph.tasks():
        for key, value in task.full_params().items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values.setdefault(key, set()).add(float(value))
    return sorted(k for k, v in values.items() if len(v) > 1)


def default_color_by(graph: TaskGraph) -> str:
    varying = varying_parameters(graph)
    return varying[0] if varying else "family"


def color_options(graph: TaskGraph) -> list[str]:
    return ["family", *varying_parameters(graph)]


def task_colors(graph: TaskGraph, by: str | None = None) -> dict[str, str]:
    """Task name → colour; ``by`` is 'family' or a numeric parameter (default: see module doc)."""
    by = by or default_color_by(graph)
    tasks = graph.tasks()
    if by == "family":
        return {t.name: FAMILY_COLORS.get(t.family, "#636efa") for t in tasks}
    raw: dict[str, Any] = {t.name: t.full_params().get(by) for t in tasks}
    numbers = {k: float(v) for k, v in raw.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if not numbers:
        return {t.name: FAMILY_COLORS.get(t.family, "#636efa") for t in tasks}
    if by in CYCLIC and by == "rotate":
        fractions = {k: (v % 360.0) / 360.0 for k, v in numbers.items()}
        scale = "Phase"
    else:
        low, high = min(numbers.values()), max(numbers.values())
        span = (high - low) or 1.0
        fractions = {k: (v - low) / span for k, v in numbers.items()}
        scale = "Viridis"
    sampled = dict(zip(fractions, sample_colorscale(scale, list(fractions.values())), strict=True))
    return {name: sampled.get(name, "#9e9e9e") for name in raw}


def curve_colors(graph: TaskGraph) -> dict[str, str]:
    """Task name → a colour no other task has, for training curves (one line per task).

    The tasks' usual colours (:func:`task_colors`) when they are already distinct, so a task looks
    the same on every page; when two tasks share one (four tasks at rotation 0°), every task gets
    its own from a qualitative palette instead, in the graph's task order.
    """
    colors = task_colors(graph)
    if len(set(colors.values())) == len(colors):
        return colors
    names = list(colors)
    if len(names) <= len(qualitative.Dark24):
        palette = list(qualitative.Dark24[:len(names)])
    else:
        palette = sample_colorscale("Turbo", [i / (len(names) - 1) for i in range(len(names))])
    return dict(zip(names, palette, strict=True))


def relation_colors(graph: TaskGraph) -> dict[str, str]:
    """Relation name → declared colour; inverse directions share it; self-loops are grey."""
    colors = {name: rel.color for name, rel in graph.relations.items()}
    colors.update({f"{name}⁻¹": rel.color for name, rel in graph.relations.items()})
    colors["self"] = SELF_COLOR
    return colors
