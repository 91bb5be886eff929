"""The bridge from a task graph and its data to the tensors the model consumes.

Message edges are laid out as [forward edges | reverse edges | self-loops], so every
message index maps back to a graph edge (or a self-loop) for the trace. Relation
indices follow docs/DESIGN.md §2: r for forward, R + r for a directed relation's inverse
(an undirected relation reuses r), 2R for the self-loop relation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ragviz.data.domains import TaskData
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edges
from ragviz.model.layouts import GraphLayout, PointLayout, counts_layout, graph_layout
from ragviz.safety.errors import GraphError


@dataclass
class Vocab:
    """What a model was trained on: tasks with an embedding row, relations, descriptors."""

    tasks: list[str]
    relations: list[str]
    descriptor_keys: list[str] = field(default_factory=list)
    descriptor_scales: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks": list(self.tasks),
            "relations": list(self.relations),
            "descriptor_keys": list(self.descriptor_keys),
            "descriptor_scales": [float(s) for s in self.descriptor_scales],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocab:
        return cls(
            tasks=[str(t) for t in data["tasks"]],
            relations=[str(r) for r in data["relations"]],
            descriptor_keys=[str(k) for k in data.get("descriptor_keys", [])],
            descriptor_scales=[float(s) for s in data.get("descriptor_scales", [])],
        )


def _numeric_params(graph: TaskGraph) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for task in graph.tasks():
        values = {}
        for key, value in task.full_params().items():
            if isinstance(value, bool):
                values[key] = float(value)
            elif isinstance(value, (int, float)):
                values[key] = float(value)
        out[task.name] = values
    return out


def make_vocab(graph: TaskGraph) -> Vocab:
    """Seen tasks (train size > 0) get embedding rows; zero-shot tasks share the vector u."""
    params = _numeric_params(graph)
    keys = sorted({k for values in params.values() for k in values})
    scales = []
    for key in keys:
        biggest = max((abs(values.get(key, 0.0)) for values in params.values()), default=0.0)
        scales.append(biggest if biggest > 0 else 1.0)
    return Vocab(
        tasks=[t.name for t in graph.tasks() if not t.zero_shot],
        relations=list(graph.relations),
        descriptor_keys=keys,
        descriptor_scales=scales,
    )


@dataclass
class GraphTensors:
    """One graph as index tensors; ``embed_index`` is -1 where a task uses u; ``layout`` is read off them once."""

    names: list[str]
    embed_index: torch.Tensor
    src: torch.Tensor
    dst: torch.Tensor
    rel: torch.Tensor
    weight: torch.Tensor
    n_classes: torch.Tensor
    descriptors: torch.Tensor
    n_edges: int
    message_labels: list[str]
    layout: GraphLayout

    @property
    def n_tasks(self) -> int:
        return len(self.names)

    def to(self, device: torch.device | str) -> GraphTensors:
        moved = {k: (v.to(device) if isinstance(v, (torch.Tensor, GraphLayout)) else v)
                 for k, v in self.__dict__.items()}
        return GraphTensors(**moved)


def graph_tensors(
    graph: TaskGraph,
    vocab: Vocab,
    n_classes: dict[str, int] | None = None,
    edges: Edges | None = None,
) -> GraphTensors:
    """Index a graph against a model's vocabulary; ``edges`` overrides the graph's edges (ablations)."""
    names = graph.task_names()
    index = {name: i for i, name in enumerate(names)}
    seen = {name: i for i, name in enumerate(vocab.tasks)}
    zero_shot = {t.name for t in graph.tasks() if t.zero_shot}
    embed_index = torch.tensor(
        [seen[n] if n in seen and n not in zero_shot else -1 for n in names], dtype=torch.long
    )
    rel_index = {name: i for i, name in enumerate(vocab.relations)}
    n_rel = len(vocab.relations)
    if edges is None:
        edges = [(e.source, e.target, e.relation, e.weight) for e in graph.edges()]
    unknown = sorted({r for _, _, r, _ in edges if r not in rel_index})
    if unknown:
        raise GraphError(
            f"Relation(s) {', '.join(unknown)} were not in the graph this model was trained on "
            f"(it knows: {', '.join(vocab.relations) or 'none'})."
        )
    n_edges = len(edges)
    if n_edges:
        u = np.fromiter((index[s] for s, _, _, _ in edges), dtype=np.int64, count=n_edges)
        v = np.fromiter((index[t] for _, t, _, _ in edges), dtype=np.int64, count=n_edges)
        r = np.fromiter((rel_index[k] for _, _, k, _ in edges), dtype=np.int64, count=n_edges)
        w = np.fromiter((w for *_, w in edges), dtype=np.float32, count=n_edges)
    else:
        u = v = r = np.zeros(0, dtype=np.int64)
        w = np.zeros(0, dtype=np.float32)
    directed = np.array(
        [graph.relations[name].directed if name in graph.relations else True for name in vocab.relations],
        dtype=bool,
    )
    r_inv = np.where(directed[r], r + n_rel, r) if n_edges else r
    loops = np.arange(len(names), dtype=np.int64)
    src = np.concatenate([u, v, loops])
    dst = np.concatenate([v, u, loops])
    rel = np.concatenate([r, r_inv, np.full(len(names), 2 * n_rel, dtype=np.int64)])
    weight = np.concatenate([w, w, np.ones(len(names), dtype=np.float32)])
    labels = (
        [k for _, _, k, _ in edges]
        + [k if not graph.relations.get(k, None) or not graph.relations[k].directed else f"{k}⁻¹"
           for _, _, k, _ in edges]
        + ["self"] * len(names)
    )
    classes = n_classes or {}
    params = _numeric_params(graph)
    desc = np.zeros((len(names), len(vocab.descriptor_keys)), dtype=np.float32)
    for i, name in enumerate(names):
        for j, (key, scale) in enumerate(zip(vocab.descriptor_keys, vocab.descriptor_scales, strict=False)):
            desc[i, j] = params[name].get(key, 0.0) / scale
    dst_t, weight_t = torch.from_numpy(dst), torch.from_numpy(weight)
    n_classes_t = torch.tensor([classes.get(n, 0) for n in names], dtype=torch.long)
    return GraphTensors(
        names=names,
        embed_index=embed_index,
        src=torch.from_numpy(src),
        dst=dst_t,
        rel=torch.from_numpy(rel),
        weight=weight_t,
        n_classes=n_classes_t,
        descriptors=torch.from_numpy(desc),
        n_edges=n_edges,
        message_labels=labels,
        layout=graph_layout(embed_index, dst_t, weight_t, n_classes_t),
    )


@dataclass
class SplitTensors:
    """All tasks' points of one split, concatenated; ``tid`` says whose point each row is."""

    x: torch.Tensor
    y: torch.Tensor
    tid: torch.Tensor
    counts: torch.Tensor
    layout: PointLayout

    def to(self, device: torch.device | str) -> SplitTensors:
        return SplitTensors(self.x.to(device), self.y.to(device), self.tid.to(device), self.counts.to(device),
                            self.layout.to(device))

    def __len__(self) -> int:
        return int(self.x.shape[0])


def split_tensors(names: list[str], data: dict[str, TaskData], split: str, regression: bool) -> SplitTensors:
    """Concatenate one split of every task (in ``names`` order) into flat tensors."""
    xs = [getattr(data[n], f"x_{split}") for n in names]
    ys = [getattr(data[n], f"y_{split}") for n in names]
    counts = np.array([len(y) for y in ys], dtype=np.int64)
    dim = next((x.shape[1] for x in xs if x.ndim == 2), 1)
    x = np.concatenate([np.asarray(a, dtype=np.float32).reshape(-1, dim) for a in xs]) if xs else np.zeros((0, dim))
    y = np.concatenate([np.asarray(a) for a in ys]) if ys else np.zeros(0)
    tid = np.repeat(np.arange(len(names), dtype=np.int64), counts)
    y_t = torch.from_numpy(y.astype(np.float32 if regression else np.int64))
    return SplitTensors(torch.from_numpy(x.astype(np.float32)), y_t, torch.from_numpy(tid), torch.from_numpy(counts),
                        counts_layout(counts.tolist()))
