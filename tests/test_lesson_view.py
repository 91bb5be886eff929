"""An open lesson on screen, the pure parts: its claim's tasks, its go-there links, its contrast's figures,
the marks in every figure, the dashed truth and the one class palette."""

from __future__ import annotations

import numpy as np
import pytest

from ragviz.data.domains import domain_spec
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task
from ragviz.inspection.trace import compute_trace
from ragviz.lessons.catalogue import LESSONS
from ragviz.lessons.graphs import hop_chain, hop_distance, typed_relations, works_and_fails
from ragviz.lessons.samples import SAMPLES, recorded_results
from ragviz.lessons.view import (
    EMBEDDINGS,
    MESSAGE_PASSING,
    TASK_OUTPUTS,
    ContrastFigures,
    claim_tasks,
    go_there_targets,
    per_task_comparison,
    seed_margins,
)
from ragviz.model.config import ModelConfig
from ragviz.model.rag import build_model
from ragviz.model.tensors import make_vocab
from ragviz.plots.colors import CLASS_COLORS, class_color, class_palette
from ragviz.plots.data_preview import task_traces
from ragviz.plots.embeddings import embedding_figure
from ragviz.plots.graph import graph_figure
from ragviz.plots.marks import MARK_COLOR, MARK_NAME
from ragviz.plots.messages import message_figure
from ragviz.plots.outputs import boundary_figure, curve_figure, outputs_figure, sine_truth
from ragviz.plots.text import sentence_bars_figure
from tests.helpers import small_ring


# ----------------------------------------------------------------------------- claim tasks and links
def test_the_hop_lesson_is_about_the_zero_shot_tasks_exactly_three_hops_from_data() -> None:
    graph = hop_chain(seed=11)
    tasks = claim_tasks("message_passing_hops", graph)
    dist = hop_distance(graph)
    assert len(tasks) == 2
    assert all(graph.task(t).zero_shot and dist[t] == 3 for t in tasks)
    assert {t for t in graph.task_names() if graph.task(t).zero_shot and dist[t] == 3} == set(tasks)


def test_the_failing_ring_comes_first_then_its_working_contrast() -> None:
    tasks = claim_tasks("when_zero_shot_fails", works_and_fails(seed=11))
    assert [t.split()[0] for t in tasks] == ["fails", "works"]


def test_claim_tasks_follow_the_graph_as_edited_and_unknown_lessons_mark_nothing() -> None:
    graph = typed_relations(seed=11)
    before = claim_tasks("relation_types", graph)
    graph.add_task(Task("new one", "moons", {"rotate": 10.0}, 0, 20, 1))
    assert claim_tasks("relation_types", graph) == [*before, "new one"]
    assert claim_tasks("not a lesson", graph) == []
    assert claim_tasks(None, graph) == []


def test_every_shipped_lesson_has_go_there_links_to_its_claims_tasks() -> None:
    for sample in SAMPLES:
        lesson = LESSONS[sample.key]
        graph = lesson.build_graph(quick=True)
        targets = go_there_targets(sample.key, graph, lesson.model.layers)
        assert targets, sample.key
        assert all(t.task == claim_tasks(sample.key, graph)[0] for t in targets)
        assert any(t.page == TASK_OUTPUTS for t in targets)
        for t in targets:
            assert t.layer is None or 1 <= t.layer <= lesson.model.layers


def test_the_hop_lesson_opens_message_passing_on_a_three_hop_task_at_layer_three() -> None:
    graph = hop_chain(seed=11)
    first = go_there_targets("message_passing_hops", graph, layers=3)[0]
    assert (first.page, first.task, first.layer) == (MESSAGE_PASSING, claim_tasks("message_passing_hops", graph)[0], 3)
    assert hop_distance(graph)[first.task] == 3
    # A retrained model with fewer layers: the link asks for a layer it has.
    assert go_there_targets("message_passing_hops", graph, layers=2)[0].layer == 2
    assert go_there_targets("message_passing_hops", graph, layers=0)[0].layer is None
    ring = go_there_targets("zero_shot_ring", small_ring(), layers=4)
    assert [t.layer for t in ring if t.page == MESSAGE_PASSING] == [4]  # the last layer
    assert [t.page for t in ring if t.page == EMBEDDINGS]


# ----------------------------------------------------------------------------- contrast figures
def test_seed_margins_follow_each_kind_of_rule() -> None:
    assert seed_margins([0.9, 0.7], [0.5, 0.6]) == pytest.approx([0.4, 0.1])
    assert seed_margins([0.1, 0.2], [0.5, 0.4], lower_is_better=True) == pytest.approx([5.0, 2.0])
    assert seed_margins([0.6, 0.3], [0.5, 0.5], chance=0.1) == pytest.approx([0.5, 0.2])
    assert seed_margins([0.0, 0.2], [0.9, 0.1], chance=0.5, below_chance=True) == pytest.approx([0.5, 0.3])
    assert np.isnan(seed_margins([float("nan")], [0.5])[0])


def test_the_weakest_seed_is_the_one_with_the_smallest_margin_and_a_missing_value_counts_as_weakest() -> None:
    figures = ContrastFigures("RAG", "no edges", "acc", [11, 12, 13], [0.9, 0.7, 0.95], [0.5, 0.5, 0.5], True, "r")
    assert figures.worst_seed() == 12
    table = figures.table()
    assert list(table["seed"]) == ["11", "12 (weakest)", "13"]
    assert list(table["model − contrast"]) == pytest.approx([0.4, 0.2, 0.45])
    assert "Weakest seed 12: 0.700 vs 0.500" in figures.summary()
    gap = ContrastFigures("RAG", "no edges", "acc", [11, 12], [0.9, None], [0.5, 0.5], False, "r")
    assert gap.worst_seed() == 12


def test_the_contrast_figures_are_the_recorded_ones_seed_by_seed() -> None:
    """What the app shows is RESULTS.json's figures, not a summary that could round a failure away."""
    for key, record in recorded_results().items():
        figures = ContrastFigures.from_record(record, LESSONS[key])
        assert figures.model == pytest.approx(record.model) and figures.contrast == pytest.approx(record.contrast)
        assert figures.seeds == record.seeds and figures.holds == record.holds
        margins = figures.margins()
        assert figures.worst_seed() == record.seeds[int(np.nanargmin(margins))]
        if figures.lower_is_better:
            assert min(margins) == pytest.approx(min(c / m for m, c in zip(record.model, record.contrast,
                                                                            strict=True)))
    wrong = ContrastFigures.from_record(recorded_results()["wrong_relations"], LESSONS["wrong_relations"])
    assert wrong.table()[wrong.contrast_label].min() < 0.5  # the shuffled contrast's bad seeds are on screen


def test_the_per_task_comparison_puts_model_and_contrast_side_by_side_on_the_claims_tasks() -> None:
    table = per_task_comparison(["a", "b", "c"], [False, True, True], {"a": 0.9, "b": 0.8, "c": 0.6},
                                {"a": 0.9, "b": 0.5, "c": 0.4}, ["b", "c", "gone"], "RAG", "no edges")
    assert list(table["task"]) == ["b", "c", "Mean"]
    assert list(table["zero-shot"]) == ["★", "★", ""]
    assert list(table["RAG"]) == pytest.approx([0.8, 0.6, 0.7])
    assert list(table["no edges"]) == pytest.approx([0.5, 0.4, 0.45])
    assert per_task_comparison(["a"], [False], {}, {}, [], "RAG", "x").empty


# ----------------------------------------------------------------------------- marks in every figure
@pytest.fixture(scope="module")
def ring_trace():
    graph = small_ring()
    model = build_model(ModelConfig(layers=2), domain_spec(graph), make_vocab(graph), seed=0)
    return graph, compute_trace(model, graph, grid_resolution=10)


def _ring(fig):
    return next((t for t in fig.data if t.name == MARK_NAME), None)


def test_marked_tasks_get_a_ring_on_the_task_graph_and_message_passing(ring_trace) -> None:
    graph, trace = ring_trace
    marked = {graph.task_names()[2]}
    for fig in (graph_figure(graph, marked=marked), message_figure(trace, graph, 1, marked=marked)):
        ring = _ring(fig)
        assert ring is not None and len(ring.x) == 1 and ring.marker.color == MARK_COLOR
        assert ring.hoverinfo == "skip"  # a click on the ring reaches the task under it
    assert _ring(graph_figure(graph)) is None and _ring(message_figure(trace, graph, 1)) is None


def test_embedding_rings_move_with_the_tasks_in_every_frame() -> None:
    points = np.array([[[0.0, 0.0], [1.0, 1.0]], [[2.0, 2.0], [3.0, 5.0]]])
    fig = embedding_figure(points, ["a", "b"], {"a": "#000", "b": "#111"}, [False, True], marked={"b"})
    assert [list(frame.data[-1].y) for frame in fig.frames] == [[1.0], [5.0]]
    assert fig.frames[0].data[-1].marker.color == MARK_COLOR


def test_marked_panels_are_framed_in_the_outputs(ring_trace) -> None:
    graph, trace = ring_trace
    names = trace.task_names
    fig = outputs_figure(trace, names, marked={names[1], names[3]})
    frames = [s for s in fig.layout.shapes if s.line.color == MARK_COLOR]
    assert {(f.xref, f.yref) for f in frames} == {("x2 domain", "y2 domain"), ("x4 domain", "y4 domain")}
    assert MARK_COLOR in fig.layout.annotations[1].text and MARK_COLOR not in fig.layout.annotations[0].text
    assert not [s for s in (boundary_figure(trace, names).layout.shapes or ()) if s.line.color == MARK_COLOR]


# ----------------------------------------------------------------------------- dashed truth, palette
def test_sine_curves_draw_the_truth_dashed_beside_the_solid_prediction() -> None:
    graph = TaskGraph([Relation("near")])
    graph.add_task(Task("s", "sine", {"amplitude": 2.0, "phase": 0.5, "frequency": 1.0}, 10, 20, 0))
    graph.add_task(Task("t", "sine", {"phase": 1.0}, 0, 20, 1))
    graph.add_edge("s", "t", "near")
    model = build_model(ModelConfig(layers=1), domain_spec(graph), make_vocab(graph))
    trace = compute_trace(model, graph, grid_resolution=25)
    xs = trace.grid[:, 0]
    truth = sine_truth(graph, ["s", "t"], xs)
    assert truth["s"] == pytest.approx(2.0 * np.sin(xs + 0.5))
    fig = curve_figure(trace, ["s", "t"], truth=truth)
    dashed = [t for t in fig.data if t.name == "truth"]
    solid = [t for t in fig.data if t.name == "prediction"]
    assert len(dashed) == 2 and all(t.line.dash == "dash" for t in dashed)
    assert all(t.line.dash is None for t in solid)
    assert [t.showlegend for t in dashed] == [True, False]
    assert sine_truth(small_ring(), ["moons 0°"], xs) == {}


def test_one_class_palette_colours_every_figure() -> None:
    assert class_palette(3) == [class_color(0), class_color(1), class_color(2)]
    assert class_color(len(CLASS_COLORS)) == class_color(0)
    bars = sentence_bars_figure({"t": np.array([0.3, 0.7])}, {"t": ["neg", "pos"]})
    assert [t.marker.color for t in bars.data] == class_palette(2)
    traces, _ = task_traces(Task("spiral", "spiral", {"n_classes": 3}, 60, 10, 0))
    assert [t.marker.color for t in traces] == class_palette(3)


def test_a_lessons_layer_contrast_is_a_baseline_the_run_queue_can_train() -> None:
    from ragviz.safety.errors import ConfigError
    from ragviz.training.runner import baseline_setup

    graph = small_ring()
    config, edges = baseline_setup("layers=1", ModelConfig(layers=3), graph)
    assert config.layers == 1 and edges is None
    assert baseline_setup("no edges", ModelConfig(), graph)[1] == []
    with pytest.raises(ConfigError):
        baseline_setup("layers=many", ModelConfig(), graph)
    for key, lesson in LESSONS.items():  # every lesson's contrast but "same model" goes through the queue
        if lesson.contrast != "same model":
            assert baseline_setup(lesson.contrast, lesson.model, lesson.build_graph(quick=True))[0] is not None, key
