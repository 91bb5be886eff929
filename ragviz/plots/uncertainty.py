"""Where an ensemble's members disagree, task by task. Pure: stacked member outputs in, figure out.

One panel per task, laid out like the Task outputs small multiples: for a 2-D classification
task with a plotting grid, a map of the share of pairs of members that name different classes
at each point of the plane (dark where they contradict each other, even where each is unsure);
for a 1-D regression task, the band the members' curves span round their mean; for classes
without a grid (digits, csv), how often all members name the same class, per true class; for
regression without a grid, the mean prediction against the truth with the members' spread as
error bars. A task flagged as a guess says so in its title.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ragviz.inspection.trace import Trace
from ragviz.plots.outputs import (
    COLORBAR,
    ZERO_SHOT_MARK,
    _axes,
    _grid_layout,
    _on,
    _points,
    kind_of,
    task_classes,
)
from ragviz.training.ensemble import band, class_agreement
from ragviz.training.guess import max_pair_disagreement, pair_disagreement

GUESS_MARK = "⚠"
SPREAD_SCALE = [[0.0, "#ffffff"], [0.15, "#dadaeb"], [0.5, "#9e9ac8"], [1.0, "#3f007d"]]
BAND_COLOR = "rgba(31, 119, 180, 0.25)"
GUESS_COLOR = "#b2182b"


def panel_label(name: str, zero_shot: bool, score: float, guess: bool, share: bool = False) -> str:
    """A panel's title: the task's name (escaped, ★ if zero-shot) and its ``score`` (a disagreement, or
    with ``share`` the share of pairs of models naming different classes), or the warning."""
    star = f" {ZERO_SHOT_MARK}" if zero_shot else ""
    if guess:
        note = f"<span style='color:{GUESS_COLOR}'>{GUESS_MARK} a guess</span>"
    elif np.isfinite(score):
        note = f"{score:.0%} of model pairs differ" if share else f"disagreement {score:.3f}"
    else:
        note = "no test points"
    return f"<b>{html.escape(name)}</b>{star}<br><span style='font-size:11px'>{note}</span>"


def _titled(trace: Trace, tasks: list[str], layout: dict, scores: Mapping[str, float],
            guesses: Mapping[str, bool], share: bool = False) -> None:
    for note, name in zip(layout["annotations"], tasks, strict=True):
        note["text"] = panel_label(name, bool(trace.zero_shot[trace.index(name)]),
                                   float(scores.get(name, np.nan)), bool(guesses.get(name, False)), share)


def disagreement_map_figure(trace: Trace, grid_outputs: Mapping[str, np.ndarray], tasks: list[str],
                            scores: Mapping[str, float], guesses: Mapping[str, bool],
                            height: int | None = None) -> go.Figure:
    """Per task, the share of pairs of models naming different classes at every point of the plane.

    ``grid_outputs[name]`` is (K, G, C) on ``trace.grid``; white where all models name the same
    class, darkest where they split as evenly as they can. The test points (crosses) are where the
    task's score is measured; away from any data the models may disagree more.
    """
    grid = trace.grid
    res = int(round(math.sqrt(len(grid))))
    xs, ys = grid[:res, 0], grid[::res, 1]
    traces = []
    top = 0.0
    for k, name in enumerate(tasks):
        outputs = np.asarray(grid_outputs[name])
        top = max(top, max_pair_disagreement(outputs.shape[0], task_classes(trace, name)))
        z = pair_disagreement(outputs).reshape(res, res).astype(np.float32)
        traces.append(_on(k, {"type": "heatmap", "x": xs, "y": ys, "z": z, "coloraxis": "coloraxis",
                              "hovertemplate": "x %{x:.2f}, y %{y:.2f}<br>%{z:.0%} of pairs of models name "
                                               "different classes<extra></extra>"}))
        classes = task_classes(trace, name)
        traces.append(_on(k, _points(trace.x_train[name], trace.y_train[name], classes, True, k == 0)))
        traces.append(_on(k, _points(trace.x_test[name], trace.y_test[name], classes, False, k == 0)))
    layout = _grid_layout(trace, tasks, True, None, 0.03, height, square=True)
    _titled(trace, tasks, layout, scores, guesses, share=True)
    lo, hi = trace.spec.x_range
    _axes(layout, x_range=[lo, hi], y_range=[lo, hi], x_showticklabels=False, y_showticklabels=False,
          x_showgrid=False, y_showgrid=False, x_zeroline=False, y_zeroline=False)
    layout["coloraxis"] = {"colorscale": SPREAD_SCALE, "cmin": 0.0, "cmax": top or 1.0,
                           "colorbar": {"title": {"text": "pairs of models<br>naming different<br>classes"},
                                        "tickformat": ".0%", **COLORBAR}}
    return go.Figure(data=traces, layout=layout)


def band_figure(trace: Trace, grid_outputs: Mapping[str, np.ndarray], tasks: list[str],
                scores: Mapping[str, float], guesses: Mapping[str, bool], height: int | None = None) -> go.Figure:
    """Per task, the band from the lowest to the highest member's curve, their mean, and the training points.

    ``grid_outputs[name]`` is (K, G) on ``trace.grid``.
    """
    xs = trace.grid[:, 0]
    traces = []
    for k, name in enumerate(tasks):
        mean, low, high = band(grid_outputs[name])
        first = k == 0
        traces += [
            _on(k, {"type": "scatter", "x": xs, "y": high, "mode": "lines", "line": {"width": 0},
                    "hoverinfo": "skip", "showlegend": False, "legendgroup": "band"}),
            _on(k, {"type": "scatter", "x": xs, "y": low, "mode": "lines", "line": {"width": 0},
                    "fill": "tonexty", "fillcolor": BAND_COLOR, "name": "lowest to highest model",
                    "legendgroup": "band", "showlegend": first, "hoverinfo": "skip"}),
            _on(k, {"type": "scatter", "x": xs, "y": mean, "mode": "lines", "line": {"color": "#1f77b4", "width": 2},
                    "name": "mean of the models", "legendgroup": "mean", "showlegend": first,
                    "customdata": high - low,
                    "hovertemplate": "x %{x:.2f}<br>mean ŷ %{y:.3f}<br>band width %{customdata:.3f}<extra></extra>"}),
            _on(k, {"type": "scatter", "x": trace.x_train[name][:, 0], "y": trace.y_train[name], "mode": "markers",
                    "marker": {"color": "#ff7f0e", "size": 5}, "name": "train points", "legendgroup": "train",
                    "showlegend": first, "hoverinfo": "skip"}),
        ]
    layout = _grid_layout(trace, tasks, True, None, 0.04, height)
    _titled(trace, tasks, layout, scores, guesses)
    _axes(layout, x_tickfont={"size": 9}, y_tickfont={"size": 9}, x_gridcolor="#eee", y_gridcolor="#eee")
    return go.Figure(data=traces, layout=layout)


def agreement_figure(trace: Trace, test_outputs: Mapping[str, np.ndarray], tasks: list[str],
                     scores: Mapping[str, float], guesses: Mapping[str, bool], height: int | None = None) -> go.Figure:
    """Per task and true class, the share of its test points on which every model predicts the same class.

    ``test_outputs[name]`` is (K, n, C) on the task's test points.
    """
    traces = []
    for k, name in enumerate(tasks):
        c = task_classes(trace, name)
        share = class_agreement(test_outputs[name], trace.y_test[name], c)
        colors = [GUESS_COLOR if guesses.get(name, False) else "#2166ac"] * c
        traces.append(_on(k, {"type": "bar", "x": list(range(c)), "y": np.nan_to_num(share, nan=0.0),
                              "marker": {"color": colors}, "showlegend": False, "customdata": share,
                              "hovertemplate": "true class %{x}<br>all models agree on %{customdata:.0%}"
                                               "<extra></extra>"}))
    layout = _grid_layout(trace, tasks, False, None, 0.05, height)
    _titled(trace, tasks, layout, scores, guesses, share=True)
    _axes(layout, x_title={"text": "true class", "font": {"size": 10}, "standoff": 2}, x_tickfont={"size": 9},
          x_dtick=1, y_range=[0, 1], y_tickformat=".0%", y_tickfont={"size": 9}, y_gridcolor="#eee")
    layout["showlegend"] = False
    return go.Figure(data=traces, layout=layout)


def spread_scatter_figure(trace: Trace, test_outputs: Mapping[str, np.ndarray], tasks: list[str],
                          scores: Mapping[str, float], guesses: Mapping[str, bool],
                          height: int | None = None) -> go.Figure:
    """Per task, the models' mean prediction against the truth, with the models' std as error bars.

    ``test_outputs[name]`` is (K, n) on the task's test points.
    """
    traces = []
    for k, name in enumerate(tasks):
        out = np.asarray(test_outputs[name], dtype=np.float64)
        traces.append(_on(k, {"type": "scatter", "x": trace.y_test[name], "y": out.mean(axis=0), "mode": "markers",
                              "marker": {"color": "#1f77b4", "size": 5},
                              "error_y": {"type": "data", "array": out.std(axis=0), "thickness": 1, "width": 0},
                              "showlegend": False,
                              "hovertemplate": "true %{x:.3f}<br>mean ŷ %{y:.3f}<extra></extra>"}))
    layout = _grid_layout(trace, tasks, False, None, 0.06, height)
    _titled(trace, tasks, layout, scores, guesses)
    _axes(layout, x_title={"text": "true", "font": {"size": 10}, "standoff": 2},
          y_title={"text": "mean prediction", "font": {"size": 10}, "standoff": 2}, x_gridcolor="#eee",
          y_gridcolor="#eee")
    layout["showlegend"] = False
    return go.Figure(data=traces, layout=layout)


def needs_grid(trace: Trace) -> bool:
    """Whether :func:`uncertainty_figure` draws this trace's tasks on the plotting grid."""
    return kind_of(trace) in ("boundary", "curve")


def uncertainty_figure(trace: Trace, outputs: Mapping[str, np.ndarray], tasks: list[str],
                       scores: Mapping[str, float], guesses: Mapping[str, bool]) -> go.Figure:
    """The figure that fits the trace (see the module's docstring); ``outputs`` are on the grid when
    :func:`needs_grid`, else on the test points; ``scores`` are shares of model pairs naming different
    classes for classification, disagreements for regression."""
    kind = kind_of(trace)
    draw = {"boundary": disagreement_map_figure, "curve": band_figure, "confusion": agreement_figure,
            "scatter": spread_scatter_figure}[kind]
    return draw(trace, outputs, tasks, scores, guesses)


def trust_table(scores: Mapping[str, float], zero_shot: list[str], guesses: Mapping[str, bool],
                class_scores: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per task: zero-shot mark, disagreement, (share of model pairs naming different classes,)
    and the verdict for zero-shot tasks; flagged tasks first, then zero-shot, then seen tasks."""
    zero = set(zero_shot)
    rows = []
    for name, score in scores.items():
        row = {"task": name, "zero-shot": ZERO_SHOT_MARK if name in zero else "", "disagreement": float(score)}
        if class_scores is not None:
            row["models naming different classes"] = float(class_scores.get(name, np.nan))
        if name in zero:
            row["verdict"] = f"{GUESS_MARK} a guess" if guesses.get(name, False) else "models agree"
        else:
            row["verdict"] = "trained on data"
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    order = np.lexsort((-table["disagreement"].fillna(0).to_numpy(), table["zero-shot"] == "",
                        table["verdict"] != f"{GUESS_MARK} a guess"))
    return table.iloc[order].reset_index(drop=True)
