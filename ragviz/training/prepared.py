"""A graph turned into tensors once, and the per-task metrics computed on it.

Shared by training and by inference (the trace, counterfactuals), so neither imports the
other. Both entry points check the work budget before making any data, and both take an
optional stop flag (anything with ``is_set()``) checked between tasks and between chunks,
so a Stop takes effect in moments even on a graph that takes minutes to prepare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ragviz.data.domains import DomainSpec, TaskData, make_graph_data, task_n_classes
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edges
from ragviz.model.layouts import chunk_size
from ragviz.model.rag import RAGModel
from ragviz.model.tensors import GraphTensors, SplitTensors, graph_tensors, split_tensors
from ragviz.safety.errors import DataError, Stopped
from ragviz.safety.limits import check_budget, graph_points

STOPPED_MESSAGE = "Stopped before training began: nothing was trained."


@dataclass
class Prepared:
    """A graph turned into tensors once, so training and evaluation share it."""

    graph: TaskGraph
    spec: DomainSpec
    data: dict[str, TaskData]
    g: GraphTensors
    train: SplitTensors
    test: SplitTensors

    def to(self, device: torch.device | str) -> Prepared:
        return Prepared(self.graph, self.spec, self.data, self.g.to(device), self.train.to(device),
                        self.test.to(device))


def check_stop(stop: Any) -> None:
    """Raise :class:`Stopped` when ``stop`` (anything with ``is_set()``, or None) is set."""
    if stop is not None and stop.is_set():
        raise Stopped(STOPPED_MESSAGE)


def check_model_budget(graph: TaskGraph, model: RAGModel, n_edges: int | None = None, grid_points: int = 0) -> None:
    """The work budget for ``model`` on ``graph`` (tasks, edges, points, model size × points)."""
    edges = graph.number_of_edges() if n_edges is None else n_edges
    relations = max(len(graph.relations), len(model.vocab.relations))  # the model's slots follow its vocabulary
    check_budget(tasks=graph.number_of_tasks(), edges=edges, points=graph_points(graph), model=model.config,
                 relations=relations,
                 input_dim=model.spec.input_dim, n_outputs=model.spec.n_outputs, grid_points=grid_points)


def prepare(
    graph: TaskGraph,
    model: RAGModel,
    tables: dict[str, Any] | None = None,
    edges: Edges | None = None,
    stop: Any = None,
) -> Prepared:
    """Make every task's data and index it for ``model``; refuses over-budget work before making any."""
    check_model_budget(graph, model, None if edges is None else len(edges))
    data = make_graph_data(graph, tables, before_task=lambda: check_stop(stop))
    names = graph.task_names()
    classes = {t.name: task_n_classes(t, tables) for t in graph.tasks()}
    if not model.regression:
        too_many = [name for name, count in classes.items() if count > model.spec.n_outputs]
        if too_many:
            raise DataError(f"Task(s) {', '.join(too_many[:5])} have more classes than the model's "
                            f"{model.spec.n_outputs} outputs; train again to include them.")
    dims = {np.asarray(d.x_test).reshape(len(d.x_test), -1).shape[1] for d in data.values() if len(d.x_test)}
    if dims and dims != {model.spec.input_dim}:
        raise DataError(f"The tasks' inputs have {sorted(dims)} features but the model expects "
                        f"{model.spec.input_dim}; train again on this data.")
    check_stop(stop)
    g = graph_tensors(graph, model.vocab, classes, edges)
    regression = model.regression
    train = split_tensors(names, data, "train", regression)
    check_stop(stop)
    return Prepared(graph, model.spec, data, g, train, split_tensors(names, data, "test", regression))


def per_task_mean(values: torch.Tensor, tid: torch.Tensor, n_tasks: int,
                  counts: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of per-point values within each task (NaN for a task with no points); ``counts`` if known."""
    total = torch.zeros(n_tasks, dtype=values.dtype, device=values.device).index_add_(0, tid, values)
    if counts is None:
        counts = torch.zeros(n_tasks, dtype=values.dtype, device=values.device).index_add_(
            0, tid, torch.ones_like(values))
    return total / counts.to(values.dtype)


@torch.no_grad()
def evaluate(model: RAGModel, prep: Prepared, split: str = "test", stop: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-task loss and metric (accuracy or MSE) on one split, all tasks in one call.

    Decodes chunk by chunk of whole tasks, checking ``stop`` between chunks (raises :class:`Stopped`).
    """
    model.eval()
    part = prep.train if split == "train" else prep.test
    g = prep.g
    n = g.n_tasks
    if len(part) == 0:
        return np.full(n, np.nan), np.full(n, np.nan)
    states, _ = model.embed_tasks(g, keep_messages=False)
    heads = model.task_heads(states[-1], g)
    chunks = part.layout.chunks(chunk_size(part.x.device)) or [((0, n, 0, len(part)), part.layout)]
    outs = []
    for (lo, hi, a, b), layout in chunks:
        check_stop(stop)
        outs.append(model.decode_points(heads.rows(lo, hi), part.x[a:b], part.tid[a:b] - lo, layout))
    return split_metrics(model, torch.cat(outs), part, n)


def split_metrics(model: RAGModel, out: torch.Tensor, part: SplitTensors, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-task loss and metric from the model's outputs ``out`` on the points of ``part``."""
    counts = part.layout.counts
    loss = per_task_mean(model.point_loss(out, part.y), part.tid, n, counts)
    if model.regression:
        metric = loss
    else:
        metric = per_task_mean((out.argmax(-1) == part.y).float(), part.tid, n, counts)
    return loss.cpu().numpy().astype(float), metric.cpu().numpy().astype(float)
