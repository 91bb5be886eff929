"""Traces: what the pages draw, on the trained graph or on one edited after training."""

from __future__ import annotations

import numpy as np
import pytest

from ragviz.graph.tasks import Task
from ragviz.inspection.trace import compute_trace
from ragviz.safety.errors import GraphError


def test_trace_has_every_layer_message_and_output(trained_ring) -> None:
    project, result = trained_ring
    graph = project.graph
    trace = compute_trace(result.model, graph)
    n, e = graph.number_of_tasks(), graph.number_of_edges()
    layers = project.model_config.layers
    assert trace.layers.shape == (layers + 1, n, project.model_config.embed_dim)
    assert trace.messages.shape[:2] == (layers, 2 * e + n)
    assert np.allclose(trace.message_norm, np.linalg.norm(trace.messages, axis=-1))
    assert trace.n_graph_edges == e
    assert trace.grid.shape == (50 * 50, 2)
    for name in trace.task_names:
        probs = trace.outputs_grid[name]
        assert probs.shape == (2500, trace.spec.n_outputs)
        assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert list(trace.zero_shot) == [t.zero_shot for t in graph.tasks()]
    incoming = trace.incoming(trace.task_names[0], 1)
    assert sorted(incoming["relation"]) == ["near", "near", "self"]


def test_counterfactual_edit_changes_outputs_without_retraining(trained_ring) -> None:
    project, result = trained_ring
    edited = project.graph.copy()
    names = edited.task_names()
    edited.add_task(Task("new moons", "moons", {"rotate": 90.0}, 0, 50, 99))
    edited.add_edge("new moons", names[1], "near")
    before = compute_trace(result.model, project.graph)
    after = compute_trace(result.model, edited)
    assert "new moons" in after.task_names and after.zero_shot[after.index("new moons")]
    assert not np.allclose(before.layers[-1][1], after.layers[-1][1])  # its neighbour hears the new task
    far = names[4]
    assert np.allclose(before.layers[-1][before.index(far)], after.layers[-1][after.index(far)])


def test_unknown_relation_after_training_is_explained(trained_ring) -> None:
    project, result = trained_ring
    edited = project.graph.copy()
    edited.add_relation("opposite")
    names = edited.task_names()
    edited.add_edge(names[0], names[3], "opposite")
    with pytest.raises(GraphError, match="opposite"):
        compute_trace(result.model, edited)


def test_grid_outputs_are_computed_per_task_on_demand_and_match_the_full_model(trained_ring) -> None:
    """A page reading one task's grid decodes that task only, and gets what the whole model gives."""
    import torch

    from ragviz.training.prepared import evaluate, prepare

    project, result = trained_ring
    model = result.model
    trace = compute_trace(model, project.graph)
    names = trace.task_names
    assert trace.outputs_grid.computed == 0 and len(trace.outputs_grid) == len(names)
    first = trace.outputs_grid[names[3]]
    assert trace.outputs_grid.computed == 1
    prep = prepare(project.graph, model, project.tables)
    n_grid = len(trace.grid)
    with torch.no_grad():
        x = torch.from_numpy(np.tile(trace.grid, (len(names), 1)))
        full = torch.softmax(model(prep.g, x, torch.arange(len(names)).repeat_interleave(n_grid)), -1).numpy()
    assert np.allclose(first, full[3 * n_grid:4 * n_grid], atol=1e-5)
    for i, name in enumerate(names):
        assert np.allclose(trace.outputs_grid[name], full[i * n_grid:(i + 1) * n_grid], atol=1e-5)
    loss, metric = evaluate(model, prep, "test")
    assert np.allclose(trace.test_metric, metric) and np.allclose(trace.test_loss, loss, atol=1e-6)
    with pytest.raises(KeyError):
        trace.outputs_grid["no such task"]
