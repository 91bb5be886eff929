"""Every task's outputs as small multiples, and the metrics table. Pure: trace in, figure out.

One panel per task, all in one figure whose axes are shared (``matches``) where the
tasks share a space: decision-boundary heatmaps with train and test points (toy2d),
curves with points (sine), confusion matrices (classification without a plotting grid,
e.g. digits) or predicted versus true (regression without one). Heatmaps share one
colour axis, so the figure carries a single colour bar however many tasks it shows.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ragviz.data.drawing import IMAGE_SIDE, N_PIXELS, digits_of
from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.trace import Trace
from ragviz.plots.colors import class_palette
from ragviz.plots.drawings import (
    INK,
    PANEL_TITLE_PX,
    ROWS,
    SHOWN,
    STRIP_WIDTH_PX,
    image_strip,
    shown_points,
    task_recognised,
)
from ragviz.plots.marks import MARK_COLOR, outline_shape
from ragviz.safety.safe_text import html_text

MAX_COLUMNS = 4
WIDE_COLUMNS = 6
PANEL_HEIGHT = 290
WIDE_PANEL_HEIGHT = 215
TOP = 70  # pixels above the panels: legend, then the first row's titles
#: Between rows of panels with axis titles: the row above's ticks and title, then the next titles.
AXIS_TITLE_GAP_PX = 100.0
BINARY_SCALE = [[0.0, "#92c5de"], [0.5, "#f7f7f7"], [1.0, "#f4a582"]]
MODES = ("probability", "argmax")
ZERO_SHOT_MARK = "★"
CLASS_LABEL_CHARS = 24  # longer class names are shortened on the axes
#: A figure's width on a wide page (the main column), and a size-9 tick character's: the room named classes need.
FIGURE_WIDTH_PX = 880.0
TICK_CHAR_PX = 5.5
COLORBAR = {"thickness": 12, "lenmode": "pixels", "len": 200, "y": 1.0, "yanchor": "top"}


# --------------------------------------------------------------------------- helpers
def kind_of(trace: Trace) -> str:
    """Which small multiple fits this trace: 'boundary', 'curve', 'confusion', 'drawing' (regression onto an
    8×8 image per point, :mod:`ragviz.plots.drawings`) or 'scatter'."""
    if trace.grid is not None and trace.spec.input_dim == 2 and trace.spec.kind == "classification":
        return "boundary"
    if trace.grid is not None and trace.spec.input_dim == 1 and trace.spec.kind == "regression":
        return "curve"
    if trace.spec.kind == "regression" and trace.spec.n_outputs == N_PIXELS:
        return "drawing"
    return "confusion" if trace.spec.kind == "classification" else "scatter"


def grid_shape(n: int, max_columns: int | None = None) -> tuple[int, int]:
    """(rows, columns) for ``n`` panels: 4 wide up to 12 tasks, then 6 (at most ``max_columns``)."""
    limit = max_columns or (MAX_COLUMNS if n <= 12 else WIDE_COLUMNS)
    cols = max(1, min(n, limit))
    return max(1, math.ceil(n / cols)), cols


def panel_height(cols: int) -> int:
    """Pixels per row: about the width a panel gets on a wide page, plus its title."""
    return {1: 380, 2: 380, 3: 330}.get(cols, PANEL_HEIGHT if cols <= MAX_COLUMNS else WIDE_PANEL_HEIGHT)


def task_classes(trace: Trace, name: str) -> int:
    """How many classes a task uses: masked classes get probability exactly 0."""
    out = trace.outputs_test.get(name)
    if out is None or out.ndim != 2 or not len(out):
        grid = trace.outputs_grid.get(name)
        out = grid if grid is not None and grid.ndim == 2 else np.zeros((1, trace.spec.n_outputs))
    used = np.flatnonzero(out.max(axis=0) > 0)
    labels = np.concatenate([trace.y_test.get(name, np.zeros(0)), trace.y_train.get(name, np.zeros(0))])
    top = max(int(used.max()) + 1 if used.size else 0, int(labels.max()) + 1 if labels.size else 0)
    return max(top, 2)


def metric_text(metric: str, value: float) -> str:
    if not np.isfinite(value):
        return "no test data"
    return f"MSE {value:.3g}" if metric == "mse" else f"acc {value:.2f}"


def panel_title(trace: Trace, name: str, before: dict[str, float] | None = None, marked: bool = False) -> str:
    """Task name (★ if zero-shot) and its metric; with ``before``, the metric before an edit → now.

    ``marked``: the task is one an open lesson's claim is about; its name is written in the mark's colour.
    """
    i = trace.index(name)
    star = f" {ZERO_SHOT_MARK}" if trace.zero_shot[i] else ""
    now = float(trace.test_metric[i])
    text = metric_text(trace.metric, now)
    if before is not None and name in before and np.isfinite(before[name]) and abs(before[name] - now) > 1e-9:
        was = metric_text(trace.metric, before[name]).split(" ")[-1]
        text = f"{text.split(' ')[0]} {was} → {text.split(' ')[-1]}"
    elif before is not None and name not in before:
        text += " (new)"
    name_html = f"<span style='color:{MARK_COLOR}'>{html_text(name)}</span>" if marked else html_text(name)
    return f"<b>{name_html}</b>{star}<br><span style='font-size:11px'>{text}</span>"


def _grid_layout(trace: Trace, tasks: list[str], shared: bool, before: dict[str, float] | None,
                 spacing: float = 0.05, height: int | None = None, square: bool = False,
                 gap_px: float = 50.0, marked: Collection[str] | None = None) -> dict[str, Any]:
    """Axes and titles for one panel per task, laid out like ``make_subplots`` but built as one dict.

    ``gap_px`` is the room between rows for the next row's two-line title (plus, for panels
    with axis titles, the row above's tick labels and axis title), so titles never overlap.
    ``marked`` panels (an open lesson's tasks) get an orange frame and an orange title.

    Building the layout (and adding traces) in one go keeps a 24-panel figure well under a
    second on a slow CPU, where ``make_subplots`` + ``add_trace`` take several times longer.
    """
    rows, cols = grid_shape(len(tasks))
    total = height or int(TOP + panel_height(cols) * rows + max(gap_px - 50.0, 0.0) * (rows - 1))
    plot_height = total - TOP - 8
    v_space = min(0.25, gap_px / plot_height) if rows > 1 else 0.0
    w = (1.0 - (cols - 1) * spacing) / cols
    h = (1.0 - (rows - 1) * v_space) / rows
    layout: dict[str, Any] = {"annotations": [], "shapes": []}
    marked = set(marked or ())
    for k, name in enumerate(tasks):
        r, c = divmod(k, cols)
        x0, top = c * (w + spacing), 1.0 - r * (h + v_space)
        suffix = "" if k == 0 else str(k + 1)
        layout[f"xaxis{suffix}"] = {"domain": [x0, x0 + w], "anchor": f"y{suffix}"}
        layout[f"yaxis{suffix}"] = {"domain": [max(top - h, 0.0), top], "anchor": f"x{suffix}"}
        if shared and k:
            layout[f"xaxis{suffix}"]["matches"] = "x"
            layout[f"yaxis{suffix}"]["matches"] = "y"
        if square:  # equal scales on a square domain: a 2-D input space is not stretched
            layout[f"xaxis{suffix}"]["constrain"] = "domain"
            layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", constrain="domain", constraintoward="top")
        if name in marked:
            layout["shapes"].append(outline_shape(suffix))
        layout["annotations"].append({
            "text": panel_title(trace, name, before, name in marked), "x": x0 + w / 2, "y": top, "xref": "paper",
            "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 12},
        })
    layout.update(height=total, margin={"l": 8, "r": 8, "t": TOP, "b": 8}, plot_bgcolor="white",
                  hovermode="closest", showlegend=True,
                  legend={"orientation": "h", "yanchor": "bottom", "y": 1.0 + 34 / plot_height, "xanchor": "left",
                          "x": 0.0})
    return layout


def _axes(layout: dict[str, Any], **props: Any) -> None:
    """Apply ``props`` (x_… to x axes, y_… to y axes) to every panel's axes."""
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")):
            prefix = key[0] + "_"
            axis.update({k[2:]: v for k, v in props.items() if k.startswith(prefix)})


def _on(k: int, trace: dict[str, Any]) -> dict[str, Any]:
    """Put a trace on panel ``k`` (0-based)."""
    suffix = "" if k == 0 else str(k + 1)
    return {**trace, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}


def _class_colorscale(n_classes: int) -> list[list[Any]]:
    """Discrete colours for labels 0…C−1 when used as numbers with cmin=0, cmax=C−1."""
    colors = class_palette(n_classes)
    if n_classes == 1:
        return [[0.0, colors[0]], [1.0, colors[0]]]
    scale = []
    for c, color in enumerate(colors):
        low, high = max(c - 0.5, 0) / (n_classes - 1), min(c + 0.5, n_classes - 1) / (n_classes - 1)
        scale += [[low, color], [high, color]]
    return scale


def _points(x: np.ndarray, y: np.ndarray, n_classes: int, train: bool, legend: bool) -> dict[str, Any]:
    """Points coloured by their class (numbers on a discrete scale: no per-point colour strings)."""
    marker: dict[str, Any] = {"color": np.asarray(y, dtype=np.float32), "colorscale": _class_colorscale(n_classes),
                              "cmin": 0, "cmax": max(n_classes - 1, 1), "size": 6 if train else 5}
    if train:
        marker.update(symbol="circle", line={"color": "white", "width": 0.8})
    else:
        marker.update(symbol="x-thin-open", line={"width": 1.2, "color": "#333"}, opacity=0.55)
    return {"type": "scatter", "x": x[:, 0], "y": x[:, 1], "mode": "markers", "marker": marker, "hoverinfo": "skip",
            "name": "train points" if train else "test points", "legendgroup": "train" if train else "test",
            "showlegend": legend}


# --------------------------------------------------------------------------- figures
def boundary_figure(trace: Trace, tasks: list[str], mode: str = "probability", target_class: int = 1,
                    before: dict[str, float] | None = None, show_test: bool = True,
                    height: int | None = None, old: Trace | None = None,
                    marked: Collection[str] | None = None) -> go.Figure:
    """Decision-boundary heatmaps on ``trace.grid``: P(``target_class``) or the predicted class (argmax).

    With ``old`` (the model's outputs before a what-if edit) each panel also draws the old
    decision boundary as a dashed line, so what the edit moved is visible at a glance.
    """
    grid = trace.grid
    res = int(round(math.sqrt(len(grid))))
    xs, ys = grid[:res, 0], grid[::res, 1]
    n_out = trace.spec.n_outputs
    target_class = int(min(max(target_class, 0), n_out - 1))
    traces = []
    for k, name in enumerate(tasks):
        probs = trace.outputs_grid[name]
        n_classes = task_classes(trace, name)
        if mode == "argmax":
            z = probs.argmax(axis=1).reshape(res, res).astype(np.float32)
            hover = "x %{x:.2f}, y %{y:.2f}<br>predicted class %{z:.0f}<extra></extra>"
        else:
            z = probs[:, target_class].reshape(res, res).astype(np.float32)
            hover = f"x %{{x:.2f}}, y %{{y:.2f}}<br>P(class {target_class}) = %{{z:.2f}}<extra></extra>"
        traces.append(_on(k, {"type": "heatmap", "x": xs, "y": ys, "z": z, "coloraxis": "coloraxis",
                              "hovertemplate": hover, "opacity": 0.5 if mode == "argmax" else 1.0}))
        was = old.outputs_grid.get(name) if old is not None else None
        if was is not None and len(was) == len(grid):
            traces.append(_on(k, _old_boundary(was, xs, ys, res, mode, target_class, n_classes, legend=not any(
                t.get("name") == OLD_BOUNDARY for t in traces))))
        traces.append(_on(k, _points(trace.x_train[name], trace.y_train[name], n_classes, True, k == 0)))
        if show_test:
            traces.append(_on(k, _points(trace.x_test[name], trace.y_test[name], n_classes, False, k == 0)))
    layout = _grid_layout(trace, tasks, True, before, 0.03, height, square=True, marked=marked)
    lo, hi = trace.spec.x_range
    _axes(layout, x_range=[lo, hi], y_range=[lo, hi], x_showticklabels=False, y_showticklabels=False,
          x_showgrid=False, y_showgrid=False, x_zeroline=False, y_zeroline=False)
    if mode == "argmax":
        c = max(n_out, 2)
        layout["coloraxis"] = {"colorscale": _class_colorscale(c), "cmin": -0.5, "cmax": c - 0.5,
                               "colorbar": {"title": {"text": "predicted class"}, "tickvals": list(range(c)),
                                            **COLORBAR}}
    else:
        layout["coloraxis"] = {"colorscale": BINARY_SCALE, "cmin": 0.0, "cmax": 1.0,
                               "colorbar": {"title": {"text": f"P(class {target_class})"}, **COLORBAR}}
    return go.Figure(data=traces, layout=layout)


OLD_BOUNDARY = "boundary before the edit"


def _old_boundary(probs: np.ndarray, xs: np.ndarray, ys: np.ndarray, res: int, mode: str, target_class: int,
                  n_classes: int, legend: bool) -> dict[str, Any]:
    """A dashed contour where the old model's decision changes (P = 0.5, or between predicted classes)."""
    if mode == "argmax":
        z = probs.argmax(axis=1).reshape(res, res).astype(np.float32)
        contours = {"start": 0.5, "end": max(n_classes - 1.5, 0.5), "size": 1.0, "coloring": "none"}
    else:
        z = probs[:, target_class].reshape(res, res).astype(np.float32)
        contours = {"start": 0.5, "end": 0.5, "size": 1.0, "coloring": "none"}
    return {"type": "contour", "x": xs, "y": ys, "z": z, "contours": contours, "showscale": False,
            "line": {"color": "#222", "width": 1.5, "dash": "dash"}, "hoverinfo": "skip",
            "name": OLD_BOUNDARY, "legendgroup": "old", "showlegend": legend}


def sine_truth(graph: TaskGraph, names: Sequence[str], xs: np.ndarray) -> dict[str, np.ndarray]:
    """Each sine task's true curve a·sin(f·x + φ) at ``xs``, from its parameters (other tasks are left out)."""
    out = {}
    for name in names:
        if name not in graph.nx or graph.task(name).family != "sine":
            continue
        p = graph.task(name).full_params()
        try:
            amp, freq, phase = (float(p[key]) for key in ("amplitude", "frequency", "phase"))
        except (KeyError, TypeError, ValueError):
            continue
        out[name] = amp * np.sin(freq * np.asarray(xs, dtype=float) + phase)
    return out


def curve_figure(trace: Trace, tasks: list[str], before: dict[str, float] | None = None,
                 height: int | None = None, truth: Mapping[str, np.ndarray] | None = None,
                 marked: Collection[str] | None = None) -> go.Figure:
    """The predicted curve (solid) on ``trace.grid`` with each task's train and test points (1-D regression).

    ``truth``: each task's true curve on the same grid, drawn dashed, so a zero-shot task's
    prediction can be judged against what it should be.
    """
    xs = trace.grid[:, 0]
    traces = []
    shown_truth = False
    for k, name in enumerate(tasks):
        first = k == 0
        true_y = truth.get(name) if truth is not None else None
        if true_y is not None and len(true_y) == len(xs):
            traces.append(_on(k, {"type": "scatter", "x": xs, "y": np.asarray(true_y, dtype=float), "mode": "lines",
                                  "line": {"color": "#333333", "width": 1.5, "dash": "dash"}, "name": "truth",
                                  "legendgroup": "truth", "showlegend": not shown_truth,
                                  "hovertemplate": "x %{x:.2f}<br>y %{y:.3f} (truth)<extra></extra>"}))
            shown_truth = True
        traces += [
            _on(k, {"type": "scatter", "x": trace.x_test[name][:, 0], "y": trace.y_test[name], "mode": "markers",
                    "marker": {"color": "#9e9e9e", "size": 4}, "name": "test points", "legendgroup": "test",
                    "showlegend": first, "hoverinfo": "skip"}),
            _on(k, {"type": "scatter", "x": trace.x_train[name][:, 0], "y": trace.y_train[name], "mode": "markers",
                    "marker": {"color": "#ff7f0e", "size": 6, "line": {"color": "white", "width": 0.6}},
                    "name": "train points", "legendgroup": "train", "showlegend": first, "hoverinfo": "skip"}),
            _on(k, {"type": "scatter", "x": xs, "y": trace.outputs_grid[name], "mode": "lines",
                    "line": {"color": "#1f77b4", "width": 2}, "name": "prediction", "legendgroup": "pred",
                    "showlegend": first, "hovertemplate": "x %{x:.2f}<br>ŷ %{y:.3f}<extra></extra>"}),
        ]
    layout = _grid_layout(trace, tasks, True, before, 0.04, height, marked=marked)
    _axes(layout, x_tickfont={"size": 9}, y_tickfont={"size": 9}, x_gridcolor="#eee", y_gridcolor="#eee")
    return go.Figure(data=traces, layout=layout)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts: rows are true classes, columns predicted ones."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    keep = (y_true < n_classes) & (y_pred < n_classes)
    np.add.at(matrix, (y_true[keep], y_pred[keep]), 1)
    return matrix


def class_axis_labels(names: Sequence[str], n_classes: int) -> list[str]:
    """Tick labels for a task's classes: its class names (escaped for Plotly, shortened), else numbers.

    Labels are categories of the axis, so they are kept distinct: a name that would repeat an
    earlier label (after shortening) gets its class number appended.
    """
    labels: list[str] = []
    for i in range(n_classes):
        raw = str(names[i]) if i < len(names) else str(i)
        short = raw if len(raw) <= CLASS_LABEL_CHARS else raw[:CLASS_LABEL_CHARS - 1] + "…"
        label = html_text(short)
        while label in labels:
            label = f"{label} ({i})"
        labels.append(label)
    return labels


def label_room(longest: int) -> tuple[float, float]:
    """(spacing between panels as a share of the width, pixels between rows) for class labels of ``longest``
    characters: a panel's y labels sit left of it and its x labels (turned by Plotly when long) below it,
    so both gaps grow with the names, or they run into the neighbouring panels."""
    label_px = longest * TICK_CHAR_PX
    spacing = min(0.2, max(0.06, (label_px + 24.0) / FIGURE_WIDTH_PX))
    return spacing, AXIS_TITLE_GAP_PX + max(0.0, label_px * 0.7 - 20.0)


def confusion_figure(trace: Trace, tasks: list[str], before: dict[str, float] | None = None,
                     height: int | None = None, marked: Collection[str] | None = None,
                     class_names: Mapping[str, Sequence[str]] | None = None) -> go.Figure:
    """One confusion matrix per task (row-normalised colour, counts as text).

    ``class_names``: each task's class names in class-index order (labels from its data, e.g. a
    text corpus's "neg"/"pos"); the axes show them instead of class numbers.
    """
    traces = []
    named: dict[str, list[Any]] = {}
    for k, name in enumerate(tasks):
        c = task_classes(trace, name)
        out = trace.outputs_test[name]
        pred = out.argmax(axis=1) if len(out) else np.zeros(0, dtype=int)
        counts = confusion_matrix(trace.y_test[name], pred, c)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        names = (class_names or {}).get(name)
        ticks: list[Any] = class_axis_labels(names, c) if names else list(range(c))
        if names:
            named["" if k == 0 else str(k + 1)] = ticks
        traces.append(_on(k, {
            "type": "heatmap", "z": share.astype(np.float32), "x": ticks, "y": ticks,
            "coloraxis": "coloraxis", "text": counts, "texttemplate": "%{text}" if c <= 10 else None,
            "textfont": {"size": 9}, "customdata": counts,
            "hovertemplate": "true %{y}, predicted %{x}<br>%{customdata} points<extra></extra>",
        }))
    longest = max((len(str(t)) for ticks in named.values() for t in ticks), default=0)
    spacing, gap = label_room(longest)
    layout = _grid_layout(trace, tasks, False, before, spacing, height, gap_px=gap, marked=marked)
    _axes(layout, x_title={"text": "predicted", "font": {"size": 10}, "standoff": 2}, x_tickfont={"size": 9},
          x_dtick=1, y_title={"text": "true", "font": {"size": 10}, "standoff": 2}, y_tickfont={"size": 9}, y_dtick=1,
          y_autorange="reversed")
    for suffix, ticks in named.items():  # names as categories, in class order, even where they look like numbers
        for axis in ("xaxis", "yaxis"):
            layout[axis + suffix].update(type="category", categoryorder="array", categoryarray=ticks)
    layout["coloraxis"] = {"colorscale": "Blues", "cmin": 0.0, "cmax": 1.0,
                           "colorbar": {"title": {"text": "share of row"}, **COLORBAR}}
    layout["showlegend"] = False
    return go.Figure(data=traces, layout=layout)


def scatter_figure(trace: Trace, tasks: list[str], before: dict[str, float] | None = None,
                   height: int | None = None, marked: Collection[str] | None = None) -> go.Figure:
    """Predicted versus true on each task's test points (regression), with the diagonal."""
    values = [np.concatenate([trace.y_test[t], trace.outputs_test[t]]) for t in tasks]
    flat = np.concatenate(values) if values else np.zeros(0)
    flat = flat[np.isfinite(flat)]
    lo, hi = (float(flat.min()), float(flat.max())) if flat.size else (0.0, 1.0)
    traces = []
    for k, name in enumerate(tasks):
        traces += [
            _on(k, {"type": "scatter", "x": [lo, hi], "y": [lo, hi], "mode": "lines",
                    "line": {"color": "#bbb", "dash": "dash"}, "hoverinfo": "skip", "showlegend": False}),
            _on(k, {"type": "scatter", "x": trace.y_test[name], "y": trace.outputs_test[name], "mode": "markers",
                    "marker": {"color": "#1f77b4", "size": 5, "opacity": 0.7}, "name": "test points",
                    "legendgroup": "test", "showlegend": k == 0,
                    "hovertemplate": "true %{x:.3g}<br>predicted %{y:.3g}<extra></extra>"}),
        ]
    layout = _grid_layout(trace, tasks, True, before, 0.05, height, gap_px=AXIS_TITLE_GAP_PX, marked=marked)
    _axes(layout, x_title={"text": "true", "font": {"size": 10}}, y_title={"text": "predicted", "font": {"size": 10}},
          x_gridcolor="#eee", y_gridcolor="#eee")
    return go.Figure(data=traces, layout=layout)


def drawings_figure(trace: Trace, tasks: Sequence[str], rotations: Mapping[str, float],
                    before: dict[str, float] | None = None, marked: Collection[str] | None = None,
                    count: int = SHOWN, height: int | None = None) -> go.Figure:
    """Per task, ``count`` true test images (top) and the model's drawings of them (bottom).

    ``rotations``: each task's angle, for the classifier's verdict in its title (tasks without one
    show no verdict); ``before``: metrics before a what-if edit; ``marked``: tasks framed in orange.
    """
    tasks = [t for t in tasks if t in trace.task_names]
    side = IMAGE_SIDE
    data = []
    for k, name in enumerate(tasks):
        pick = shown_points(digits_of(trace.x_test[name]), count)
        strip = image_strip(trace.y_test[name][pick], trace.outputs_test[name][pick])
        data.append(_on(k, {"type": "heatmap", "z": strip, "coloraxis": "coloraxis", "hoverongaps": False,
                            "hovertemplate": "pixel value %{z:.2f}<extra></extra>", "xgap": 0, "ygap": 0}))
    if height is None:  # a strip is wide and low: rows of its height, not the square panels' default
        rows, cols = grid_shape(len(tasks))
        strip_px = STRIP_WIDTH_PX[min(cols, 4)] * (2 * side + 1) / (count * (side + 1))
        height = TOP + rows * (PANEL_TITLE_PX + int(strip_px))
    layout = _grid_layout(trace, tasks, False, before, 0.04, height, gap_px=PANEL_TITLE_PX, marked=marked)
    for k, name in enumerate(tasks):
        share = task_recognised(trace, name, rotations)
        if np.isfinite(share):
            note = layout["annotations"][k]
            note["text"] = note["text"].removesuffix("</span>") + f" · recognised {share:.0%}</span>"
    cols = grid_shape(len(tasks))[1]
    for key, axis in list(layout.items()):
        if key.startswith("xaxis"):
            axis.update(showticklabels=False, showgrid=False, zeroline=False)
        elif key.startswith("yaxis"):
            first_column = (int(key.removeprefix("yaxis") or 1) - 1) % cols == 0  # the row names once per row
            axis.update(autorange="reversed", showgrid=False, zeroline=False, tickmode="array",
                        tickvals=[(side - 1) / 2, side + 1 + (side - 1) / 2], ticktext=list(ROWS),
                        showticklabels=first_column, scaleanchor=key.replace("yaxis", "x"), constrain="domain")
    layout["coloraxis"] = {"colorscale": INK, "cmin": 0.0, "cmax": 1.0, "showscale": False}
    layout["plot_bgcolor"] = "#f3f3f3"
    layout["showlegend"] = False
    return go.Figure(data=data, layout=layout)


def outputs_figure(trace: Trace, tasks: Sequence[str], mode: str = "probability", target_class: int = 1,
                   before: dict[str, float] | None = None, show_test: bool = True,
                   old: Trace | None = None, truth: Mapping[str, np.ndarray] | None = None,
                   marked: Collection[str] | None = None,
                   class_names: Mapping[str, Sequence[str]] | None = None,
                   rotations: Mapping[str, float] | None = None) -> go.Figure:
    """The small multiple that fits the trace's domain, for ``tasks`` (in that order).

    ``old``: the outputs before a what-if edit, drawn as dashed boundaries where the figure can.
    ``truth``: true curves on the grid (drawn dashed on curve panels); ``marked``: tasks framed in orange.
    ``class_names``: tasks' class names for the confusion matrices' axes; ``rotations``: drawing tasks'
    angles, for the classifier's verdict in their titles.
    """
    tasks = [t for t in tasks if t in trace.task_names]
    kind = kind_of(trace)
    if kind == "boundary":
        return boundary_figure(trace, tasks, mode, target_class, before, show_test, old=old, marked=marked)
    if kind == "curve":
        return curve_figure(trace, tasks, before, truth=truth, marked=marked)
    if kind == "drawing":
        return drawings_figure(trace, tasks, rotations or {}, before, marked=marked)
    if kind == "confusion":
        return confusion_figure(trace, tasks, before, marked=marked, class_names=class_names)
    return scatter_figure(trace, tasks, before, marked=marked)


# --------------------------------------------------------------------------- table
def metric_title(metric: str) -> str:
    return "MSE" if metric == "mse" else "accuracy"


def metrics_table(trace: Trace, baseline: Trace | None = None, baseline_name: str = "baseline",
                  before: Trace | None = None) -> pd.DataFrame:
    """Per task: zero-shot mark, the metric, optionally the metric before an edit and the baseline's.

    Two summary rows close it: the mean over seen tasks and over zero-shot tasks.
    """
    title = metric_title(trace.metric)
    table = pd.DataFrame({"task": trace.task_names,
                          "zero-shot": [ZERO_SHOT_MARK if z else "" for z in trace.zero_shot]})
    if before is not None:
        old = dict(zip(before.task_names, before.test_metric.astype(float), strict=True))
        table[f"{title} before edit"] = [old.get(t, np.nan) for t in trace.task_names]
    table[title] = trace.test_metric.astype(float)
    if baseline is not None:
        theirs = dict(zip(baseline.task_names, baseline.test_metric.astype(float), strict=True))
        table[f"{baseline_name}"] = [theirs.get(t, np.nan) for t in trace.task_names]
        table["RAG − baseline"] = table[title] - table[baseline_name]
    zero = np.asarray(trace.zero_shot, dtype=bool)
    means = []
    for label, pick in (("Mean (seen tasks)", ~zero), ("Mean (zero-shot tasks)", zero)):
        if pick.any():
            row = {"task": label, "zero-shot": ZERO_SHOT_MARK if label.endswith("zero-shot tasks)") else ""}
            for column in table.columns[2:]:
                row[column] = float(np.nanmean(table.loc[pick, column])) if np.isfinite(
                    table.loc[pick, column]).any() else np.nan
            means.append(row)
    return pd.concat([table, pd.DataFrame(means)], ignore_index=True) if means else table
