"""Does the trained model still fit the task graph on screen? What every page says when it does not.

Pure (no Streamlit): the app's banner, the pages that look inside a model and the tests all
ask :func:`model_fit` and :func:`fit_message`, so "the graph changed since training" is
decided in one place. Moving tasks on the drawing is not a change: positions are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from ragviz.graph.task_graph import TaskGraph

#: What ★ means on every page: one sentence, shown wherever the mark is explained.
ZERO_SHOT_MEANING = ("★ zero-shot: a task the model has no training data for (train size 0, or added after "
                     "training), so its predictor comes from its relations alone")


class Fit(StrEnum):
    """How the graph on screen relates to the session's trained model."""

    MATCH = "match"  # the graph the model was trained on (maybe moved around)
    NO_MODEL = "no model"  # nothing trained or opened yet
    EDITED = "edited"  # same domain, some of its tasks known to the model, something changed
    NEW_GRAPH = "new graph"  # the model knows none of these tasks: every prediction is the same guess
    OTHER_DOMAIN = "other domain"  # the model cannot even run on these tasks


@dataclass(frozen=True)
class ModelFit:
    """The verdict with what changed, so the message can say it in numbers."""

    fit: Fit
    added: tuple[str, ...] = ()  # tasks not in the trained graph
    removed: tuple[str, ...] = ()  # tasks of the trained graph no longer here
    changed: tuple[str, ...] = ()  # tasks whose data (family, parameters, sizes, seed) changed
    untrained: tuple[str, ...] = ()  # tasks with training data that the model never trained on
    edges_changed: int = 0  # edges added, removed or re-weighted (relations included)
    details: dict[str, str] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return self.fit == Fit.MATCH

    @property
    def can_look_inside(self) -> bool:
        """Whether showing the model on this graph says anything (it runs, and knows some task)."""
        return self.fit in (Fit.MATCH, Fit.EDITED)


def _task_keys(graph: TaskGraph) -> dict[str, str]:
    """Each task's data as a comparable key: everything but its position on the drawing."""
    return {name: json.dumps({k: v for k, v in attrs.items() if k != "pos"}, sort_keys=True, default=str)
            for name, attrs in graph.nx.nodes(data=True)}


def _edge_set(graph: TaskGraph) -> set[tuple[str, str, str, float, bool]]:
    directed = {name: rel.directed for name, rel in graph.relations.items()}
    out = set()
    for u, v, relation, data in graph.nx.edges(keys=True, data=True):
        d = directed.get(relation, True)
        if not d and v < u:
            u, v = v, u
        out.add((u, v, relation, float(data.get("weight", 1.0)), d))
    return out


def model_fit(graph: TaskGraph, trained_graph: TaskGraph | None, model_domain: str | None = None,
              known_tasks: Sequence[str] | None = None) -> ModelFit:
    """Compare the graph on screen with the one the model was trained on.

    ``model_domain`` is the model's data domain (default: the trained graph's); ``known_tasks``
    the tasks that have a trained embedding (default: the trained graph's tasks with training data).
    """
    if trained_graph is None:
        return ModelFit(Fit.NO_MODEL)
    domain = model_domain if model_domain is not None else trained_graph.domain
    keys, old_keys = _task_keys(graph), _task_keys(trained_graph)
    names = list(keys)
    trains = {name: int(attrs.get("train_size", 0)) for name, attrs in graph.nx.nodes(data=True)}
    known = set(known_tasks) if known_tasks is not None else {
        name for name, attrs in trained_graph.nx.nodes(data=True) if int(attrs.get("train_size", 0)) > 0}
    added = tuple(n for n in names if n not in old_keys)
    removed = tuple(n for n in old_keys if n not in keys)
    changed = tuple(n for n in names if n in old_keys and keys[n] != old_keys[n])
    untrained = tuple(n for n in names if trains[n] > 0 and n not in known)
    edges_changed = len(_edge_set(graph) ^ _edge_set(trained_graph))
    relations_changed = ({n: r.directed for n, r in graph.relations.items()}
                         != {n: r.directed for n, r in trained_graph.relations.items()})
    parts = {"added": added, "removed": removed, "changed": changed, "untrained": untrained,
             "edges_changed": edges_changed + int(relations_changed)}
    if graph.number_of_tasks() and graph.domain is not None and domain is not None and graph.domain != domain:
        return ModelFit(Fit.OTHER_DOMAIN, **parts, details={"model": domain, "graph": graph.domain})
    if not (added or removed or changed or edges_changed or relations_changed):
        return ModelFit(Fit.MATCH)
    if names and not any(n in known for n in names):
        return ModelFit(Fit.NEW_GRAPH, **parts)
    return ModelFit(Fit.EDITED, **parts)


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def fit_message(fit: ModelFit, training: bool = False) -> str | None:
    """The banner's text for this verdict (plain text, no user names), or None when there is nothing to say.

    ``training``: a run on this graph is going, so the advice is to wait, not to train.
    """
    if fit.fit == Fit.MATCH:
        return None
    then = ("A model is training on this graph now: every page switches to it when it finishes."
            if training else "Train on this graph to see what RAG learns from it.")
    if fit.fit == Fit.NO_MODEL:
        return f"No trained model for this graph yet, so there is nothing to look inside. {then}"
    if fit.fit == Fit.OTHER_DOMAIN:
        return (f"This graph's tasks are {fit.details['graph']} tasks, but the trained model is for "
                f"{fit.details['model']} tasks: it cannot run on them, so the pages that look inside show "
                f"nothing. {then}")
    if fit.fit == Fit.NEW_GRAPH:
        return ("This is not the graph the model was trained on: the model knows none of its tasks, so every "
                "task would get the same guessed predictor (about chance level everywhere). The pages that look "
                f"inside show nothing until a model is trained on it. {then}")
    what = [_count(len(fit.added), "task") + " added"] if fit.added else []
    what += [_count(len(fit.removed), "task") + " removed"] if fit.removed else []
    what += [_count(len(fit.changed), "task") + " with changed data"] if fit.changed else []
    what += [_count(fit.edges_changed, "edge or relation", "edges or relations") + " changed"] \
        if fit.edges_changed else []
    text = (f"The graph changed since the model was trained ({', '.join(what)}): pages show the trained model "
            "on it without retraining")
    if fit.untrained:
        n = len(fit.untrained)
        text += f", and {_count(n, 'task')} it never trained on {'is' if n == 1 else 'are'} zero-shot ★ for it"
    return f"{text}. {then}"
