"""Task embeddings in 2-D: one frame per layer (or training snapshot), trajectories, colour keys.

Points come already projected (:mod:`ragviz.inspection.projection`), shape (K, N, 2): K frames
(layers h⁰…h^L, or snapshots) of N tasks. The figure shows frame ``current`` with a
play button that animates through all K; each task's path through the frames is a
faint line. Node ``customdata`` is the task name, so a click maps back to a task.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from ragviz.graph.task_graph import TaskGraph
from ragviz.plots.colors import FAMILY_COLORS, SEEN_SYMBOL, ZERO_SHOT_SYMBOL, task_colors, varying_parameters
from ragviz.plots.light import float32_coordinates, is_light, no_animation_note, note_below
from ragviz.plots.marks import ring_trace
from ragviz.safety.safe_text import html_text

ZERO_SHOT_COLOR = "#d62728"
SEEN_COLOR = "#1f77b4"
MISSING_COLOR = "#9e9e9e"
FOCUS_COLOR = "#111111"
FRAME_MS = 700
LABEL_LIMIT = 30

Colors = dict[str, str] | Sequence[Sequence[str]]


# --------------------------------------------------------------------------- colours
def value_colors(values: np.ndarray, low: float, high: float, scale: str = "Viridis") -> list[str]:
    """Colours for numbers on a continuous scale; NaN is grey."""
    values = np.asarray(values, dtype=float)
    span = (high - low) or 1.0
    fractions = np.clip((np.nan_to_num(values, nan=low) - low) / span, 0.0, 1.0)
    sampled = sample_colorscale(scale, fractions.tolist()) if len(values) else []
    return [MISSING_COLOR if not np.isfinite(v) else c for v, c in zip(values, sampled, strict=True)]


def _colorbar_trace(title: str, low: float, high: float, scale: str) -> go.Scatter:
    return go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                      marker={"colorscale": scale, "cmin": low, "cmax": high, "color": [low], "showscale": True,
                              "colorbar": {"title": {"text": html_text(title), "side": "right"}, "thickness": 12,
                                           "len": 0.6}})


def _legend_entry(name: str, color: str, group: str, title: str | None = None) -> go.Scatter:
    return go.Scatter(x=[None], y=[None], mode="markers", name=name, legendgroup=group,
                      legendgrouptitle={"text": title} if title else None, marker={"color": color, "size": 10})


def color_choices(graph: TaskGraph | None) -> list[str]:
    """What tasks can be coloured by on the Embeddings page."""
    return ["family", *(varying_parameters(graph) if graph is not None else []), "metric", "zero-shot"]


def embedding_colors(
    names: list[str],
    by: str,
    graph: TaskGraph | None = None,
    zero_shot: Sequence[bool] | None = None,
    metric: np.ndarray | None = None,
    metric_name: str = "accuracy",
) -> tuple[Colors, list[Any]]:
    """Task colours for ``by`` ('family', a parameter, 'metric', 'zero-shot') and the traces that explain them.

    ``metric`` may be (N,) or (K, N) (one row per frame, e.g. each snapshot's metric):
    then the colours are per frame too.
    """
    if by == "zero-shot":
        zero = list(zero_shot) if zero_shot is not None else [False] * len(names)
        colors = {n: ZERO_SHOT_COLOR if z else SEEN_COLOR for n, z in zip(names, zero, strict=True)}
        return colors, [_legend_entry("seen", SEEN_COLOR, "kind"), _legend_entry("zero-shot", ZERO_SHOT_COLOR, "kind")]
    if by == "metric" and metric is not None:
        values = np.asarray(metric, dtype=float)
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if metric_name == "accuracy":
            low, high = min(low, 0.5), 1.0
        scale = "Viridis_r" if metric_name == "mse" else "Viridis"
        key = [_colorbar_trace("MSE" if metric_name == "mse" else metric_name, low, high, scale)]
        if values.ndim == 2:
            return [value_colors(row, low, high, scale) for row in values], key
        return dict(zip(names, value_colors(values, low, high, scale), strict=True)), key
    if graph is None:
        return {n: MISSING_COLOR for n in names}, []
    by = by if by in color_choices(graph) and by not in ("metric", "zero-shot") else "family"
    known = task_colors(graph, by)
    colors = {n: known.get(n, MISSING_COLOR) for n in names}
    return colors, _graph_key(graph, by, names)


def _graph_key(graph: TaskGraph, by: str, names: list[str]) -> list[Any]:
    tasks = [graph.task(n) for n in names if n in graph.nx]
    if by == "family":
        families = list(dict.fromkeys(t.family for t in tasks))
        return [_legend_entry(f, FAMILY_COLORS.get(f, "#636efa"), "family", "family" if i == 0 else None)
                for i, f in enumerate(families)]
    numbers = [float(v) for t in tasks if isinstance(v := t.full_params().get(by), (int, float))
               and not isinstance(v, bool)]
    if not numbers:
        return []
    if by == "rotate":
        return [_colorbar_trace(by, 0.0, 360.0, "Phase")]
    return [_colorbar_trace(by, min(numbers), max(numbers), "Viridis")]


def _frame_colors(colors: Colors, names: list[str], k: int) -> list[str]:
    if isinstance(colors, dict):
        return [colors.get(n, MISSING_COLOR) for n in names]
    return list(colors[k])


# --------------------------------------------------------------------------- figure
def _current_trace(points: np.ndarray, names: list[str], colors: list[str], zero: np.ndarray,
                   hover: Sequence[str] | None, focus: str | None) -> dict[str, Any]:
    labels = len(names) <= LABEL_LIMIT
    return {
        "type": "scattergl", "x": points[:, 0], "y": points[:, 1], "customdata": names,
        "mode": "markers+text" if labels else "markers",
        "text": names if labels else None,  # WebGL draws text as plain characters: no HTML, so no escaping
        "textposition": "top center", "textfont": {"size": 10, "color": "#333"},
        "marker": {"color": colors, "symbol": [ZERO_SHOT_SYMBOL if z else SEEN_SYMBOL for z in zero],
                   "size": [(17 if z else 12) * (1.25 if n == focus else 1.0)
                            for n, z in zip(names, zero, strict=True)],
                   "line": {"color": "white", "width": 1}},
        "showlegend": False, "hovertext": list(hover) if hover is not None else [html_text(n) for n in names],
        "hovertemplate": "%{hovertext}<extra></extra>",
    }


def _focus_trace(points: np.ndarray, names: list[str], focus: str | None) -> dict[str, Any]:
    where = points[[names.index(focus)]] if focus in names else np.zeros((0, 2))
    return {"type": "scattergl", "x": where[:, 0], "y": where[:, 1], "mode": "markers", "hoverinfo": "skip",
            "showlegend": False, "marker": {"symbol": "circle-open", "size": 28, "color": FOCUS_COLOR,
                                            "line": {"color": FOCUS_COLOR, "width": 2.5}}}


def _trajectory_traces(points: np.ndarray, colors: Colors, names: list[str], focus: str | None) -> list[Any]:
    """Static: each task's path through the frames (grey), faint dots at every frame, the focus path in black."""
    k, n, _ = points.shape
    path = np.full((n, k + 1, 2), np.nan)
    path[:, :k] = points.transpose(1, 0, 2)
    flat = path.reshape(-1, 2)
    dots = points.reshape(-1, 2)
    dot_colors = [c for i in range(k) for c in _frame_colors(colors, names, i)]
    traces: list[Any] = [
        go.Scattergl(x=flat[:, 0], y=flat[:, 1], mode="lines", line={"color": "#c8c8c8", "width": 1},
                     hoverinfo="skip", showlegend=False),
        go.Scattergl(x=dots[:, 0], y=dots[:, 1], mode="markers", hoverinfo="skip", showlegend=False,
                     marker={"color": dot_colors, "size": 5, "opacity": 0.35}),
    ]
    if focus in names:
        mine = points[:, names.index(focus)]
        traces.append(go.Scattergl(x=mine[:, 0], y=mine[:, 1], mode="lines+markers", hoverinfo="skip",
                                   name=f"path of {html_text(focus)}", showlegend=False,
                                   line={"color": FOCUS_COLOR, "width": 1.5, "dash": "dot"},
                                   marker={"size": 4, "color": FOCUS_COLOR}))
    return traces


def _play_menu(frame_names: list[str]) -> list[dict[str, Any]]:
    play = {"frame": {"duration": FRAME_MS, "redraw": True}, "transition": {"duration": 0}, "mode": "immediate"}
    pause = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    return [{"type": "buttons", "direction": "left", "x": 0.0, "y": 0.0, "xanchor": "left", "yanchor": "top",
             "pad": {"t": 54}, "showactive": False,  # below the x axis's title, not over it
             "buttons": [{"label": "▶ Play", "method": "animate", "args": [frame_names, play]},
                         {"label": "❚❚ Pause", "method": "animate", "args": [[None], pause]}]}]


def _range(values: np.ndarray) -> list[float]:
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max((high - low) * 0.08, 1e-3)
    return [low - pad, high + pad]


def embedding_figure(
    points: np.ndarray,
    names: list[str],
    colors: Colors,
    zero_shot: Sequence[bool],
    current: int = -1,
    frame_labels: Sequence[str] | None = None,
    hover: Sequence[Sequence[str]] | None = None,
    focus: str | None = None,
    trajectories: bool = True,
    key_traces: Sequence[Any] = (),
    axis_titles: tuple[str, str] = ("component 1", "component 2"),
    height: int = 600,
    marked: Collection[str] | None = None,
) -> go.Figure:
    """Tasks at frame ``current`` of ``points`` (K, N, 2), one animation frame per K, trajectories behind.

    ``hover`` is per frame and task (K × N strings); ``key_traces`` explain the colours; ``marked``
    tasks (an open lesson's) get a ring in every frame.
    """
    points = np.asarray(points, dtype=float)
    k = points.shape[0]
    current = int(current) % k
    labels = list(frame_labels) if frame_labels is not None else [str(i) for i in range(k)]
    zero = np.asarray(zero_shot, dtype=bool)

    def dynamic(i: int) -> list[dict[str, Any]]:
        rings = [ring_trace(dict(zip(names, points[i].tolist(), strict=True)), marked, 36.0).to_plotly_json()
                 ] if marked else []
        return [_current_trace(points[i], names, _frame_colors(colors, names, i), zero,
                               hover[i] if hover is not None else None, focus),
                _focus_trace(points[i], names, focus), *rings]

    light = is_light(len(names))  # past LIGHT_TASKS: no frames (the page's slider redraws one), float32
    animate = k > 1 and not light
    static = _trajectory_traces(points, colors, names, focus) if trajectories and k > 1 else []
    first = len(static)
    shown = dynamic(current)
    fig = go.Figure([*static, *shown, *key_traces])
    if animate:
        fig.frames = [go.Frame(name=labels[i], traces=list(range(first, first + len(shown))), data=dynamic(i),
                               layout={"title": {"text": f"<b>{labels[i]}</b>"}}) for i in range(k)]
    fig.update_layout(
        title={"text": f"<b>{labels[current]}</b>", "x": 0.01, "font": {"size": 14}}, height=height,
        margin={"l": 8, "r": 8, "t": 50, "b": 100 if k > 1 else 8}, plot_bgcolor="white", hovermode="closest",
        clickmode="event+select", dragmode="pan", uirevision="embeddings",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        xaxis={"title": {"text": axis_titles[0]}, "range": _range(points[..., 0]), "zeroline": False,
               "showgrid": True, "gridcolor": "#eee"},
        yaxis={"title": {"text": axis_titles[1]}, "range": _range(points[..., 1]), "zeroline": False,
               "showgrid": True, "gridcolor": "#eee"},
        updatemenus=_play_menu(labels) if animate else [],
    )
    if light:
        float32_coordinates(fig)
        if k > 1:
            fig.update_layout(margin={"b": 90})
            note_below(fig, no_animation_note("frame (layer or training step)"), shift_px=52)
    return fig


def hover_texts(names: list[str], graph: TaskGraph | None, frame_label: str, metric: np.ndarray | None,
                metric_name: str, zero_shot: Sequence[bool]) -> list[str]:
    """One frame's hover: task, family and parameters, seen or zero-shot, its metric."""
    out = []
    for i, name in enumerate(names):
        lines = [f"<b>{html_text(name)}</b>", frame_label]
        if graph is not None and name in graph.nx:
            task = graph.task(name)
            params = html_text(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in task.full_params().items()))
            lines.append(f"{task.family}: {params}")
        lines.append("zero-shot ★" if zero_shot[i] else "seen task")
        if metric is not None and np.isfinite(metric[i]):
            lines.append(f"{metric_name}: {metric[i]:.3f}")
        out.append("<br>".join(lines))
    return out

