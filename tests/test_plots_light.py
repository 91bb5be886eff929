"""Big graphs' figures stay light for the browser and still show what they must; small ones are unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from ragviz.data.domains import domain_spec
from ragviz.graph.generators import generate_graph
from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.trace import Trace, compute_trace
from ragviz.model.config import ModelConfig
from ragviz.model.rag import build_model
from ragviz.model.tensors import make_vocab
from ragviz.plots.colors import ZERO_SHOT_SYMBOL
from ragviz.plots.embeddings import embedding_colors, embedding_figure, hover_texts
from ragviz.plots.graph import graph_figure
from ragviz.plots.light import LIGHT_TASKS, is_light
from ragviz.plots.messages import WIDTHS, message_figure, receptive_field

BIG = 200
#: JSON bytes a light figure may spend per task (a 1,000-task ring's figures use 380–440).
BYTES_PER_TASK = 600


def _ring(n: int) -> tuple[TaskGraph, Trace]:
    graph = generate_graph("ring", n, "moons", vary="rotate", start=0.0, stop=360.0, relation="near",
                           train_size=10, test_size=10, zero_shot=[n // 4, 3 * n // 4], seed=0)
    model = build_model(ModelConfig(layers=2), domain_spec(graph), make_vocab(graph), seed=0)
    return graph, compute_trace(model, graph, grid_resolution=5)


@pytest.fixture(scope="module")
def big() -> tuple[TaskGraph, Trace]:
    return _ring(BIG)


@pytest.fixture(scope="module")
def edge() -> tuple[TaskGraph, Trace]:
    """The largest graph still drawn in full."""
    return _ring(LIGHT_TASKS)


def _zero_shot(trace: Trace) -> list[str]:
    return [n for n, z in zip(trace.task_names, trace.zero_shot, strict=True) if z]


def _segments(trace) -> int:
    return int(np.isnan(np.asarray(trace.x, dtype=float)).sum()) if trace.x is not None else 0


def _notes(fig) -> str:
    return " ".join(a.text for a in fig.layout.annotations)


def test_the_threshold_is_past_light_tasks() -> None:
    assert not is_light(LIGHT_TASKS) and is_light(LIGHT_TASKS + 1)


@pytest.mark.parametrize("layer", [1, 2])
def test_big_message_figure_is_light_and_keeps_every_message_line_and_the_focus(big, layer: int) -> None:
    graph, trace = big
    focus = _zero_shot(trace)[0]
    fig = message_figure(trace, graph, layer=layer, focus=focus)
    assert len(fig.to_json()) <= BYTES_PER_TASK * BIG
    assert len(fig.frames) == 0 and not fig.layout.updatemenus
    dynamic = len(WIDTHS) + 1 + 1  # one relation: its width bins, its arrows, then the tasks
    assert len(fig.data) == dynamic + 1 + 1  # + focus ring + the relation's legend entry
    lines = [t for t in fig.data if t.mode == "lines" and t.showlegend is False]
    assert sum(_segments(t) for t in lines) == 2 * graph.number_of_edges()  # every message still drawn
    assert all(np.asarray(t.x).dtype == np.float32 for t in lines if len(t.x))
    nodes = fig.data[dynamic - 1]
    assert list(nodes.customdata) == trace.task_names
    stars = {n for n, s in zip(nodes.customdata, nodes.marker.symbol, strict=True) if s == ZERO_SHOT_SYMBOL}
    assert stars == set(_zero_shot(trace))
    ring = fig.data[dynamic]
    assert list(ring.x) == [nodes.x[trace.index(focus)]]
    # Arrows (and their hover and click data) only between tasks of the focus task's receptive field.
    field = receptive_field(trace, focus, layer)
    arrows = [(d[1], d[2]) for t in fig.data if t.customdata is not None and t is not nodes for d in t.customdata]
    expected = {(trace.task_names[s], trace.task_names[d])
                for s, d in zip(trace.message_src.tolist(), trace.message_dst.tolist(), strict=True)
                if s != d and trace.task_names[s] in field and trace.task_names[d] in field}
    assert set(arrows) == expected and len(arrows) == len(expected) > 0
    notes = _notes(fig)
    assert "receptive field" in notes and "No ▶ animation" in notes


def test_big_message_figure_without_a_focus_says_so(big) -> None:
    graph, trace = big
    fig = message_figure(trace, graph, layer=1, focus=None)
    assert "a focus task" in _notes(fig)
    assert all(t.customdata is None or len(t.customdata) == 0 for t in fig.data[len(WIDTHS):len(WIDTHS) + 1])


def test_message_figure_at_the_threshold_is_drawn_in_full(edge) -> None:
    graph, trace = edge
    fig = message_figure(trace, graph, layer=1, focus=trace.task_names[0])
    assert len(fig.frames) == trace.n_layers and fig.layout.updatemenus
    assert not fig.layout.annotations
    arrows = fig.data[len(WIDTHS)]
    assert len(arrows.customdata) == 2 * graph.number_of_edges()  # an arrow on every message
    assert np.asarray(fig.data[0].x).dtype == np.float64


def _embedding_figure(graph: TaskGraph, trace: Trace):
    k, n = trace.layers.shape[:2]
    points = np.random.default_rng(0).normal(size=(k, n, 2))
    colors, key = embedding_colors(trace.task_names, "rotate", graph, trace.zero_shot)
    hover = [hover_texts(trace.task_names, graph, f"h{i}", trace.test_metric, "accuracy", trace.zero_shot)
             for i in range(k)]
    focus = _zero_shot(trace)[0]
    return points, focus, embedding_figure(points, trace.task_names, colors, trace.zero_shot, current=k - 1,
                                           hover=hover, focus=focus, key_traces=key)


def test_big_embedding_figure_has_no_frames_and_keeps_the_tasks_and_the_focus(big) -> None:
    graph, trace = big
    points, focus, fig = _embedding_figure(graph, trace)
    assert len(fig.to_json()) <= BYTES_PER_TASK * BIG
    assert len(fig.frames) == 0 and not fig.layout.updatemenus
    assert "No ▶ animation" in _notes(fig)
    current = fig.data[3]  # after the path lines, the faint dots and the focus task's path
    assert list(current.customdata) == trace.task_names
    assert np.asarray(current.x).dtype == np.float32
    assert np.allclose(np.asarray(current.x, dtype=float), points[-1, :, 0], atol=1e-5)
    assert list(current.marker.symbol).count(ZERO_SHOT_SYMBOL) == len(_zero_shot(trace))
    assert np.allclose([fig.data[4].x[0], fig.data[4].y[0]], points[-1, trace.index(focus)], atol=1e-5)


def test_embedding_figure_at_the_threshold_keeps_its_frames(edge) -> None:
    graph, trace = edge
    _, _, fig = _embedding_figure(graph, trace)
    assert len(fig.frames) == trace.n_layers + 1 and fig.layout.updatemenus
    assert not fig.layout.annotations


def test_big_task_graph_sends_float32_and_keeps_every_task(big) -> None:
    graph, _ = big
    fig = graph_figure(graph)
    assert len(fig.to_json()) <= BYTES_PER_TASK * BIG
    nodes = [t for t in fig.data if t.name in ("seen tasks", "zero-shot tasks ★") and t.customdata is not None]
    assert sorted(n for t in nodes for n in t.customdata) == sorted(graph.task_names())
    zero = next(t for t in nodes if t.name == "zero-shot tasks ★")
    assert set(zero.customdata) == {n for n in graph.task_names() if graph.task(n).zero_shot}
    assert all(np.asarray(t.x).dtype == np.float32 for t in nodes)
    small = graph_figure(_ring(LIGHT_TASKS)[0])
    assert len(small.data) == len(fig.data)  # the same traces, only lighter numbers
    assert all(np.asarray(t.x).dtype == np.float64 for t in small.data if t.name == "seen tasks")
