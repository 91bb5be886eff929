"""Behaviour of the task-graph figure and the data preview: what is drawn, and how many traces."""

from __future__ import annotations

import math
import random

import numpy as np
import plotly.graph_objects as go
import pytest

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task
from ragviz.plots import graph as G
from ragviz.plots.colors import relation_colors, task_colors
from ragviz.plots.data_preview import data_preview_figure
from ragviz.plots.graph import drawing_note, graph_figure, node_positions, with_positions


@pytest.fixture
def graph() -> TaskGraph:
    g = TaskGraph([Relation("near", False, "#1f77b4"), Relation("teaches", True, "#d62728")])
    for i, name in enumerate(["a", "b", "c", "d"]):
        g.add_task(Task(name, "moons", {"rotate": 90.0 * i}, 0 if name == "d" else 20, 50, i,
                        (math.cos(i), math.sin(i))))
    g.add_edge("a", "b", "near")
    g.add_edge("b", "c", "near", 0.5)
    g.add_edge("c", "d", "teaches")
    return g


def big_graph(n: int, e: int, seed: int = 0) -> TaskGraph:
    rnd = random.Random(seed)
    g = TaskGraph([Relation("near"), Relation("teaches", True)])
    for i in range(n):
        g.add_task(Task(f"t{i}", "moons", {"rotate": 360.0 * i / n}, 0 if i % 10 == 0 else 20, 50, i,
                        (rnd.random(), rnd.random())))
    names = g.task_names()
    count = 0
    while count < e:
        a, b = rnd.sample(names, 2)
        relation = rnd.choice(["near", "teaches"])
        if not (g.nx.has_edge(a, b, key=relation) or g.nx.has_edge(b, a, key=relation)):
            g.add_edge(a, b, relation)
            count += 1
    return g


def by_name(fig: go.Figure, name: str) -> list:
    return [t for t in fig.data if t.name == name]


def test_one_node_trace_for_seen_and_one_for_zero_shot_with_names_as_customdata(graph):
    fig = graph_figure(graph)
    seen, zero = by_name(fig, "seen tasks")[0], by_name(fig, "zero-shot tasks ★")[0]
    assert [t.name for t in fig.data if t.showlegend is not False and t.legendgroup == "tasks"] == [
        "seen task", "zero-shot task (no training data)"]  # grey legend entries, not a task's colour
    assert list(seen.customdata) == ["a", "b", "c"] and list(zero.customdata) == ["d"]
    assert seen.marker.symbol == "circle" and zero.marker.symbol == "star"
    assert isinstance(seen, go.Scattergl)
    colors = task_colors(graph)
    assert list(seen.marker.color) == [colors[n] for n in "abc"]


def test_edges_one_line_trace_per_relation_in_its_colour_with_gaps(graph):
    fig = graph_figure(graph)
    lines = [t for t in fig.data if t.mode == "lines" and t.showlegend is False]
    assert sorted(t.legendgroup for t in lines) == ["near", "teaches"]
    near = next(t for t in lines if t.legendgroup == "near")
    assert near.line.color == relation_colors(graph)["near"]
    xs = np.asarray(near.x, dtype=float)
    assert len(xs) == 6 and np.isnan(xs[2]) and np.isnan(xs[5])  # two edges, each ended by a gap
    assert xs[0] == pytest.approx(graph.task("a").pos[0]) and xs[1] == pytest.approx(graph.task("b").pos[0])
    legend = [t.name for t in fig.data if t.mode == "lines" and t.showlegend is not False]
    assert legend == ["near", "teaches →"]  # one legend entry per relation, arrow for directed ones


def test_directed_edges_get_an_arrow_at_eighty_percent_pointing_at_the_target(graph):
    fig = graph_figure(graph)
    arrows = [t for t in fig.data if t.mode == "markers" and t.legendgroup == "teaches"][0]
    (cx, cy), (dx, dy) = graph.task("c").pos, graph.task("d").pos
    assert arrows.marker.symbol == "triangle-up"
    assert arrows.x[0] == pytest.approx(cx + 0.8 * (dx - cx)) and arrows.y[0] == pytest.approx(cy + 0.8 * (dy - cy))
    # clockwise from up: a unit step right would be 90 degrees
    assert arrows.marker.angle[0] == pytest.approx(math.degrees(math.atan2(dx - cx, dy - cy)), abs=0.01)
    assert list(arrows.customdata[0]) == ["edge", "c", "d", "teaches"]
    assert "weight" in arrows.hovertext[0]


def test_hover_tells_family_params_sizes_and_zero_shot(graph):
    fig = graph_figure(graph)
    zero = by_name(fig, "zero-shot tasks ★")[0]
    text = zero.hovertext[0]
    assert "family: moons" in text and "rotate=270" in text and "zero-shot" in text and "test 50" in text


def test_selected_tasks_become_plotlys_own_selection(graph):
    fig = graph_figure(graph, selected=["c", "a", "zz", "d"])
    seen, zero = by_name(fig, "seen tasks")[0], by_name(fig, "zero-shot tasks ★")[0]
    assert list(seen.selectedpoints) == [0, 2] and list(zero.selectedpoints) == [0]
    assert seen.unselected.marker.opacity < 1 and seen.selected.marker.size > seen.marker.size
    assert graph_figure(graph).data[-1].selectedpoints is None


def test_highlight_fades_the_other_tasks(graph):
    fig = graph_figure(graph, highlight={"a"})
    assert list(by_name(fig, "seen tasks")[0].marker.opacity) == [1.0, 0.25, 0.25]


def test_layout_is_clean_equal_aspect(graph):
    fig = graph_figure(graph)
    assert not fig.layout.xaxis.visible and not fig.layout.yaxis.visible
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.showlegend


def test_colour_by_family_and_parameter(graph):
    fam = graph_figure(graph, color_by="family")
    assert len(set(by_name(fam, "seen tasks")[0].marker.color)) == 1
    rot = graph_figure(graph, color_by="rotate")
    assert len(set(by_name(rot, "seen tasks")[0].marker.color)) == 3
    assert any(getattr(t.marker, "showscale", False) for t in rot.data)  # a colour bar for the parameter
    assert graph_figure(graph, color_by="no such parameter")  # falls back, never fails


def test_compact_thumbnail(graph):
    fig = graph_figure(graph, compact=True)
    assert not fig.layout.showlegend and fig.layout.height == G.COMPACT_HEIGHT
    assert all(t.mode != "markers+text" for t in fig.data)


def test_empty_graph_says_so():
    fig = graph_figure(TaskGraph())
    assert "No tasks" in fig.layout.annotations[0].text


def test_tasks_without_positions_are_placed_deterministically(graph):
    graph.add_task(Task("new", "moons"))
    graph.add_edge("new", "a", "near")
    pos = node_positions(graph)
    assert set(pos) == {"a", "b", "c", "d", "new"} and pos == node_positions(graph)
    assert pos["new"] != pos["a"]
    placed = with_positions(graph)
    assert placed.task("new").pos == pytest.approx(pos["new"]) and graph.task("new").pos is None
    unplaced = TaskGraph()
    for name in "xyz":
        unplaced.add_task(Task(name, "sine"))
    assert len(set(node_positions(unplaced).values())) == 3


def test_thousand_tasks_use_a_fixed_number_of_traces():
    """Build time is a benchmark figure (benchmarks/bench_app.py); here: the traces do not grow."""
    g = big_graph(1000, 3000)
    fig = graph_figure(g)
    assert len(fig.data) == len(graph_figure(big_graph(50, 100)).data)  # traces do not grow with the graph
    assert len(fig.data) <= 3 * len(g.relations) + 5
    assert all(isinstance(t, (go.Scattergl, go.Scatter)) for t in fig.data)
    assert sum(len(t.customdata) for t in fig.data if t.legendgroup == "tasks" and t.customdata is not None) == 1000
    assert drawing_note(g) is None


@pytest.mark.parametrize(("limit", "value", "tasks", "edges", "drawn", "note"), [
    ("MAX_DRAWN_TASKS", 50, 120, 100, 50, "50 of its 120 tasks"),  # a sample of the tasks
    ("MAX_DRAWN_EDGES", 10, 30, 20, 30, "its 30 tasks without edges"),  # every task, no edges
])
def test_too_big_graph_draws_without_edges_and_says_so(monkeypatch, limit, value, tasks, edges, drawn, note):
    monkeypatch.setattr(G, limit, value)
    g = big_graph(tasks, edges)
    fig = graph_figure(g)
    assert not [t for t in fig.data if t.mode == "lines"]
    assert sum(len(t.customdata) for t in fig.data if t.legendgroup == "tasks" and t.customdata is not None) == drawn
    assert "too big to draw in full" in fig.layout.annotations[0].text
    assert note in drawing_note(g)


# --------------------------------------------------------------------------- data preview
def test_preview_one_panel_per_task_with_class_colours(graph):
    fig = data_preview_figure(graph, ["a", "d"])
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0].startswith("a<br>") and "train" in titles[0]
    assert titles[1].startswith("d ★") and "test" in titles[1]  # zero-shot: its test split is shown
    assert {t.name for t in fig.data} == {"class 0", "class 1"}


@pytest.mark.parametrize(("family", "trace_type"), [("sine", "scatter"), ("digits_rotated", "heatmap")])
def test_preview_other_domains(family, trace_type):
    g = TaskGraph()
    g.add_task(Task("t", family, {}, 10, 20, 0))
    fig = data_preview_figure(g)
    assert [t.type for t in fig.data] == [trace_type]


def test_preview_csv_and_bad_task_say_what_is_wrong():
    import pandas as pd

    g = TaskGraph()
    g.add_task(Task("t", "csv", {"table": "data", "task": "A"}, 5, 5, 0))
    table = pd.DataFrame({"task": ["A"] * 12, "target": [0, 1] * 6, "f1": range(12), "f2": range(12)})
    fig = data_preview_figure(g, tables={"data": table})
    assert len(fig.data) == 2
    broken = data_preview_figure(g, tables={})
    assert "cannot make data" in broken.layout.annotations[0].text


def test_preview_empty():
    assert "No tasks" in data_preview_figure(TaskGraph()).layout.annotations[0].text


# ------------------------------------------------------------------ readable figures
def _boxes(pos, spots, marker_px):
    """The label boxes the figure would draw, in the same pixel space as label_spots."""
    xr, yr = G._ranges(pos.values(), G.label_reach(pos))
    scale = G._px_per_unit(xr, yr, G.PLOT_PX)
    half, boxes = marker_px / 2, []
    for name, spot in spots.items():
        if spot is None:
            continue
        x, y = pos[name][0] * scale, pos[name][1] * scale
        w, h = G.LABEL_CHAR_PX * len(name) + 4, G.LABEL_HEIGHT_PX
        dx, dy = {"top center": (0, half + 2 + h / 2), "bottom center": (0, -(half + 2 + h / 2)),
                  "middle right": (half + 3 + w / 2, 0), "middle left": (-(half + 3 + w / 2), 0)}[spot]
        boxes.append((x + dx - w / 2, y + dy - h / 2, x + dx + w / 2, y + dy + h / 2))
    return boxes


def test_task_names_never_overlap_and_crowded_ones_go_to_the_hover():
    rng = np.random.default_rng(0)
    pos = {f"task number {k}": tuple(rng.uniform(-1, 1, 2)) for k in range(40)}
    pos |= {f"crowd {k}": (0.001 * k, 0.0) for k in range(6)}
    spots = G.label_spots(pos, 16.0, first=["crowd 3"])
    boxes = _boxes(pos, spots, 16.0)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
    assert spots["crowd 3"] is not None  # named first, placed first
    assert sum(spots[f"crowd {k}"] is None for k in range(6)) >= 2
    assert sum(s is not None for s in spots.values()) >= 20


def test_the_figure_writes_only_placed_names():
    from ragviz.graph.generators import ring_of_moons

    graph = ring_of_moons()
    fig = graph_figure(graph)
    texts = [t for tr in fig.data if tr.text is not None for t in tr.text]
    assert set(texts) - {""} == set(graph.task_names())  # a ring has room for every name


def test_a_new_task_is_never_drawn_in_line_with_two_others():
    from ragviz.graph.generators import generate_graph
    from ragviz.graph.tasks import make_task

    graph = generate_graph("chain", 8, "moons")
    first = graph.task_names()[0]
    for k in range(5):
        graph.add_task(make_task(f"new {k}", "moons", {}, 10, 10, 0))
        if k % 2:
            graph.add_edge(first, f"new {k}", "near")
        spot = np.array(node_positions(graph)[f"new {k}"])
        graph.set_positions({f"new {k}": tuple(spot)})
        others = np.array([p for n, p in node_positions(graph).items() if n != f"new {k}"])
        for end in others:  # an edge from the new task to any task passes clear of every other task
            ab = end - spot
            rest = others[np.linalg.norm(others - end, axis=1) > 1e-9]
            t = np.clip((rest - spot) @ ab / (ab @ ab), 0, 1)
            assert np.min(np.linalg.norm(rest - (spot + t[:, None] * ab), axis=1)) > 0.02


def test_a_thousand_tasks_keep_visible_markers_when_one_is_selected():
    from ragviz.graph.generators import generate_graph

    graph = generate_graph("random", 1000, "moons", p=0.002, zero_shot=[0, 500])
    fig = graph_figure(graph, selected=[graph.task_names()[1]])
    seen = next(t for t in fig.data if t.name == "seen tasks")
    assert seen.marker.line.width == 0  # a white outline would cover a small marker
    assert seen.unselected.marker.opacity >= 0.6 and seen.marker.size >= 5


def test_a_chain_stored_on_one_line_is_drawn_as_a_snake_and_kept_so_after_an_edit():
    from ragviz.graph.generators import generate_graph

    graph = generate_graph("chain", 40, "moons")
    graph.set_positions({n: (float(k), 0.0) for k, n in enumerate(graph.task_names())})  # an old, flat drawing
    drawn = G.drawing_positions(graph)
    xs, ys = zip(*drawn.values(), strict=True)
    assert max(ys) - min(ys) > 0.25 * (max(xs) - min(xs))
    kept = with_positions(graph)
    assert node_positions(kept) == drawn  # the next edit stores the snake
    assert G.drawing_positions(small := generate_graph("chain", 5, "moons")) == node_positions(small)
