"""A graph checked and turned into tensors once, and the per-task metrics computed on it.

The one way into training (docs/DESIGN.md §7): :func:`check_work` validates the graph and weighs
the work budget once (cheap, so a run does it before it queues); :func:`prepare` then makes the
vocabulary, every task's data and the tensors, and the model is built from what it returns.
Inference (the trace, counterfactuals) prepares for a model it already has. Shared by training
and inference, so neither imports the other. Both take an optional stop flag (anything with
``is_set()``) checked between tasks and between chunks, so a Stop takes effect in moments even
on a graph that takes minutes to prepare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ragviz.data.domains import DomainSpec, TaskData, domain_spec, graph_data_items, task_n_classes
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edges
from ragviz.model.config import ModelConfig
from ragviz.model.layouts import chunk_size
from ragviz.model.rag import RAGModel
from ragviz.model.tensors import GraphTensors, SplitTensors, Vocab, graph_tensors, make_vocab, split_tensors
from ragviz.safety.errors import DataError, Stopped
from ragviz.safety.limits import check_graph_budget

STOPPED_MESSAGE = "Stopped before training began: nothing was trained."


@dataclass(frozen=True)
class Checked:
    """A graph that passed validation and the work budget for one model config, with its domain spec.

    What :func:`check_work` returns and :func:`prepare` takes, so a run that checked before it
    queued (errors reach the page at once) does not check again when it trains.
    """

    graph: TaskGraph
    model_config: ModelConfig
    spec: DomainSpec
    tables: dict[str, Any] | None = None
    edges: Edges | None = None
    models: int = 1  # how many models trained together the budget was weighed for (an ensemble's K)


@dataclass
class Prepared:
    """A graph turned into tensors once, so training and evaluation share it; ``vocab`` builds its model."""

    graph: TaskGraph
    spec: DomainSpec
    data: dict[str, TaskData]
    g: GraphTensors
    train: SplitTensors
    test: SplitTensors
    vocab: Vocab | None = None

    def to(self, device: torch.device | str) -> Prepared:
        return Prepared(self.graph, self.spec, self.data, self.g.to(device), self.train.to(device),
                        self.test.to(device), self.vocab)


def check_stop(stop: Any) -> None:
    """Raise :class:`Stopped` when ``stop`` (anything with ``is_set()``, or None) is set."""
    if stop is not None and stop.is_set():
        raise Stopped(STOPPED_MESSAGE)


def _edge_count(graph: TaskGraph, edges: Edges | None) -> int:
    return graph.number_of_edges() if edges is None else len(edges)


def check_work(graph: TaskGraph, model_config: ModelConfig | None = None, tables: dict[str, Any] | None = None,
               edges: Edges | None = None, models: int = 1) -> Checked:
    """Validate ``graph`` and weigh training it with ``model_config`` against the work budget, once each.

    ``models`` is how many such models train together (the ensemble's K): the budget weighs all of them.

    Raises :class:`~ragviz.safety.errors.GraphError` (a :class:`~ragviz.safety.limits.BudgetError` when
    over budget) or a ``DataError``/``ConfigError``; allocates nothing.
    """
    model_config = (model_config or ModelConfig()).validated()
    graph.validate(budget=False)  # the budget is weighed below, with the model
    spec = domain_spec(graph, tables)
    tasks, _, points = graph.work_counts()
    check_graph_budget(tasks, _edge_count(graph, edges), points, model_config, relations=len(graph.relations),
                       input_dim=spec.input_dim, n_outputs=spec.n_outputs, models=models)
    return Checked(graph, model_config, spec, tables, edges, models)


def check_model_budget(graph: TaskGraph, model: RAGModel, n_edges: int | None = None, grid_points: int = 0) -> None:
    """The work budget for ``model`` on ``graph`` (tasks, edges, points, model size × points)."""
    tasks, edges, points = graph.work_counts()
    relations = max(len(graph.relations), len(model.vocab.relations))  # the model's slots follow its vocabulary
    check_graph_budget(tasks, edges if n_edges is None else n_edges, points, model.config, relations=relations,
                       input_dim=model.spec.input_dim, n_outputs=model.spec.n_outputs, grid_points=grid_points)


def prepare(
    graph: TaskGraph | Checked,
    model: RAGModel | None = None,
    tables: dict[str, Any] | None = None,
    edges: Edges | None = None,
    stop: Any = None,
) -> Prepared:
    """Make every task's data and its tensors; refuses over-budget work before making any.

    For training, pass a :class:`Checked` (or a graph and no model: checked here with the default
    config): the vocabulary is made from the graph and the model is built afterwards from the result.
    For inference, pass the ``model``: its vocabulary and spec are used, and the data must fit it.
    """
    if isinstance(graph, Checked):
        checked = graph
    elif model is None:
        checked = check_work(graph, None, tables, edges)
    else:
        checked = None
        check_model_budget(graph, model, None if edges is None else len(edges))
    if checked is not None:
        graph, tables, edges, spec = checked.graph, checked.tables, checked.edges, checked.spec
        vocab = make_vocab(graph)
    else:
        spec, vocab = model.spec, model.vocab
    data = _graph_data(graph, tables, stop)
    names = graph.task_names()
    classes = {t.name: task_n_classes(t, tables) for t in graph.tasks()}
    regression = spec.kind == "regression"
    if model is not None:
        _check_fits(model, classes, data)
    check_stop(stop)
    g = graph_tensors(graph, vocab, classes, edges)
    train = split_tensors(names, data, "train", regression)
    check_stop(stop)
    return Prepared(graph, spec, data, g, train, split_tensors(names, data, "test", regression), vocab)


def _graph_data(graph: TaskGraph, tables: dict[str, Any] | None, stop: Any) -> dict[str, TaskData]:
    """Every task's data, checking ``stop`` before each task."""
    data: dict[str, TaskData] = {}
    check_stop(stop)
    for name, task_data in graph_data_items(graph, tables):
        data[name] = task_data
        check_stop(stop)
    return data


def _check_fits(model: RAGModel, classes: dict[str, int], data: dict[str, TaskData]) -> None:
    """Refuse data a trained model cannot take: more classes than its outputs, other input features."""
    if not model.regression:
        too_many = [name for name, count in classes.items() if count > model.spec.n_outputs]
        if too_many:
            raise DataError(f"Task(s) {', '.join(too_many[:5])} have more classes than the model's "
                            f"{model.spec.n_outputs} outputs; train again to include them.")
    dims = {np.asarray(d.x_test).reshape(len(d.x_test), -1).shape[1] for d in data.values() if len(d.x_test)}
    if dims and dims != {model.spec.input_dim}:
        raise DataError(f"The tasks' inputs have {sorted(dims)} features but the model expects "
                        f"{model.spec.input_dim}; train again on this data.")


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
