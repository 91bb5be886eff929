"""Looking inside a trained model (DESIGN section 4): what every page draws from.

A trace is computed for a model and a graph that may have been edited after training
(an edge added or removed, a new zero-shot task): inference only, no retraining. All
arrays are NumPy so pages and figures never touch torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ragviz.data import DomainSpec, plot_grid
from ragviz.errors import DataError
from ragviz.graph import TaskGraph
from ragviz.model import RAGModel
from ragviz.train import Prepared, evaluate, prepare


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
    outputs_grid: dict[str, np.ndarray]
    test_metric: np.ndarray  # (N,) accuracy or MSE
    test_loss: np.ndarray
    metric: str
    self_terms: np.ndarray | None = None  # (L, N, d) W_self h^{l-1} + b: the update equation's own term

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


def _outputs(model: RAGModel, prep: Prepared, x: torch.Tensor, tid: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        out = model(prep.g, x, tid)
        if not model.regression:
            out = torch.softmax(out, dim=-1)
    return out.numpy()


def _split_by_task(values: np.ndarray, counts: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    parts = np.split(values, np.cumsum(counts)[:-1]) if len(names) else []
    return dict(zip(names, parts, strict=False))


@torch.no_grad()
def compute_trace(
    model: RAGModel,
    graph: TaskGraph,
    tables: dict[str, Any] | None = None,
    grid_resolution: int = 50,
    edges: list[tuple[str, str, str, float]] | None = None,
) -> Trace:
    """Run the model once on ``graph`` and keep everything the pages show."""
    model = model.to("cpu").eval()
    prep = prepare(graph, model, tables, edges)
    g = prep.g
    names = g.names
    states, layer_traces = model.embed_tasks(g)
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
    test_loss, test_metric = evaluate(model, prep, "test")
    test_counts = prep.test.counts.numpy()
    train_counts = prep.train.counts.numpy()
    outputs_test = _split_by_task(_outputs(model, prep, prep.test.x, prep.test.tid), test_counts, names)
    grid = None
    outputs_grid: dict[str, np.ndarray] = {}
    try:
        grid = plot_grid(model.spec, grid_resolution).astype(np.float32)
    except DataError:
        grid = None
    if grid is not None and names:
        n_grid = grid.shape[0]
        x = torch.from_numpy(np.tile(grid, (len(names), 1)))
        tid = torch.arange(len(names)).repeat_interleave(n_grid)
        flat = _outputs(model, prep, x, tid)
        outputs_grid = _split_by_task(flat, np.full(len(names), n_grid), names)
    embed_index = g.embed_index.numpy()
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
    )
