"""Uncertainty figures: the spread map, the band, per-class agreement, the scatter, titles and the trust table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ragviz.graph.generators import generate_graph
from ragviz.inspection.trace import compute_trace
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.plots.uncertainty import (
    GUESS_MARK,
    agreement_figure,
    band_figure,
    needs_grid,
    panel_label,
    spread_scatter_figure,
    trust_table,
    uncertainty_figure,
)
from ragviz.training.train import train


@pytest.fixture(scope="module")
def ring_trace(trained_ring):
    project, result = trained_ring
    return compute_trace(result.model, project.graph, grid_resolution=10)


@pytest.fixture(scope="module")
def sine_trace():
    graph = generate_graph("chain", 3, "sine", vary="phase", start=0.0, stop=2.0, train_size=10, test_size=8,
                           zero_shot=[1])
    model = train(graph, ModelConfig(embed_dim=4, hidden=8), TrainConfig(steps=2, device="cpu")).model
    return compute_trace(model, graph, grid_resolution=20)


def _opposed(k: int, points: int, classes: int = 2) -> np.ndarray:
    """Members that alternate between certain of class 0 and certain of class 1 on every point."""
    out = np.zeros((k, points, classes))
    out[::2, :, 0] = 1.0
    out[1::2, :, 1] = 1.0
    return out


def test_the_map_shows_the_share_of_model_pairs_naming_different_classes(ring_trace) -> None:
    names = ring_trace.task_names
    zero = names[2]
    grid = {n: np.tile(ring_trace.outputs_grid[n], (3, 1, 1)) for n in names}  # three identical models…
    grid[zero] = _opposed(2, len(ring_trace.grid))  # …except on the zero-shot task: two that contradict
    scores = {n: 0.0 for n in names} | {zero: 1.0}
    fig = uncertainty_figure(ring_trace, grid, names, scores, {zero: True})
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == len(names)
    assert np.allclose(heatmaps[2].z, 1.0) and np.allclose(heatmaps[0].z, 0.0)
    assert fig.layout.coloraxis.cmax == 1.0  # two models can contradict on every point
    titles = [a.text for a in fig.layout.annotations]
    assert f"{GUESS_MARK} a guess" in titles[2] and "★" in titles[2]
    assert "0% of model pairs differ" in titles[0] and GUESS_MARK not in titles[0]
    unsure = {n: np.full((3, len(ring_trace.grid), 2), 0.5) for n in names}  # every model unsure, none opposed
    unsure[zero][1, :, 1] = 0.6  # the second model leans to class 1; a tie is class 0 for the others
    z = [t for t in uncertainty_figure(ring_trace, unsure, names, scores, {}).data if t.type == "heatmap"]
    assert np.allclose(z[0].z, 0.0) and np.allclose(z[2].z, 2 / 3)


def test_the_band_spans_the_lowest_to_the_highest_model(sine_trace) -> None:
    names = sine_trace.task_names
    g = len(sine_trace.grid)
    curves = {n: np.stack([np.zeros(g), np.ones(g), 3 * np.ones(g)]) for n in names}
    assert needs_grid(sine_trace)
    fig = band_figure(sine_trace, curves, names, {n: 1.0 for n in names}, {})
    high, low, mean = fig.data[0], fig.data[1], fig.data[2]
    assert np.allclose(high.y, 3.0) and np.allclose(low.y, 0.0) and low.fill == "tonexty"
    assert np.allclose(mean.y, 4 / 3)
    assert sum(t.name == "lowest to highest model" and t.showlegend for t in fig.data) == 1


def test_without_a_grid_classes_show_agreement_and_regression_a_scatter(ring_trace, sine_trace) -> None:
    confusion = dataclasses.replace(ring_trace, grid=None)
    assert not needs_grid(confusion)
    names = confusion.task_names
    tests = {n: np.tile(confusion.outputs_test[n], (3, 1, 1)) for n in names}
    tests[names[0]] = _opposed(3, len(confusion.y_test[names[0]]))
    fig = agreement_figure(confusion, tests, names, {n: 0.0 for n in names}, {names[0]: True})
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == len(names)
    assert np.allclose(bars[0].y, 0.0) and np.allclose(bars[1].y, 1.0)
    assert list(fig.layout.yaxis.range) == [0, 1]
    scatter = dataclasses.replace(sine_trace, grid=None)
    outs = {n: np.stack([sine_trace.y_test[n] - 1, sine_trace.y_test[n] + 1]) for n in scatter.task_names}
    fig = spread_scatter_figure(scatter, outs, scatter.task_names, {}, {})
    assert np.allclose(fig.data[0].y, sine_trace.y_test[scatter.task_names[0]])
    assert np.allclose(fig.data[0].error_y.array, 1.0)


def test_panel_labels_escape_names() -> None:
    label = panel_label("<script>x</script>", True, 0.1, False)
    assert "disagreement 0.100" in label and "10% of model pairs differ" in panel_label("a", False, 0.1, False, True)
    assert "<script>" not in label and "&lt;script&gt;" in label
    assert "no test points" in panel_label("a", False, float("nan"), False)


def test_trust_table_puts_guesses_first() -> None:
    table = trust_table({"a": 0.01, "b": 0.02, "z1": 0.3, "z2": 0.05}, ["z1", "z2"], {"z1": True, "z2": False},
                        {"a": 0.0, "b": 0.0, "z1": 0.4, "z2": 0.1})
    assert list(table["task"]) == ["z1", "z2", "b", "a"]
    assert list(table["verdict"]) == [f"{GUESS_MARK} a guess", "models agree", "trained on data", "trained on data"]
    assert table.loc[0, "models naming different classes"] == 0.4
    assert trust_table({}, [], {}).empty
