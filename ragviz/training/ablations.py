"""Ablations the app trains beside a RAG on the same data (docs/DESIGN.md §2).

Each ablation is a change of model config and/or of the edges the model sees; the
project's graph itself is never touched, so the comparison is like for like.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edge, Edges
from ragviz.model.config import ModelConfig
from ragviz.safety.errors import ConfigError

ABLATIONS: dict[str, str] = {
    "independent": "Independent heads: a shared encoder with one linear head per task, no graph",
    "relation-blind": "Relation-blind: messages ignore relation types (composition 'none')",
    "no edges": "No edges: the same model with every edge removed",
    "shuffled edges": "Shuffled edges: the same number of edges of each relation between random tasks",
}

def shuffled_edges(graph: TaskGraph, seed: int = 0) -> Edges:
    """Rewire every edge to random distinct endpoints, keeping relation types and weights."""
    names = graph.task_names()
    edges = graph.edges()
    if len(names) < 2:
        return edges
    rng = np.random.default_rng(seed)
    src = rng.integers(0, len(names), len(edges))
    offset = rng.integers(1, len(names), len(edges))
    dst = (src + offset) % len(names)
    return [Edge(names[s], names[t], e.relation, e.weight) for s, t, e in zip(src, dst, edges, strict=False)]


def ablation_setup(name: str, config: ModelConfig, graph: TaskGraph, seed: int = 0) -> tuple[ModelConfig, Edges | None]:
    """The model config and edge list (None: the graph's own) that an ablation trains with."""
    if name == "independent":
        return replace(config, decoder="independent"), None
    if name == "relation-blind":
        return replace(config, composition="none"), None
    if name == "no edges":
        return config, []
    if name == "shuffled edges":
        return config, shuffled_edges(graph, seed)
    raise ConfigError(f"Unknown baseline {name!r}; choose one of {', '.join(ABLATIONS)}.")
