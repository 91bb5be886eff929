"""What-ifs: pure graph edits on copies, and what they change in a trained model's outputs."""

from __future__ import annotations

import numpy as np
import pytest

from ragviz.inspection.counterfactual import free_seed, metric_changes, with_edge, with_zero_shot_task, without_edge
from ragviz.inspection.trace import compute_trace
from ragviz.safety.errors import GraphError
from tests.helpers import small_ring


@pytest.fixture(scope="module")
def model(trained_ring):
    return trained_ring[1].model


def test_with_edge_returns_an_edited_copy(ring_graph) -> None:
    before = ring_graph.copy()
    names = ring_graph.task_names()
    edited = with_edge(ring_graph, names[0], names[3], "near", 0.5)
    assert ring_graph == before
    assert edited.number_of_edges() == ring_graph.number_of_edges() + 1
    assert edited.nx.edges[names[0], names[3], "near"]["weight"] == 0.5
    with pytest.raises(GraphError, match="already linked"):
        with_edge(ring_graph, names[0], names[1], "near")
    with pytest.raises(GraphError, match="Unknown relation"):
        with_edge(ring_graph, names[0], names[3], "far")
    assert ring_graph == before


def test_without_edge_returns_an_edited_copy(ring_graph) -> None:
    before = ring_graph.copy()
    names = ring_graph.task_names()
    edited = without_edge(ring_graph, names[1], names[0], "near")  # undirected: either direction names it
    assert ring_graph == before
    assert not edited.nx.has_edge(names[0], names[1])
    with pytest.raises(GraphError, match="no 'near' edge"):
        without_edge(ring_graph, names[0], names[3], "near")


def test_with_zero_shot_task_adds_a_linked_task_without_training_data(ring_graph) -> None:
    before = ring_graph.copy()
    names = ring_graph.task_names()
    edited = with_zero_shot_task(ring_graph, "moons 30°", "moons", {"rotate": 30.0}, [names[0], names[1]], "near")
    assert ring_graph == before
    task = edited.task("moons 30°")
    assert task.zero_shot and task.train_size == 0 and task.params["rotate"] == 30.0
    assert task.seed == free_seed(ring_graph) and task.pos is None
    assert edited.nx.has_edge(names[0], "moons 30°", "near") and edited.nx.has_edge(names[1], "moons 30°", "near")
    with pytest.raises(GraphError, match="already exists"):
        with_zero_shot_task(ring_graph, names[0], "moons")
    with pytest.raises(GraphError, match="Choose the relation"):
        with_zero_shot_task(ring_graph, "x", "moons", neighbours=[names[0]])
    with pytest.raises(GraphError, match="sine task"):
        with_zero_shot_task(ring_graph, "x", "sine")
    assert ring_graph == before


def test_an_edge_into_a_zero_shot_task_changes_its_outputs_without_retraining(model, ring_graph) -> None:
    names = ring_graph.task_names()
    zero = next(t.name for t in ring_graph.tasks() if t.zero_shot)
    before = compute_trace(model, ring_graph, grid_resolution=10)
    edited = with_edge(ring_graph, names[0], zero, "near")
    after = compute_trace(model, edited, grid_resolution=10)
    assert not np.allclose(before.outputs_test[zero], after.outputs_test[zero])
    assert not np.allclose(before.outputs_grid[zero], after.outputs_grid[zero])
    changes = metric_changes(before, after).set_index("task")
    assert changes.loc[zero, "status"] == "changed" and changes.loc[zero, "zero_shot"]
    assert changes.loc[zero, "embedding_shift"] > 0
    assert changes.loc[zero, "after"] == pytest.approx(after.test_metric[after.index(zero)])
    assert changes.loc[zero, "change"] == pytest.approx(changes.loc[zero, "after"] - changes.loc[zero, "before"])


@pytest.fixture(scope="module")
def learned_start_model():
    """A 2-layer model whose unseen tasks start from one learned vector (no propagation)."""
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.train import train

    graph = small_ring(10, zero_shot=(), train_size=5)
    return train(graph, ModelConfig(unseen_state="learned"), TrainConfig(steps=20, seed=0, device="cpu")).model


def test_only_tasks_within_l_hops_of_an_edit_change(learned_start_model) -> None:
    """Message passing alone: an edit reaches L − 1 hops from the edited edge's ends."""
    graph = small_ring(10, zero_shot=(), train_size=5)
    names = graph.task_names()
    before = compute_trace(learned_start_model, graph, grid_resolution=10)
    after = compute_trace(learned_start_model, without_edge(graph, names[0], names[1], "near"), grid_resolution=10)
    changes = metric_changes(before, after).set_index("task")
    # The lost message changes h¹ of both ends, then h² of their neighbours: L − 1 = 1 hop from the edge's ends.
    near = {names[i] for i in (9, 0, 1, 2)}
    assert set(changes.index[changes["affected"]]) == near
    assert (changes.loc[[n for n in names if n not in near], "status"] == "unchanged").all()
    only = metric_changes(before, after, only_affected=True)
    assert set(only["task"]) == near


def test_with_the_propagated_start_an_edit_reaches_a_task_without_data_at_any_distance(model) -> None:
    """The default model's unseen tasks sit at the fixed point of the whole graph: an edit far away moves them."""
    graph = small_ring(10, zero_shot=(), train_size=5)  # tasks the model has no embedding for are unseen
    names = graph.task_names()
    before = compute_trace(model, graph, grid_resolution=10)
    after = compute_trace(model, without_edge(graph, names[0], names[1], "near"), grid_resolution=10)
    changes = metric_changes(before, after).set_index("task")
    unseen = [n for n in names if after.zero_shot[after.index(n)]]
    far = [n for n in unseen if n not in {names[i] for i in (9, 0, 1, 2)}]
    assert far and changes.loc[far, "affected"].any()


def test_a_new_zero_shot_task_is_reported_as_new(model, ring_graph) -> None:
    names = ring_graph.task_names()
    before = compute_trace(model, ring_graph, grid_resolution=10)
    edited = with_zero_shot_task(ring_graph, "new", "moons", {"rotate": 90.0, "noise": 0.1}, [names[1]], "near")
    after = compute_trace(model, edited, grid_resolution=10)
    row = metric_changes(before, after).set_index("task").loc["new"]
    assert row["status"] == "new" and row["affected"] and row["zero_shot"]
    assert np.isnan(row["before"]) and np.isfinite(row["after"])
    assert after.zero_shot[after.index("new")]
