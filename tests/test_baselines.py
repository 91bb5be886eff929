"""The neighbour-averaging baseline: propagation weights, averages, metrics, and a trained model."""

from __future__ import annotations

import numpy as np
import pytest

from ragviz.data.domains import make_task_data
from ragviz.graph.generators import generate_graph, ring_of_moons
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task
from ragviz.inspection.baselines import (
    baseline_zero_shot,
    chance_level,
    model_predictor,
    neighbour_average,
    propagation_weights,
    task_metric,
    zero_shot_metrics,
)
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.train import train


def chain(n: int, zero: tuple[int, ...], weights: dict[int, float] | None = None) -> TaskGraph:
    graph = generate_graph("chain", n, "sine", vary="phase", start=0.0, stop=1.0, train_size=5, test_size=5,
                           zero_shot=list(zero))
    names = graph.task_names()
    for k, w in (weights or {}).items():
        graph.set_edge_weight(names[k], names[k + 1], "near", w)
    return graph


def test_one_gap_is_the_mean_of_both_neighbours() -> None:
    zero, seen, p = propagation_weights(chain(3, (1,)))
    assert len(zero) == 1 and len(seen) == 2
    assert p.tolist() == [[0.5, 0.5]]


def test_edge_weights_weigh_the_average() -> None:
    _zero, _seen, p = propagation_weights(chain(3, (1,), {0: 3.0}))
    assert p[0] == pytest.approx([0.75, 0.25])


def test_adjacent_zero_shot_tasks_interpolate_linearly() -> None:
    # seen 0, zero 1 and 2, seen 3: the harmonic fill is the straight line between the ends.
    _zero, _seen, p = propagation_weights(chain(4, (1, 2)))
    assert p == pytest.approx(np.array([[2 / 3, 1 / 3], [1 / 3, 2 / 3]]))


def test_end_of_chain_extrapolates_the_nearest_seen_task() -> None:
    graph = chain(4, (2, 3))
    _zero, seen, p = propagation_weights(graph)
    assert p.shape == (2, 2)
    assert p[:, seen.index(graph.task_names()[1])] == pytest.approx([1.0, 1.0])


def test_unreachable_tasks_get_the_mean_of_all_seen_tasks_and_rows_sum_to_one() -> None:
    graph = chain(5, (1,))
    graph.add_task(Task("alone", "sine", {"phase": 0.3}, 0, 5, 9, (0.0, 1.0)))
    zero, seen, p = propagation_weights(graph)
    assert p.sum(axis=1) == pytest.approx(np.ones(len(zero)))
    assert p[zero.index("alone")] == pytest.approx(np.full(len(seen), 1 / len(seen)))


def test_override_edges_and_relations_are_ignored() -> None:
    graph = TaskGraph([Relation("same"), Relation("labels flipped")])
    for k, size in enumerate((10, 10, 0)):
        graph.add_task(Task(f"t{k}", "moons", {"rotate": 0.0}, size, 10, k, (float(k), 0.0)))
    graph.add_edge("t0", "t2", "same")
    graph.add_edge("t1", "t2", "labels flipped")
    _z, seen, p = propagation_weights(graph)
    assert p[0] == pytest.approx([0.5, 0.5])  # a flipping relation counts like any other
    _z, seen, p = propagation_weights(graph, edges=[("t2", "t1", "same", 1.0)])
    assert p[0, seen.index("t1")] == pytest.approx(1.0)


def test_neighbour_average_and_metrics() -> None:
    graph = chain(3, (1,))
    names = graph.task_names()
    fixed = {names[0]: np.array([[1.0, 0.0]]), names[2]: np.array([[0.0, 1.0]])}
    x = np.zeros((4, 1))
    out = neighbour_average(graph, lambda task, pts: np.repeat(fixed[task], len(pts), axis=0), {names[1]: x})
    assert list(out) == [names[1]] and out[names[1]] == pytest.approx(np.full((4, 2), 0.5))
    assert task_metric(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]), regression=False) == 0.5
    assert task_metric(np.array([1.0, 3.0]), np.array([0.0, 1.0]), regression=True) == pytest.approx(2.5)
    assert np.isnan(task_metric(np.zeros((0, 2)), np.zeros(0), regression=False))
    assert zero_shot_metrics({"a": np.array([2.0])}, {"a": np.array([0.0])}, True) == {"a": 4.0}


def test_chance_level() -> None:
    assert chance_level(ring_of_moons()) == 0.5
    assert chance_level(chain(3, (1,))) is None
    spirals = generate_graph("ring", 4, "spiral", base_params={"n_classes": 4}, zero_shot=[1])
    assert chance_level(spirals) == 0.25


def test_baseline_from_trained_independent_heads() -> None:
    graph = ring_of_moons(n=8, zero_shot=(2,), train_size=30, test_size=40)
    result = train(graph, ModelConfig(decoder="independent"), TrainConfig(steps=150, seed=1, device="cpu"))
    scores = baseline_zero_shot(result.model, graph)
    assert list(scores) == ["moons 90°"]
    # Its metric is the neighbours' averaged probabilities scored on the zero-shot task's test points.
    predict = model_predictor(result.model, graph)
    task = graph.task("moons 90°")
    data = make_task_data(task)
    probs = 0.5 * (predict("moons 45°", data.x_test) + predict("moons 135°", data.x_test))
    assert probs.sum(axis=1) == pytest.approx(np.ones(len(data.x_test)), abs=1e-5)
    assert scores["moons 90°"] == pytest.approx(task_metric(probs, data.y_test, regression=False))
    # A seen task's own head on its own test points scores what training recorded.
    own = make_task_data(graph.task("moons 45°"))
    assert task_metric(predict("moons 45°", own.x_test), own.y_test, False) == pytest.approx(
        result.history.final_metrics()["moons 45°"], abs=1e-6)
