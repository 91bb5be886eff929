"""The task graph as a Plotly figure: WebGL, a fixed handful of traces, however big the graph.

One line trace per relation (None-separated segments), one marker trace per relation
for hover and arrow heads, one node trace for seen tasks and one for zero-shot tasks.
The trace count never grows with the number of tasks or edges, so 1,000 tasks stay
responsive; past :data:`MAX_DRAWN_TASKS` tasks or :data:`MAX_DRAWN_EDGES` edges only the
tasks (or a sample) are drawn and the figure says so. Node ``customdata`` is the task
name, so a click maps back to a task.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Task
from ragviz.plots.colors import (
    FAMILY_COLORS,
    SEEN_SYMBOL,
    ZERO_SHOT_SYMBOL,
    color_options,
    relation_colors,
    task_colors,
)
from ragviz.plots.light import float32_coordinates, is_light
from ragviz.plots.marks import ring_trace
from ragviz.plots.positions import drawing_positions, node_positions, nx_neighbours, with_positions
from ragviz.safety.safe_text import html_text

__all__ = ["drawing_note", "drawing_positions", "graph_figure", "node_positions", "nx_neighbours", "task_hover",
           "with_positions"]

MAX_DRAWN_TASKS = 2_000
MAX_DRAWN_EDGES = 20_000
ARROW_AT = 0.8  # arrow heads sit this far along a directed edge, clear of the target node
LABEL_LIMIT = 40  # task names are written on the figure up to this many tasks
SELECTED_COLOR = "#111111"
DEFAULT_HEIGHT = 620
COMPACT_HEIGHT = 180
#: The task graph's plot area in the app, in pixels: used to keep task names from overlapping.
PLOT_PX = (880.0, DEFAULT_HEIGHT - 70.0)
LABEL_CHAR_PX = 6.8  # width of one character of a 12 px label, on average
LABEL_HEIGHT_PX = 15.0
#: Where a task's name may go, tried in this order; a name that fits nowhere is left to the hover.
LABEL_SPOTS = ("top center", "bottom center", "middle right", "middle left")
#: Above this many drawn tasks the markers lose their white outline, which would hide them.
OUTLINE_MAX_TASKS = 300
#: Plotly checks every value it is given (about 0.1 ms per colour): above this many tasks plus
#: edges the traces, built only from values made here, skip that check to keep big graphs fast.
VALIDATE_MAX_ITEMS = 400


# --------------------------------------------------------------------------- text
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def task_hover(task: Task) -> str:
    """Hover text: what a task is and how much data it has."""
    params = html_text(", ".join(f"{k}={_fmt(v)}" for k, v in task.full_params().items()))
    kind = "zero-shot (no training data)" if task.zero_shot else f"train {task.train_size}"
    return (f"<b>{html_text(task.name)}</b><br>family: {task.family}<br>{params}<br>"
            f"{kind} · test {task.test_size} · seed {task.seed}")


def drawing_note(graph: TaskGraph) -> str | None:
    """Why the figure does not show everything, or None when it does."""
    n, e = graph.number_of_tasks(), graph.number_of_edges()
    if n <= MAX_DRAWN_TASKS and e <= MAX_DRAWN_EDGES:
        return None
    shown = f"a sample of {MAX_DRAWN_TASKS:,} of its {n:,} tasks" if n > MAX_DRAWN_TASKS else f"its {n:,} tasks"
    return (f"This graph is too big to draw in full ({n:,} tasks, {e:,} edges): showing {shown} without edges. "
            "The tables below still list everything.")


# --------------------------------------------------------------------------- labels
def _px_per_unit(xr: list[float], yr: list[float], plot_px: tuple[float, float]) -> float:
    """Screen pixels per data unit with equal axis scales (the tighter of the two fits)."""
    return min(plot_px[0] / max(xr[1] - xr[0], 1e-9), plot_px[1] / max(yr[1] - yr[0], 1e-9))


def _overlaps(box: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1 for b in boxes)


def label_reach(names: Iterable[str]) -> float:
    """How far (pixels) a name may reach past its task: the room kept at the plot's edges."""
    return max((LABEL_CHAR_PX * len(n) / 2 for n in names), default=0.0) + 12


def label_spots(pos: dict[str, tuple[float, float]], marker_px: float, first: Iterable[str] = (),
                plot_px: tuple[float, float] = PLOT_PX) -> dict[str, str | None]:
    """Where each task's name goes so that no two names overlap each other or a task's marker.

    Names are placed greedily (``first`` ones first, then in order), each at the first of
    :data:`LABEL_SPOTS` that is free; a name with no free spot gets None and is shown
    only on hover. Sizes are estimated from the plot's size in pixels.
    """
    if not pos:
        return {}
    xr, yr = _ranges(pos.values(), label_reach(pos), plot_px)  # the ranges the figure will have
    scale = _px_per_unit(xr, yr, plot_px)
    screen = {n: (p[0] * scale, p[1] * scale) for n, p in pos.items()}
    half = marker_px / 2
    boxes = [(x - half, y - half, x + half, y + half) for x, y in screen.values()]
    order = list(dict.fromkeys([*(n for n in first if n in pos), *pos]))
    spots: dict[str, str | None] = {}
    for name in order:
        x, y = screen[name]
        w, h = LABEL_CHAR_PX * len(name) + 4, LABEL_HEIGHT_PX
        offsets = {"top center": (0.0, half + 2 + h / 2), "bottom center": (0.0, -(half + 2 + h / 2)),
                   "middle right": (half + 3 + w / 2, 0.0), "middle left": (-(half + 3 + w / 2), 0.0)}
        spots[name] = None
        for spot in LABEL_SPOTS:
            dx, dy = offsets[spot]
            box = (x + dx - w / 2, y + dy - h / 2, x + dx + w / 2, y + dy + h / 2)
            if not _overlaps(box, boxes):
                boxes.append(box)
                spots[name] = spot
                break
    return spots


# --------------------------------------------------------------------------- traces
def _sample(names: list[str], limit: int) -> list[str]:
    if len(names) <= limit:
        return names
    idx = np.linspace(0, len(names) - 1, limit).round().astype(int)
    return [names[i] for i in np.unique(idx)]


def _node_size(n: int, compact: bool) -> float:
    if compact:
        return float(np.clip(14 - 2.2 * math.log10(max(n, 1)) * 2, 4, 12))
    return float(np.clip(26 - 6.5 * math.log10(max(n, 1)), 5, 24))


def _edge_arrays(graph: TaskGraph, pos: dict[str, tuple[float, float]]) -> dict[str, list[tuple]]:
    by_relation: dict[str, list[tuple]] = {}
    for u, v, key, data in graph.nx.edges(keys=True, data=True):
        if u in pos and v in pos:
            by_relation.setdefault(key, []).append((u, v, float(data.get("weight", 1.0))))
    return by_relation


def _segments(edges: list[tuple], pos: dict[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end coordinates of every edge, shape (E, 2) each."""
    start = np.array([pos[u] for u, _, _ in edges], dtype=float)
    end = np.array([pos[v] for _, v, _ in edges], dtype=float)
    return start, end


def _none_separated(start: np.ndarray, end: np.ndarray, axis: int) -> np.ndarray:
    """x0, x1, gap, x0, x1, gap, ...: all edges of a relation in one line trace (NaN breaks the line)."""
    out = np.full(3 * len(start), np.nan)
    out[0::3], out[1::3] = start[:, axis], end[:, axis]
    return out


def without_webgl(figure: go.Figure) -> go.Figure:
    """The same figure drawn as SVG: a page of thumbnails needs no WebGL context per card (Chromium keeps
    about 16 at once and drops the oldest, so the first card of a ten-card gallery went blank)."""
    data = [go.Scatter({k: v for k, v in trace.to_plotly_json().items() if k != "type"})
            if trace.type == "scattergl" else trace for trace in figure.data]
    return go.Figure(data=data, layout=figure.layout)


def _gl(validate: bool, **kwargs: Any) -> go.Scattergl:
    return go.Scattergl(**kwargs, _validate=validate)


def _edge_traces(graph: TaskGraph, pos: dict[str, tuple[float, float]], compact: bool, dim: bool,
                 validate: bool = True) -> list[Any]:
    """Per relation: one None-separated line trace, one marker trace (arrow heads or hover dots)."""
    colors = relation_colors(graph)
    traces: list[Any] = []
    by_relation = _edge_arrays(graph, pos)
    # Many edges drawn thick and opaque hide the tasks: thin and fade them as they multiply.
    scale = math.log10(max(sum(len(e) for e in by_relation.values()), 1))
    width = float(np.clip(2.4 - 0.45 * scale, 0.6, 2.0)) * (0.6 if compact else 1.0)
    opacity = float(np.clip(1.1 - 0.25 * scale, 0.2, 0.8)) * (0.5 if dim else 1.0)
    for relation, edges in by_relation.items():
        rel = graph.relations.get(relation)
        directed = bool(rel and rel.directed)
        color = colors.get(relation, "#888888")
        label = html_text(f"{relation} →" if directed else relation)
        start, end = _segments(edges, pos)
        traces.append(_gl(
            validate, x=_none_separated(start, end, 0), y=_none_separated(start, end, 1), mode="lines",
            line={"color": color, "width": width}, opacity=opacity,
            name=label, legendgroup=relation, hoverinfo="skip", showlegend=False,
        ))
        if not compact:  # the legend shows the relation's colour at full strength, however faded the lines
            traces.append(_gl(validate, x=[None], y=[None], mode="lines", line={"color": color, "width": 3},
                              name=label, legendgroup=relation, hoverinfo="skip"))
        if compact and not directed:
            continue
        traces.append(_edge_marker_trace(edges, start, end, relation, directed, color, label, compact, validate))
    return traces


def _edge_marker_trace(edges: list[tuple], start: np.ndarray, end: np.ndarray, relation: str, directed: bool,
                       color: str, label: str, compact: bool, validate: bool = True) -> go.Scattergl:
    """Arrow heads at :data:`ARROW_AT` (directed) or invisible midpoints (undirected), with hover."""
    where = start + (end - start) * (ARROW_AT if directed else 0.5)
    delta = end - start
    # marker.angle turns clockwise from "up"; with equal axis scales data and screen angles agree.
    angles = np.degrees(np.arctan2(delta[:, 0], delta[:, 1]))
    arrow = "→" if directed else "—"
    hover = np.array([f"{html_text(u)} {arrow} {html_text(v)}<br>relation: {html_text(relation)}<br>weight: {w:.3g}"
                      for u, v, w in edges])
    marker: dict[str, Any] = {"color": color, "size": 7 if compact else 11}
    if directed:
        marker.update(symbol="triangle-up", angle=angles.round(2), line={"width": 0})
    else:
        marker.update(symbol="circle", opacity=0.0)
    return _gl(
        validate, x=where[:, 0], y=where[:, 1], mode="markers", marker=marker, name=label,
        legendgroup=relation, showlegend=False, hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
        customdata=np.array([["edge", u, v, relation] for u, v, _ in edges], dtype=object),
        hoverinfo="skip" if compact else None,
        selected={"marker": {"opacity": 1.0 if directed else 0.0}},
        unselected={"marker": {"opacity": 1.0 if directed else 0.0}},
    )


def _node_trace(tasks: list[Task], pos: dict[str, tuple[float, float]], colors: dict[str, str], zero_shot: bool,
                size: float, labels: dict[str, str | None] | None, selected: list[str],
                highlight: Collection[str] | None, compact: bool, validate: bool = True) -> go.Scattergl:
    """One trace for all seen (or all zero-shot) tasks; customdata is the task name.

    ``labels`` maps each task to where its name is written (None: on hover only).
    """
    names = [t.name for t in tasks]
    crowded = len(pos) > OUTLINE_MAX_TASKS
    marker: dict[str, Any] = {
        "color": np.array([colors.get(n, "#888888") for n in names]),
        "symbol": ZERO_SHOT_SYMBOL if zero_shot else SEEN_SYMBOL,
        "size": size * (1.35 if zero_shot else 1.0),
        "line": {"color": "white", "width": 0.0 if crowded else 0.5 if compact else 1.5},
    }
    if highlight is not None:
        marker["opacity"] = [1.0 if n in highlight else 0.25 for n in names]
        marker["line"] = {"color": [SELECTED_COLOR if n in highlight else "white" for n in names],
                          "width": 2.0}
    trace = _gl(
        validate, x=np.array([pos[n][0] for n in names]), y=np.array([pos[n][1] for n in names]),
        customdata=np.array(names),
        mode="markers+text" if labels else "markers",
        # WebGL draws text as plain characters: no HTML, so no escaping.
        text=[n if labels.get(n) else "" for n in names] if labels else None,
        textposition=[labels.get(n) or "top center" for n in names] if labels else "top center",
        textfont={"size": 12, "color": "#333"},
        marker=marker, name="zero-shot tasks ★" if zero_shot else "seen tasks",
        legendgroup="tasks", showlegend=False,
        hovertext=None if compact else np.array([task_hover(t) for t in tasks]),
        hovertemplate=None if compact else "%{hovertext}<extra></extra>",
        hoverinfo="skip" if compact else None,
        # Plotly's own selection style: a click highlights at once, before the page reruns.
        selected={"marker": {"opacity": 1.0, "size": marker["size"] * 1.45}, "textfont": {"color": SELECTED_COLOR}},
        # Small crowded markers faded as far as few big ones would vanish: fade them less.
        unselected={"marker": {"opacity": 0.6 if crowded else 0.35}, "textfont": {"color": "#b0b0b0"}},
    )
    chosen = [i for i, n in enumerate(names) if n in selected]
    if chosen:
        trace.selectedpoints = chosen
    return trace


def _legend_traces(tasks: list[Task]) -> list[go.Scattergl]:
    """Grey legend entries for the two task symbols (the real traces carry per-task colours)."""
    kinds = [(False, "seen task"), (True, "zero-shot task (no training data)")]
    present = {t.zero_shot for t in tasks}
    return [go.Scattergl(x=[None], y=[None], mode="markers", name=label, legendgroup="tasks", hoverinfo="skip",
                         marker={"symbol": ZERO_SHOT_SYMBOL if zero else SEEN_SYMBOL, "color": "#8a8a8a",
                                 "size": 11 if zero else 9})
            for zero, label in kinds if zero in present]


def _color_key_traces(graph: TaskGraph, by: str, compact: bool) -> list[Any]:
    """A colour bar for a numeric parameter, or one legend entry per family."""
    if compact:
        return []
    if by == "family":
        families = list(dict.fromkeys(t.family for t in graph.tasks()))
        if len(families) < 2:
            return []
        return [go.Scattergl(x=[None], y=[None], mode="markers", name=f, legendgroup="families",
                             legendgrouptitle={"text": "family"},
                             marker={"color": FAMILY_COLORS.get(f, "#636efa"), "size": 10}) for f in families]
    values = [t.full_params().get(by) for t in graph.tasks()]
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers:
        return []
    if by == "rotate":
        scale, low, high = "Phase", 0.0, 360.0
    else:
        scale, low, high = "Viridis", min(numbers), max(numbers)
    return [go.Scatter(
        x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
        marker={"colorscale": scale, "cmin": low, "cmax": high, "color": [low], "showscale": True,
                "colorbar": {"title": {"text": html_text(by), "side": "right"}, "thickness": 12, "len": 0.5, "x": 1.0,
                             "y": 0.0, "yanchor": "bottom"}},
    )]


# --------------------------------------------------------------------------- figure
def _ranges(points: Iterable[tuple[float, float]], margin_px: float = 0.0,
            plot_px: tuple[float, float] = PLOT_PX) -> tuple[list[float], list[float]]:
    """Axis ranges around the points, with room for ``margin_px`` (a label's reach) at each side."""
    arr = np.array(list(points), dtype=float).reshape(-1, 2)
    if len(arr) == 0:
        return [-1.0, 1.0], [-1.0, 1.0]
    low, high = arr.min(axis=0), arr.max(axis=0)
    pad = np.maximum((high - low) * 0.1, 0.3)
    if margin_px:
        scale = _px_per_unit([low[0], high[0]], [low[1], high[1]], plot_px)
        pad = np.maximum(pad, margin_px / max(scale, 1e-9))
    return [float(low[0] - pad[0]), float(high[0] + pad[0])], [float(low[1] - pad[1]), float(high[1] + pad[1])]


def graph_figure(
    graph: TaskGraph,
    colors: dict[str, str] | None = None,
    color_by: str | None = None,
    selected: Iterable[str] = (),
    highlight: Collection[str] | None = None,
    compact: bool = False,
    height: int | None = None,
    marked: Collection[str] | None = None,
) -> go.Figure:
    """The task graph: tasks coloured by family or a parameter, edges coloured by relation.

    ``colors`` overrides the per-task colours (default :func:`task_colors` by ``color_by``);
    ``selected`` tasks become Plotly's own selection (bigger, the rest faded), so a later
    shift-click in the browser extends it; ``highlight`` fades every other task; ``compact``
    draws a thumbnail without legend, labels or hover; ``marked`` tasks (an open lesson's) get a ring.
    """
    options = color_options(graph)  # ["family", *varying parameters]: the default is the first varying one
    by = color_by if color_by in options else (options[1] if len(options) > 1 else "family")
    colors = colors if colors is not None else task_colors(graph, by)
    selected = [s for s in selected if s in graph.nx]
    pos = drawing_positions(graph)
    note = drawing_note(graph)
    too_big = note is not None
    names = _sample(list(pos), MAX_DRAWN_TASKS)
    drawn = {n: pos[n] for n in names}
    tasks = [graph.task(n) for n in names]
    size = _node_size(len(names), compact)
    labels = label_spots(drawn, size * 1.45, first=[*selected, *(t.name for t in tasks if t.zero_shot)]) \
        if not compact and len(names) <= LABEL_LIMIT else None
    validate = len(names) + (0 if too_big else graph.number_of_edges()) <= VALIDATE_MAX_ITEMS
    traces: list[Any] = [] if too_big else _edge_traces(graph, drawn, compact, highlight is not None, validate)
    for zero in (False, True):
        group = [t for t in tasks if t.zero_shot == zero]
        if group:
            traces.append(_node_trace(group, drawn, colors, zero, size, labels, selected, highlight, compact,
                                      validate))
    if marked and not compact:
        traces.append(ring_trace(drawn, marked, size * 2.0, gl=validate))
    if not compact:
        traces.extend(_legend_traces(tasks))
    traces.extend(_color_key_traces(graph, by, compact))
    fig = go.Figure(traces, _validate=validate)
    reach = label_reach(names) if labels else 0.0
    _layout(fig, note, drawn, compact, height, reach)
    return float32_coordinates(fig) if is_light(len(names)) else fig


def _layout(fig: go.Figure, note: str | None, pos: dict[str, tuple[float, float]], compact: bool,
            height: int | None, reach: float = 0.0) -> None:
    xr, yr = _ranges(pos.values(), reach)
    axis = {"visible": False, "showgrid": False, "zeroline": False}
    fig.update_layout(
        height=height or (COMPACT_HEIGHT if compact else DEFAULT_HEIGHT),
        margin={"l": 4, "r": 4, "t": 4, "b": 4} if compact else {"l": 10, "r": 10, "t": 30, "b": 10},
        plot_bgcolor="white", paper_bgcolor="white", showlegend=not compact, hovermode="closest",
        hoverlabel={"bgcolor": "white", "font": {"color": "#222", "size": 12}},
        dragmode=False if compact else "pan", clickmode="event+select", uirevision="task-graph",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0.0,
                "itemsizing": "constant", "font": {"size": 12}},
        xaxis={**axis, "range": xr}, yaxis={**axis, "range": yr, "scaleanchor": "x", "scaleratio": 1},
    )
    message = note.split(":")[0] + "." if note else ("No tasks yet." if not pos else None)
    if message:
        fig.add_annotation(text=message, xref="paper", yref="paper", x=0.5, y=0.98 if pos else 0.5,
                           showarrow=False, font={"size": 11 if compact else 14, "color": "#b00020" if note
                                                  else "#666"})
