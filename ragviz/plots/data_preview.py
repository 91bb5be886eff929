"""Small multiples of tasks' data, so a learner sees what each node of the graph stands for.

toy2d: the points coloured by class; sine: the (x, y) points; digits: a strip of a few
images with their labels; drawing: the images a task must draw, with the digit asked for;
csv: the first two features coloured by target. Zero-shot tasks
have no training data, so their test split is shown (and the panel title says so).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ragviz.data.domains import TaskData, make_task_data
from ragviz.data.drawing import digits_of
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Task
from ragviz.plots.colors import class_color
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import html_text

MAX_POINTS = 300  # per panel: enough to see the shape, light enough for many panels
DIGIT_IMAGES = 4
PANEL_HEIGHT = 210


def _points(data: TaskData, zero_shot: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """The split to show: train, or test for a zero-shot task (it has no training data)."""
    if zero_shot or len(data.x_train) == 0:
        return data.x_test[:MAX_POINTS], data.y_test[:MAX_POINTS], "test"
    return data.x_train[:MAX_POINTS], data.y_train[:MAX_POINTS], "train"


def _class_traces(x: np.ndarray, y: np.ndarray, classes: int) -> list[go.Scatter]:
    traces = []
    for k in range(max(classes, int(y.max()) + 1 if len(y) else 0)):
        mask = y == k
        if mask.any():
            traces.append(go.Scatter(
                x=x[mask, 0], y=x[mask, 1], mode="markers", showlegend=False, name=f"class {k}",
                marker={"size": 4, "color": class_color(k)},
                hovertemplate=f"class {k}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
            ))
    return traces


def _sine_traces(x: np.ndarray, y: np.ndarray) -> list[go.Scatter]:
    order = np.argsort(x[:, 0])
    return [go.Scatter(x=x[order, 0], y=y[order], mode="markers", showlegend=False, name="points",
                       marker={"size": 4, "color": class_color(0)},
                       hovertemplate="x=%{x:.2f}<br>y=%{y:.2f}<extra></extra>")]


def _digit_traces(x: np.ndarray, y: np.ndarray) -> list[go.Heatmap]:
    """A few 8×8 images side by side in one heatmap (one trace, not one per image)."""
    count = min(DIGIT_IMAGES, len(x))
    if count == 0:
        return []
    strip = np.full((8, count * 9 - 1), np.nan)
    for i in range(count):
        strip[:, i * 9:i * 9 + 8] = x[i].reshape(8, 8)
    labels = ", ".join(str(int(v)) for v in y[:count])
    return [go.Heatmap(z=strip[::-1], colorscale="Greys", showscale=False, zmin=0, zmax=1, name=f"labels {labels}",
                       hovertemplate=f"labels: {labels}<extra></extra>")]


def _csv_traces(x: np.ndarray, y: np.ndarray, classes: int) -> list[go.Scatter]:
    if x.shape[1] >= 2 and classes:
        return _class_traces(x[:, :2], y, classes)
    second = x[:, 1] if x.shape[1] >= 2 else y
    return [go.Scatter(x=x[:, 0], y=second, mode="markers", showlegend=False, name="rows",
                       marker={"size": 4, "color": y if not classes else class_color(0), "colorscale": "Viridis"},
                       hovertemplate="%{x:.2f}, %{y:.2f}<extra></extra>")]


def task_traces(task: Task, tables: dict[str, pd.DataFrame] | None = None) -> tuple[list, str]:
    """The traces of one task's panel and the panel's title; raises RagvizError if data fails."""
    data = make_task_data(task, tables)
    x, y, split = _points(data, task.zero_shot)
    domain = task.domain
    if domain == "toy2d":
        traces = _class_traces(x, y, data.n_classes)
    elif domain == "sine":
        traces = _sine_traces(x, y)
    elif domain == "digits":
        traces = _digit_traces(x, y)
    elif domain == "drawing":  # what the task must draw, labelled with the digit asked for
        traces = _digit_traces(y, digits_of(x))
    else:
        traces = _csv_traces(x, y, data.n_classes)
    star = " ★" if task.zero_shot else ""
    return traces, f"{html_text(task.name)}{star}<br><sup>{split} · {len(x)} shown</sup>"


def data_preview_figure(graph: TaskGraph, names: list[str] | None = None, tables: dict[str, pd.DataFrame] | None = None,
                        columns: int = 4, max_tasks: int = 12) -> go.Figure:
    """One small panel per task (the first ``max_tasks`` of ``names``, default the graph's order)."""
    names = [n for n in (names if names is not None else graph.task_names()) if n in graph.nx][:max_tasks]
    if not names:
        fig = go.Figure()
        fig.add_annotation(text="No tasks to preview.", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        fig.update_layout(height=160, xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="white")
        return fig
    columns = max(1, min(columns, len(names)))
    rows = math.ceil(len(names) / columns)
    panels = []
    for name in names:
        task = graph.task(name)
        try:
            panels.append(task_traces(task, tables))
        except RagvizError as err:
            panels.append(([], f"{html_text(name)}<br><sup>cannot make data: {html_text(str(err)[:60])}</sup>"))
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[title for _, title in panels],
                        horizontal_spacing=0.04, vertical_spacing=0.12 if rows > 1 else 0.05)
    for i, (traces, _) in enumerate(panels):
        for trace in traces:
            fig.add_trace(trace, row=i // columns + 1, col=i % columns + 1)
    _style(fig, graph, names, rows)
    return fig


def _style(fig: go.Figure, graph: TaskGraph, names: list[str], rows: int) -> None:
    fig.update_layout(height=PANEL_HEIGHT * rows + 40, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      plot_bgcolor="#fafafa", showlegend=False)
    fig.update_annotations(font_size=12)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    domain = graph.domain
    if domain in ("toy2d", "digits", "drawing"):
        for i in range(len(names)):
            suffix = "" if i == 0 else str(i + 1)
            fig.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", scaleratio=1)
