"""Looking inside a trained model (docs/DESIGN.md §4): what every page draws from.

A trace is computed for a model and a graph that may have been edited after training
(an edge added or removed, a new zero-shot task): inference only, no retraining. All
arrays are NumPy so pages and figures never touch torch.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ragviz.data.domains import DomainSpec, plot_grid
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edges
from ragviz.model.layouts import counts_layout
from ragviz.model.rag import Heads, RAGModel
from ragviz.safety.errors import DataError
from ragviz.training.prepared import check_model_budget, prepare, split_metrics


@dataclass
class Trace:
    """Every layer's states, every message, every task's outputs; arrays indexed by task."""

    task_names: list[str]
    zero_shot: np.ndarray  # (N,) bool: no training data, or unknown to the model
    layers: np.ndarray  # (L+1, N, d) h⁰…h^L
    message_src: np.ndarray  # (E',) task index
    message_dst: np.ndarray  # (E',)
    message_relation: list[str]  # "near", "parent⁻¹", "self"
    messages: np.ndarray  # (L, E', d)
    message_norm: np.ndarray  # (L, E')
    attention: np.ndarray | None  # (L, E') when aggregation is attention
    aggregates: np.ndarray  # (L, N, d)
    n_graph_edges: int  # the first n messages are the graph's edges in graph.edges() order
    spec: DomainSpec
    x_test: dict[str, np.ndarray]
    y_test: dict[str, np.ndarray]
    x_train: dict[str, np.ndarray]
    y_train: dict[str, np.ndarray]
    outputs_test: dict[str, np.ndarray]  # probabilities (n, C) or means (n,)
    grid: np.ndarray | None  # plotting inputs (toy2d grid or sine x-range)
    outputs_grid: Mapping[str, np.ndarray]  # computed per task when first read (see GridOutputs)
    test_metric: np.ndarray  # (N,) accuracy or MSE
    test_loss: np.ndarray
    metric: str
    self_terms: np.ndarray | None = None  # (L, N, d) W_self h^{l-1} + b: the update equation's own term
    closed: np.ndarray | None = None  # (N,) bool: t_v is the fixed point of its neighbours' last states

    @property
    def embeddings(self) -> np.ndarray:
        """Task embeddings t_v = h^L_v."""
        return self.layers[-1]

    @property
    def n_layers(self) -> int:
        return self.layers.shape[0] - 1

    def index(self, task: str) -> int:
        return self.task_names.index(task)

    def incoming(self, task: str, layer: int) -> dict[str, Any]:
        """The messages task ``task`` received at ``layer`` (1-based), for its bar chart."""
        v = self.index(task)
        picks = np.flatnonzero(self.message_dst == v)
        return {
            "source": [self.task_names[i] for i in self.message_src[picks]],
            "relation": [self.message_relation[i] for i in picks],
            "norm": self.message_norm[layer - 1, picks] if self.n_layers else np.zeros(0),
            "attention": None if self.attention is None else self.attention[layer - 1, picks],
            "message_index": picks,
        }


def _probabilities(model: RAGModel, out: torch.Tensor) -> np.ndarray:
    """Class probabilities (classification) or means (regression) as NumPy."""
    return (out if model.regression else torch.softmax(out, dim=-1)).numpy()


class GridOutputs(Mapping[str, np.ndarray]):
    """Each task's outputs on the plotting grid, computed the first time a page reads that task.

    Pages draw a few tasks at a time; computing every task's grid up front made a what-if on a
    100-task graph decode 250,000 points (about 170 ms) to show a handful. The task heads are
    computed once with the trace; a task's grid then costs one small decoder call. The model
    is not changed after training (a new run builds a new one), so reading later is the same.
    """

    def __init__(self, model: RAGModel, heads: Heads, grid: np.ndarray, names: list[str]) -> None:
        self._model, self._heads = model, heads
        self._grid = torch.from_numpy(grid)
        self._layout = counts_layout([len(grid)])
        self._index = {name: i for i, name in enumerate(names)}
        self._done: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._done:
            i = self._index[name]
            with torch.no_grad():
                out = self._model.decode_all(self._heads.rows(i, i + 1), self._grid,
                                             torch.zeros(len(self._grid), dtype=torch.long), self._layout)
            self._done[name] = _probabilities(self._model, out)
        return self._done[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def computed(self) -> int:
        """How many tasks' grids have been computed so far."""
        return len(self._done)


def _split_by_task(values: np.ndarray, counts: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    parts = np.split(values, np.cumsum(counts)[:-1]) if len(names) else []
    return dict(zip(names, parts, strict=False))


@torch.no_grad()
def compute_trace(
    model: RAGModel,
    graph: TaskGraph,
    tables: dict[str, Any] | None = None,
    grid_resolution: int = 50,
    edges: Edges | None = None,
) -> Trace:
    """Run the model once on ``graph`` and keep everything the pages show."""
    # The pages draw decision surfaces on a grid: count its points in the budget before any data is made.
    check_model_budget(graph, model, None if edges is None else len(edges), grid_points=grid_resolution ** 2)
    model = model.to("cpu").eval()
    prep = prepare(graph, model, tables, edges)
    g = prep.g
    names = g.names
    states, layer_traces = model.embed_tasks(g)
    heads = model.task_heads(states[-1], g)
    layers = torch.stack(states).numpy()
    d = layers.shape[-1]
    n_msgs = int(g.src.shape[0])
    if layer_traces:
        messages = torch.stack([t.messages for t in layer_traces]).numpy()
        aggregates = torch.stack([t.aggregate for t in layer_traces]).numpy()
        attention = (torch.stack([t.attention for t in layer_traces]).numpy()
                     if layer_traces[0].attention is not None else None)
        self_terms = torch.stack([layer.w_self(h)
                                  for layer, h in zip(model.layers, states[:-1], strict=True)]).numpy()
    else:
        self_terms = None
        messages = np.zeros((0, n_msgs, d), dtype=np.float32)
        aggregates = np.zeros((0, len(names), d), dtype=np.float32)
        attention = None
    test_counts = prep.test.counts.numpy()
    train_counts = prep.train.counts.numpy()
    out_test = model.decode_all(heads, prep.test.x, prep.test.tid, prep.test.layout)
    if len(prep.test):
        test_loss, test_metric = split_metrics(model, out_test, prep.test, len(names))
    else:
        test_loss = test_metric = np.full(len(names), np.nan)
    outputs_test = _split_by_task(_probabilities(model, out_test), test_counts, names)
    try:
        grid = plot_grid(model.spec, grid_resolution).astype(np.float32)
    except DataError:
        grid = None
    outputs_grid: Mapping[str, np.ndarray] = (
        GridOutputs(model, heads, grid, list(names)) if grid is not None else {})
    embed_index = g.embed_index.numpy()
    closed = (embed_index < 0) & bool(model.unseen.closes and layer_traces)
    return Trace(
        task_names=list(names),
        zero_shot=embed_index < 0,
        layers=layers,
        message_src=g.src.numpy(),
        message_dst=g.dst.numpy(),
        message_relation=list(g.message_labels),
        messages=messages,
        message_norm=np.linalg.norm(messages, axis=-1) if messages.size else np.zeros((len(layer_traces), n_msgs)),
        attention=attention,
        aggregates=aggregates,
        n_graph_edges=g.n_edges,
        spec=model.spec,
        x_test=_split_by_task(prep.test.x.numpy(), test_counts, names),
        y_test=_split_by_task(prep.test.y.numpy(), test_counts, names),
        x_train=_split_by_task(prep.train.x.numpy(), train_counts, names),
        y_train=_split_by_task(prep.train.y.numpy(), train_counts, names),
        outputs_test=outputs_test,
        grid=grid,
        outputs_grid=outputs_grid,
        test_metric=test_metric,
        test_loss=test_loss,
        metric="mse" if model.regression else "accuracy",
        self_terms=self_terms,
        closed=closed,
    )
