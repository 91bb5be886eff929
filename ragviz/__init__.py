"""ragviz: an interactive lab for RAG, the Relation-Aware Generative model.

The public API (docs/API.md): every name in :data:`PUBLIC` is importable from ``ragviz`` itself,
whichever subpackage holds it now, so internal moves never break a researcher's code. Names load
on first use (PEP 562), so ``import ragviz`` stays light and a subpackage never drags in the rest.

Subpackages by job: :mod:`ragviz.safety` (limits, errors, safe text), :mod:`ragviz.graph` (the task
graph and its files), :mod:`ragviz.data` (data families), :mod:`ragviz.model` (RAG), :mod:`ragviz.training`,
:mod:`ragviz.inspection`, :mod:`ragviz.storage`, :mod:`ragviz.lessons`, :mod:`ragviz.plots` and
:mod:`ragviz.ui` (the only one that imports Streamlit).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name → the module that defines it.
PUBLIC: dict[str, str] = {
    # the task graph and its parts
    "TaskGraph": "ragviz.graph.task_graph",
    "Task": "ragviz.graph.tasks",
    "Relation": "ragviz.graph.tasks",
    "Edge": "ragviz.graph.tasks",
    "generate_graph": "ragviz.graph.generators",
    "ring_of_moons": "ragviz.graph.generators",
    "import_graph": "ragviz.graph.io",
    "export_graph": "ragviz.graph.io",
    # settings and the model
    "ModelConfig": "ragviz.model.config",
    "TrainConfig": "ragviz.model.config",
    "RAGModel": "ragviz.model.rag",
    "build_model": "ragviz.model.rag",
    "Project": "ragviz.training.project",
    # training
    "train": "ragviz.training.train",
    "TrainResult": "ragviz.training.train",
    "prepare": "ragviz.training.prepared",
    "evaluate": "ragviz.training.prepared",
    "train_ensemble": "ragviz.training.ensemble",
    "Ensemble": "ragviz.training.ensemble",
    "History": "ragviz.training.history",
    "ABLATIONS": "ragviz.training.ablations",
    "ablation_setup": "ragviz.training.ablations",
    # checkpoints and samples
    "Checkpoint": "ragviz.storage.checkpoint",
    "save_checkpoint": "ragviz.storage.checkpoint",
    "load_checkpoint": "ragviz.storage.checkpoint",
    "load_sample": "ragviz.lessons.samples",
    "SAMPLES": "ragviz.lessons.samples",
    "LESSONS": "ragviz.lessons.catalogue",
    "run_lesson": "ragviz.lessons.catalogue",
    # looking inside
    "compute_trace": "ragviz.inspection.trace",
    "Trace": "ragviz.inspection.trace",
    "with_edge": "ragviz.inspection.counterfactual",
    "without_edge": "ragviz.inspection.counterfactual",
    "with_zero_shot_task": "ragviz.inspection.counterfactual",
    "metric_changes": "ragviz.inspection.counterfactual",
    "baseline_zero_shot": "ragviz.inspection.baselines",
    "project_embeddings": "ragviz.inspection.projection",
    "nearest_neighbours": "ragviz.inspection.projection",
    "snapshot_frames": "ragviz.inspection.projection",
    "receptive_field": "ragviz.plots.messages",
    # figures (pure functions returning Plotly figures)
    "graph_figure": "ragviz.plots.graph",
    "message_figure": "ragviz.plots.messages",
    "incoming_figure": "ragviz.plots.messages",
    "embedding_figure": "ragviz.plots.embeddings",
    "outputs_figure": "ragviz.plots.outputs",
    "curves_figure": "ragviz.plots.training",
    "data_preview_figure": "ragviz.plots.data_preview",
    "uncertainty_figure": "ragviz.plots.uncertainty",
    "task_colors": "ragviz.plots.colors",
    # the work budget, and errors a caller may catch
    "get_limits": "ragviz.safety.limits",
    "RagvizError": "ragviz.safety.errors",
    "GraphError": "ragviz.safety.errors",
    "DataError": "ragviz.safety.errors",
    "ConfigError": "ragviz.safety.errors",
    "TrainingError": "ragviz.safety.errors",
    "CheckpointError": "ragviz.safety.errors",
}

__all__ = ["PUBLIC", "__version__", *PUBLIC]


def __getattr__(name: str) -> Any:
    """Load a public name from the module that defines it, once."""
    module = PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ragviz' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
