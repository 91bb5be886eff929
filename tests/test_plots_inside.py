"""Figures of the "looking inside" pages: message passing, embeddings, task outputs; and click mapping."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from ragviz.data.domains import domain_spec
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task
from ragviz.inspection.trace import compute_trace
from ragviz.model.config import ModelConfig
from ragviz.model.rag import build_model
from ragviz.model.tensors import make_vocab
from ragviz.plots.embeddings import embedding_colors, embedding_figure, hover_texts
from ragviz.plots.messages import (
    WIDTHS,
    focus_from_event,
    hop_distances,
    incoming_figure,
    message_figure,
    receptive_field,
    state_heatmap,
    update_latex,
    update_numbers,
    width_bins,
)
from ragviz.plots.outputs import (
    boundary_figure,
    confusion_figure,
    confusion_matrix,
    curve_figure,
    grid_shape,
    kind_of,
    metrics_table,
    outputs_figure,
    panel_title,
    scatter_figure,
    task_classes,
)
from ragviz.ui.inside_widgets import resolve_focus


@pytest.fixture(scope="module")
def ring(trained_ring):
    project, result = trained_ring
    return project.graph, compute_trace(result.model, project.graph, grid_resolution=12)


@pytest.fixture(scope="module")
def attention_ring(trained_ring):
    """An untrained attention model: figures only need its shapes and numbers."""
    graph = trained_ring[0].graph
    model = build_model(ModelConfig(layers=3, aggregation="attention"), domain_spec(graph), make_vocab(graph), seed=1)
    return graph, compute_trace(model, graph, grid_resolution=12)


@pytest.fixture(scope="module")
def sine():
    graph = TaskGraph([Relation("near")])
    for k in range(3):
        graph.add_task(Task(f"sine {k}", "sine", {"phase": k * 0.5}, 0 if k == 2 else 10, 20, k))
    graph.add_edge("sine 0", "sine 2", "near")
    model = build_model(ModelConfig(layers=1), domain_spec(graph), make_vocab(graph))
    return graph, compute_trace(model, graph, grid_resolution=30)


# --------------------------------------------------------------------------- message passing
def _hops(graph: TaskGraph, task: str, layer: int) -> set[str]:
    return set(nx.single_source_shortest_path_length(graph.nx.to_undirected(as_view=True), task, cutoff=layer))


@pytest.mark.parametrize("layer", [0, 1, 2, 3])
def test_receptive_field_is_exactly_the_l_hop_set(ring, layer: int) -> None:
    graph, trace = ring
    for task in graph.task_names():
        assert receptive_field(trace, task, layer) == _hops(graph, task, layer)
    assert hop_distances(trace, trace.task_names[0])[trace.task_names[0]] == 0


def _segments(trace_dict) -> int:
    """Line segments in a NaN-separated line trace."""
    return int(np.isnan(np.asarray(trace_dict.x, dtype=float)).sum()) if trace_dict.x is not None else 0


def test_message_figure_draws_every_message_in_a_fixed_number_of_traces(ring) -> None:
    graph, trace = ring
    fig = message_figure(trace, graph, layer=1, focus=None)
    labels = ["near"]
    dynamic = len(labels) * len(WIDTHS) + len(labels) + 1
    assert len(fig.data) == dynamic + 1 + len(labels)  # + focus ring + one legend entry per relation
    lines = [t for t in fig.data if t.mode == "lines" and t.showlegend is False]
    assert sum(_segments(t) for t in lines) == 2 * graph.number_of_edges()  # both directions, no self-loops
    assert len(fig.frames) == trace.n_layers
    assert all(len(frame.data) == dynamic for frame in fig.frames)
    widest = [t for t in lines if t.line.width == WIDTHS[-1]]
    assert sum(_segments(t) for t in widest) >= 1  # the layer's largest message is drawn thickest


def test_node_opacity_highlights_the_receptive_field_in_every_frame(ring) -> None:
    graph, trace = ring
    focus = trace.task_names[0]
    fig = message_figure(trace, graph, layer=1, focus=focus)
    for layer, frame in enumerate(fig.frames, start=1):
        nodes = frame.data[-1]
        bright = {name for name, op in zip(nodes.customdata, nodes.marker.opacity, strict=True) if op == 1.0}
        assert bright == _hops(graph, focus, layer)
    ring_trace = fig.data[len(frame.data)]
    assert list(ring_trace.x) == [nodes.x[list(nodes.customdata).index(focus)]]


def test_width_bins_use_layer_relative_norms_or_absolute_attention() -> None:
    assert list(width_bins(np.array([0.0, 1.0, 2.0, 4.0]))) == [0, 1, 2, 3]
    assert list(width_bins(np.array([0.1, 0.3, 0.6, 0.9]), "attention")) == [0, 1, 2, 3]
    assert list(width_bins(np.zeros(3))) == [0, 0, 0]


def test_incoming_bar_chart_values_are_the_trace_norms(ring) -> None:
    _, trace = ring
    task = trace.task_names[2]
    for layer in (1, 2):
        bar = incoming_figure(trace, task, layer).data[0]
        expected = np.sort(trace.incoming(task, layer)["norm"])
        assert np.allclose(np.asarray(bar.x, dtype=float), expected)
        assert len(bar.y) == len(expected) == 3  # two neighbours and the self-loop
        assert any(label.endswith("· self") for label in bar.y)


def test_incoming_bar_chart_shows_attention_weights_when_asked(attention_ring) -> None:
    _, trace = attention_ring
    task = trace.task_names[0]
    bar = incoming_figure(trace, task, 2, "attention").data[0]
    weights = trace.incoming(task, 2)["attention"]
    assert np.allclose(np.asarray(bar.x, dtype=float), np.sort(weights))
    assert np.sum(weights) == pytest.approx(1.0, abs=1e-5)  # a softmax over the task's incoming messages
    fig = message_figure(trace, attention_ring[0], 2, task, "attention")
    assert "attention" in fig.layout.title.text and len(fig.frames) == 3


def test_state_heatmap_shows_every_task_state(ring) -> None:
    _, trace = ring
    focus = trace.task_names[3]
    for layer in range(trace.n_layers + 1):
        fig = state_heatmap(trace, layer, focus)
        assert np.allclose(np.asarray(fig.data[0].z, dtype=float), trace.layers[layer], atol=1e-6)
        assert list(fig.data[0].y) == trace.task_names
    assert fig.layout.shapes[0].y0 == pytest.approx(2.5) and fig.layout.shapes[0].y1 == pytest.approx(3.5)


def test_update_numbers_are_the_tasks_own_terms(ring) -> None:
    _, trace = ring
    task, layer = trace.task_names[1], 2
    v = trace.index(task)
    numbers = update_numbers(trace, task, layer)
    assert numbers["h_prev"] == pytest.approx(np.linalg.norm(trace.layers[1, v]), rel=1e-5)
    assert numbers["h"] == pytest.approx(np.linalg.norm(trace.layers[2, v]), rel=1e-5)
    assert numbers["aggregate"] == pytest.approx(np.linalg.norm(trace.aggregates[1, v]), rel=1e-5)
    activated = np.maximum(trace.self_terms[1, v] + trace.aggregates[1, v], 0)
    assert numbers["activated"] == pytest.approx(np.linalg.norm(activated), rel=1e-5)
    # The update itself: h² = LayerNorm(h¹ + σ(·)); the residual's norm is what LayerNorm received.
    assert numbers["residual"] == pytest.approx(np.linalg.norm(trace.layers[1, v] + activated), rel=1e-5)
    assert numbers["messages"] == 3
    lines = update_latex(numbers, layer, "mean")
    assert len(lines) == 4 and r"\frac{1}{|\mathcal{N}(v)|}" in lines[1]
    assert "h^{1}_{v}" in lines[2] and "h^{2}_{v}" in lines[2]
    assert f"{numbers['h_prev']:.2f}" in lines[3] and f"{numbers['h']:.2f}" in lines[3]
    assert r"\alpha" in update_latex(numbers, layer, "attention")[1]


# --------------------------------------------------------------------------- click mapping
def test_a_click_on_a_node_or_a_message_picks_a_task() -> None:
    names = ["a", "b", "c"]
    assert focus_from_event({"selection": {"points": [{"customdata": "b"}]}}, names) == "b"
    assert focus_from_event({"selection": {"points": [{"customdata": ["message", "a", "c", "near"]}]}}, names) == "c"
    assert focus_from_event({"selection": {"points": [{"customdata": ["c"]}]}}, names) == "c"
    assert focus_from_event({"selection": {"points": [{"x": 1}]}}, names) is None
    assert focus_from_event({"selection": {"points": [{"customdata": "zzz"}]}}, names) is None
    assert focus_from_event(None, names) is None and focus_from_event("junk", names) is None


def test_resolve_focus_prefers_the_selectbox_then_a_click() -> None:
    names = ["a", "b", "c"]
    click_c = {"selection": {"points": [{"customdata": "c"}]}}
    assert resolve_focus(names, "a", None, None, "a") == "a"
    assert resolve_focus(names, "a", "b", click_c, "a") == "b"  # the user changed the selectbox
    assert resolve_focus(names, "a", "a", click_c, "a") == "c"  # then the figure was clicked
    assert resolve_focus(names, "gone", None, None, "b") == "b"  # a task deleted since: the default
    assert resolve_focus(names, "a", "zzz", None, "a") == "a"


# --------------------------------------------------------------------------- embeddings
def test_embedding_figure_has_one_frame_per_layer_and_the_current_points(ring) -> None:
    graph, trace = ring
    k, n = trace.layers.shape[:2]
    points = np.random.default_rng(0).normal(size=(k, n, 2))
    colors, key = embedding_colors(trace.task_names, "rotate", graph, trace.zero_shot)
    hover = [hover_texts(trace.task_names, graph, f"h{i}", trace.test_metric, "accuracy", trace.zero_shot)
             for i in range(k)]
    focus = trace.task_names[2]
    fig = embedding_figure(points, trace.task_names, colors, trace.zero_shot, current=1, hover=hover, focus=focus,
                           key_traces=key)
    assert len(fig.frames) == k
    static = 3  # path lines, faint dots, the focus task's path
    current = fig.data[static]
    assert np.allclose(np.asarray(current.x, dtype=float), points[1, :, 0])
    assert list(current.customdata) == trace.task_names
    assert list(current.marker.symbol).count("star") == int(np.sum(trace.zero_shot))
    assert np.allclose([fig.data[static + 1].x[0], fig.data[static + 1].y[0]], points[1, 2])
    assert np.allclose(np.asarray(fig.frames[2].data[0].y, dtype=float), points[2, :, 1])
    assert "zero-shot" in hover[0][2] and "accuracy" in hover[0][2]
    assert len(fig.data) == static + 2 + len(key)
    flat = embedding_figure(points[:1], trace.task_names, colors, trace.zero_shot, trajectories=True)
    assert len(flat.frames) == 0 and len(flat.data) == 2


def test_embedding_colours_by_metric_can_change_per_frame(ring) -> None:
    graph, trace = ring
    metric = np.array([[0.5] * 6, [1.0] * 6])
    colors, key = embedding_colors(trace.task_names, "metric", graph, trace.zero_shot, metric, "accuracy")
    assert len(colors) == 2 and colors[0][0] != colors[1][0] and len(key) == 1
    zero, legend = embedding_colors(trace.task_names, "zero-shot", graph, trace.zero_shot)
    assert len(set(zero.values())) == 2 and [t.name for t in legend] == ["seen", "zero-shot"]


# --------------------------------------------------------------------------- task outputs
def test_boundary_heatmaps_are_the_grid_outputs(ring) -> None:
    _, trace = ring
    assert kind_of(trace) == "boundary"
    tasks = trace.task_names
    fig = boundary_figure(trace, tasks, "probability", 1)
    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    assert len(heatmaps) == len(tasks) and len(fig.data) == 3 * len(tasks)
    res = int(math.sqrt(len(trace.grid)))
    for k, (hm, name) in enumerate(zip(heatmaps, tasks, strict=True)):
        assert np.allclose(np.asarray(hm.z, dtype=float), trace.outputs_grid[name][:, 1].reshape(res, res), atol=1e-6)
        assert hm.xaxis == ("x" if k == 0 else f"x{k + 1}")
    titles = [a.text for a in fig.layout.annotations]
    assert len(titles) == len(tasks) and all(name in t for name, t in zip(tasks, titles, strict=True))
    zero = [t for t, z in zip(tasks, trace.zero_shot, strict=True) if z]
    assert all("★" in titles[tasks.index(z)] for z in zero)
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis2.scaleanchor == "x2"
    argmax = boundary_figure(trace, tasks[:2], "argmax", show_test=False)
    assert len(argmax.data) == 4
    assert np.array_equal(np.asarray(argmax.data[0].z, dtype=float),
                          trace.outputs_grid[tasks[0]].argmax(1).reshape(res, res))


def test_after_an_edit_each_panel_overlays_the_old_decision_boundary(ring) -> None:
    _, trace = ring
    tasks = trace.task_names[:3]
    assert not [t for t in boundary_figure(trace, tasks).data if t.type == "contour"]
    fig = boundary_figure(trace, tasks, "probability", 1, old=trace)
    contours = [t for t in fig.data if t.type == "contour"]
    assert len(contours) == len(tasks) and [t.xaxis for t in contours] == ["x", "x2", "x3"]
    assert contours[0].contours.start == contours[0].contours.end == 0.5  # the old P = 0.5 line
    assert contours[0].line.dash == "dash" and [t.showlegend for t in contours] == [True, False, False]
    res = int(math.sqrt(len(trace.grid)))
    assert np.allclose(np.asarray(contours[1].z, dtype=float), trace.outputs_grid[tasks[1]][:, 1].reshape(res, res),
                       atol=1e-6)


def test_titles_show_the_metric_before_and_after_an_edit(ring) -> None:
    _, trace = ring
    name = trace.task_names[0]
    now = trace.test_metric[0]
    assert f"{now:.2f}" in panel_title(trace, name)
    assert "→" in panel_title(trace, name, {name: now - 0.25})
    assert "(new)" in panel_title(trace, name, {})


def test_curves_and_predicted_versus_true_for_regression(sine) -> None:
    _, trace = sine
    assert kind_of(trace) == "curve"
    fig = outputs_figure(trace, trace.task_names)
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 3 and np.allclose(np.asarray(lines[1].y, dtype=float), trace.outputs_grid["sine 1"])
    assert len(curve_figure(trace, ["sine 2"]).data) == 3
    scatter = scatter_figure(trace, trace.task_names)
    points = [t for t in scatter.data if t.mode == "markers"]
    assert np.allclose(np.asarray(points[0].y, dtype=float), trace.outputs_test["sine 0"])


def test_confusion_matrices_count_test_predictions(ring) -> None:
    _, trace = ring
    name = trace.task_names[1]
    fig = confusion_figure(trace, [name])
    counts = np.asarray(fig.data[0].customdata)
    assert counts.sum() == len(trace.y_test[name])
    assert np.trace(counts) / counts.sum() == pytest.approx(trace.test_metric[1])
    assert task_classes(trace, name) == 2
    m = confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_grid_shape_is_at_most_four_then_six_wide() -> None:
    assert grid_shape(1) == (1, 1) and grid_shape(4) == (1, 4) and grid_shape(12) == (3, 4)
    assert grid_shape(24) == (4, 6) and grid_shape(7, max_columns=3) == (3, 3)


def test_metrics_table_marks_zero_shot_and_puts_the_baseline_beside(ring, attention_ring) -> None:
    _, trace = ring
    _, other = attention_ring
    table = metrics_table(trace, other, "baseline (x)", before=other)
    n = len(trace.task_names)
    assert list(table.columns) == ["task", "zero-shot", "accuracy before edit", "accuracy", "baseline (x)",
                                   "RAG − baseline"]
    rows = table.iloc[:n]
    assert list(rows.loc[rows["zero-shot"] == "★", "task"]) == [t for t, z in zip(trace.task_names, trace.zero_shot,
                                                                                 strict=True) if z]
    assert np.allclose(rows["accuracy"], trace.test_metric)
    assert np.allclose(rows["baseline (x)"], other.test_metric)
    assert list(table["task"].iloc[n:]) == ["Mean (seen tasks)", "Mean (zero-shot tasks)"]
    seen = ~np.asarray(trace.zero_shot)
    assert table["accuracy"].iloc[n] == pytest.approx(np.mean(trace.test_metric[seen]))


def test_panel_titles_clear_the_axis_titles_of_the_row_above() -> None:
    """Rows of confusion matrices: the gap between rows holds the ticks, 'predicted' and a two-line title."""
    from ragviz.plots.outputs import AXIS_TITLE_GAP_PX, _grid_layout

    class FakeTrace:
        metric = "accuracy"
        zero_shot = [False] * 8
        test_metric = [0.5] * 8

        def index(self, name):
            return int(name)

    layout = _grid_layout(FakeTrace(), [str(k) for k in range(8)], False, None, 0.06, gap_px=AXIS_TITLE_GAP_PX)
    plot_px = layout["height"] - layout["margin"]["t"] - 8
    row_above_bottom = layout["yaxis"]["domain"][0]
    next_row_top = layout["yaxis5"]["domain"][1]
    assert (row_above_bottom - next_row_top) * plot_px >= AXIS_TITLE_GAP_PX - 1


def test_named_classes_get_room_between_panels() -> None:
    """Long class names on the axes widen the gaps between panels (they ran into the neighbours' cells);
    short ones keep the usual spacing."""
    from ragviz.plots.outputs import FIGURE_WIDTH_PX, TICK_CHAR_PX, label_room

    short_spacing, short_gap = label_room(5)
    long_spacing, long_gap = label_room(15)
    assert short_spacing == 0.06 and long_spacing > short_spacing and long_gap > short_gap
    assert long_spacing * FIGURE_WIDTH_PX >= 15 * TICK_CHAR_PX  # the y labels fit between two panels
