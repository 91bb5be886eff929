"""Training figures: one line per task, zero-shot dashed, shared colours, comparison bars hatched."""

from __future__ import annotations

import math

import pytest

from ragviz.plots.colors import curve_colors, task_colors
from ragviz.plots.training import (
    MEAN_COLOR,
    SEEN_DASH,
    ZERO_SHOT_DASH,
    ZERO_SHOT_PATTERN,
    comparison_figure,
    curves_figure,
)
from ragviz.storage.gallery import MetricSet
from ragviz.training.history import History
from tests.helpers import small_ring


def _history() -> History:
    tasks, nan = ["a", "b", "z"], float("nan")
    return History(
        tasks=tasks, zero_shot=["z"], metric="accuracy", steps=[0, 10, 20], wall_time=[0.0, 0.1, 0.2],
        train_loss=[[0.7, 0.7, nan], [0.5, 0.6, nan], [0.3, 0.4, nan]],
        test_loss=[[0.7, 0.7, 0.7], [0.5, 0.6, 0.65], [0.3, 0.4, 0.6]],
        train_metric=[[0.5, 0.5, nan], [0.7, 0.6, nan], [0.9, 0.8, nan]],
        test_metric=[[0.5, 0.5, 0.5], [0.7, 0.6, 0.55], [0.9, 0.8, 0.6]],
    )


def test_metric_curves_have_one_line_per_task_zero_shot_dashed_and_a_mean() -> None:
    fig = curves_figure(_history(), "metric", "test", {"a": "#111111", "b": "#222222", "z": "#333333"})
    names = [t.name for t in fig.data]
    assert names == ["a", "b", "z ★", "mean (seen tasks)"]
    dashes = {t.name: t.line.dash for t in fig.data}
    assert dashes["a"] == dashes["b"] == SEEN_DASH and dashes["z ★"] == ZERO_SHOT_DASH
    assert [t.line.color for t in fig.data] == ["#111111", "#222222", "#333333", MEAN_COLOR]
    assert list(fig.data[3].y) == pytest.approx([0.5, 0.65, 0.85])
    assert tuple(fig.layout.yaxis.range) == (0, 1.02)
    assert fig.layout.yaxis.title.text == "test accuracy"


def test_train_split_skips_zero_shot_tasks_which_have_no_training_data() -> None:
    fig = curves_figure(_history(), "loss", "train")
    assert [t.name for t in fig.data] == ["a", "b", "mean (seen tasks)"]
    assert fig.layout.yaxis.title.text == "train loss"


def test_curves_use_the_shared_task_colours(trained_ring) -> None:
    project, result = trained_ring
    colors = task_colors(project.graph)
    fig = curves_figure(result.history, "loss", "test", colors, show_mean=False)
    assert len(fig.data) == project.graph.number_of_tasks()
    for trace, task in zip(fig.data, result.history.tasks, strict=True):
        assert trace.line.color == colors[task]
        assert (trace.line.dash == ZERO_SHOT_DASH) == (task in result.history.zero_shot)


def test_no_history_gives_an_empty_figure_and_bad_kinds_are_refused() -> None:
    assert len(curves_figure(None).data) == 0
    with pytest.raises(ValueError):
        curves_figure(_history(), "speed")


def test_comparison_bars_group_models_and_hatch_zero_shot_tasks() -> None:
    a = MetricSet("RAG", "accuracy", {"a": 0.9, "z": 0.8}, ["z"])
    b = MetricSet("baseline", "accuracy", {"a": 0.85, "z": 0.5, "c": float("nan")}, ["z"])
    fig = comparison_figure([a, b])
    assert [t.name for t in fig.data] == ["RAG", "baseline"]
    assert list(fig.data[0].x) == ["a", "z ★", "c"]
    assert list(fig.data[0].marker.pattern.shape) == ["", ZERO_SHOT_PATTERN, ""]
    assert fig.data[0].y[2] is None and fig.data[1].y[2] is None  # a missing value draws no bar
    assert fig.layout.barmode == "group"
    assert math.isclose(fig.data[1].y[1], 0.5)


def test_curves_give_every_task_its_own_colour_even_when_tasks_share_a_rotation() -> None:
    """A student's graph with four tasks at 0°: coloured by rotation they shared one colour."""
    graph = small_ring(6, zero_shot=())
    ring = curve_colors(graph)
    assert ring == task_colors(graph)  # already distinct: the colours every page uses
    for name in graph.task_names()[1:4]:
        graph.update_task(name, params={"rotate": 0.0, "noise": 0.1})
    assert len(set(task_colors(graph).values())) == 3
    colors = curve_colors(graph)
    assert list(colors) == graph.task_names() and len(set(colors.values())) == 6
