"""Message passing as figures: the graph with message widths per layer, a task's incoming
messages, every task's state h^l, and the update equation's numbers. Pure: trace in, figure out.

The graph figure draws each message u→v as its own line, offset to the side of the edge
so both directions of an edge are visible, with a width from the message's norm (or
attention weight). Widths are binned into :data:`WIDTHS`, one WebGL line trace per
relation and bin, so the number of traces never grows with the number of edges. The
figure carries one animation frame per layer and a play button; past
:data:`ragviz.plots.light.LIGHT_TASKS` tasks it is drawn light: one layer (the page's picker
redraws another), arrows and message hover only within the focus task's receptive field,
float32 coordinates, and a note under the plot that says so.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.trace import Trace
from ragviz.plots.colors import SEEN_SYMBOL, ZERO_SHOT_SYMBOL, relation_colors, task_colors
from ragviz.plots.graph import node_positions, task_hover
from ragviz.plots.light import float32_coordinates, is_light, no_animation_note, note_below
from ragviz.plots.marks import ring_trace
from ragviz.safety.safe_text import html_text

WIDTHS = (1.0, 2.5, 4.5, 7.5)  # line widths of the message bins, thin to thick
BIN_EDGES = (0.25, 0.5, 0.75)  # fractions of the layer's largest value where a bin starts
ARROW_AT = 0.72
TRIM = 0.1  # lines stop this fraction short of both nodes
MAX_DRAWN_MESSAGES = 40_000
LABEL_LIMIT = 40
FOCUS_COLOR = "#111111"
FRAME_MS = 1100
LIGHT_ARROWS = "Arrows and message hover only within {focus}'s receptive field (all messages are drawn as lines)."


# --------------------------------------------------------------------------- graph facts
def hop_distances(trace: Trace, task: str) -> dict[str, int]:
    """Tasks whose messages reach ``task``, with the fewest layers they need (itself: 0).

    Follows the model's own message edges backwards (forward and reverse directions both),
    so it is exact for whatever edges the trace was computed on.
    """
    target = trace.index(task)
    incoming: dict[int, list[int]] = {}
    for s, d in zip(trace.message_src.tolist(), trace.message_dst.tolist(), strict=True):
        if s != d:
            incoming.setdefault(d, []).append(s)
    hops = {target: 0}
    queue = deque([target])
    while queue:
        v = queue.popleft()
        for u in incoming.get(v, ()):
            if u not in hops:
                hops[u] = hops[v] + 1
                queue.append(u)
    return {trace.task_names[i]: h for i, h in hops.items()}


def receptive_field(trace: Trace, task: str, layer: int) -> set[str]:
    """The tasks that can influence ``task``'s state after ``layer`` layers: those within ``layer`` hops."""
    return {name for name, h in hop_distances(trace, task).items() if h <= layer}


def message_values(trace: Trace, layer: int, weight_by: str = "norm") -> np.ndarray:
    """Each message's value at ``layer`` (1-based): its norm ‖m‖ or its attention weight α."""
    if weight_by == "attention" and trace.attention is not None:
        return np.asarray(trace.attention[layer - 1], dtype=float)
    return np.asarray(trace.message_norm[layer - 1], dtype=float)


def width_bins(values: np.ndarray, weight_by: str = "norm") -> np.ndarray:
    """Bin index (0…3) of each value: attention weights are absolute (α ≤ 1), norms relative to the layer's max."""
    values = np.asarray(values, dtype=float)
    if weight_by == "attention":
        fractions = values
    else:
        top = float(values.max()) if values.size else 0.0
        fractions = values / top if top > 0 else np.zeros_like(values)
    return np.searchsorted(np.asarray(BIN_EDGES), fractions, side="right")


def focus_from_event(event: Any, names: list[str]) -> str | None:
    """The task a click on a figure points at: a node's task, or the receiver of a clicked message."""
    if not isinstance(event, Mapping):
        return None
    selection = event.get("selection", event)
    points = selection.get("points") if isinstance(selection, Mapping) else None
    for point in reversed(points or []):
        data = point.get("customdata") if isinstance(point, Mapping) else None
        if isinstance(data, (list, tuple)) and len(data) >= 3 and data[0] == "message":
            data = data[2]
        elif isinstance(data, (list, tuple)) and data:
            data = data[0]
        if isinstance(data, str) and data in names:
            return data
    return None


# --------------------------------------------------------------------------- graph figure
def _geometry(trace: Trace, pos: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """Start, end and arrow position of every drawn message (not self-loops), offset to its right."""
    idx = np.flatnonzero(trace.message_src != trace.message_dst)[:MAX_DRAWN_MESSAGES]
    names = trace.task_names
    xy = np.array([pos.get(n, (0.0, 0.0)) for n in names], dtype=float).reshape(-1, 2)
    start, end = xy[trace.message_src[idx]], xy[trace.message_dst[idx]]
    span = float(np.ptp(xy, axis=0).max()) if len(xy) > 1 else 1.0
    delta = end - start
    length = np.linalg.norm(delta, axis=1, keepdims=True)
    unit = np.divide(delta, length, out=np.zeros_like(delta), where=length > 0)
    offset = np.stack([unit[:, 1], -unit[:, 0]], axis=1) * 0.018 * (span or 1.0)
    a, b = start + delta * TRIM + offset, end - delta * TRIM + offset
    return {"index": idx, "start": a, "end": b, "arrow": a + (b - a) * ARROW_AT,
            "angle": np.degrees(np.arctan2(delta[:, 0], delta[:, 1])).round(2)}


def _lines(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x and y of many segments in one line trace, NaN-separated."""
    x, y = np.full(3 * len(start), np.nan), np.full(3 * len(start), np.nan)
    x[0::3], x[1::3], y[0::3], y[1::3] = start[:, 0], end[:, 0], start[:, 1], end[:, 1]
    return x, y


def _message_hover(trace: Trace, layer: int, idx: np.ndarray) -> np.ndarray:
    names, norms = trace.task_names, trace.message_norm[layer - 1]
    att = trace.attention[layer - 1] if trace.attention is not None else None
    out = []
    for i in idx.tolist():
        text = (f"<b>{html_text(names[trace.message_src[i]])} → {html_text(names[trace.message_dst[i]])}</b><br>"
                f"relation: {html_text(trace.message_relation[i])}<br>‖m‖ = {norms[i]:.3g}")
        if att is not None:
            text += f"<br>α = {att[i]:.3f}"
        out.append(text)
    return np.array(out, dtype=object)


def _near_focus(trace: Trace, idx: np.ndarray, layer: int, hops: dict[str, int] | None) -> np.ndarray:
    """Which of the messages ``idx`` run between two tasks of the focus task's receptive field at ``layer``."""
    if hops is None:
        return np.zeros(len(idx), dtype=bool)
    inside = np.zeros(len(trace.task_names), dtype=bool)
    inside[[trace.index(name) for name, h in hops.items() if h <= layer]] = True
    return inside[trace.message_src[idx]] & inside[trace.message_dst[idx]]


def _dynamic_traces(trace: Trace, geo: dict[str, np.ndarray], layer: int, weight_by: str, labels: list[str],
                    rel_colors: dict[str, str], node_style: dict[str, Any], light: bool = False) -> list[Any]:
    """Everything that changes with the layer: message lines (relation × bin), arrows, nodes.

    ``light``: arrows (with their hover and click data) only near the focus task.
    """
    idx = geo["index"]
    near = _near_focus(trace, idx, layer, node_style["hops"]) if light else np.ones(len(idx), dtype=bool)
    bins = width_bins(message_values(trace, layer, weight_by)[idx], weight_by) if layer else np.zeros(len(idx), int)
    relation = np.array([trace.message_relation[i] for i in idx.tolist()], dtype=object)
    hover = _message_hover(trace, layer, idx) if layer else np.array([], dtype=object)
    out: list[Any] = []
    for label in labels:
        color = rel_colors.get(label, "#888888")
        for b, width in enumerate(WIDTHS):
            pick = (relation == label) & (bins == b)
            x, y = _lines(geo["start"][pick], geo["end"][pick])
            out.append({"type": "scattergl", "x": x, "y": y, "mode": "lines", "opacity": 0.75,
                        "line": {"color": color, "width": width}, "hoverinfo": "skip", "showlegend": False,
                        "legendgroup": label})
    for label in labels:
        pick = (relation == label) & near
        out.append({
            "type": "scattergl", "x": geo["arrow"][pick, 0], "y": geo["arrow"][pick, 1], "mode": "markers",
            "showlegend": False, "legendgroup": label,
            "marker": {"symbol": "triangle-up", "angle": geo["angle"][pick], "size": 9,
                       "color": rel_colors.get(label, "#888888"), "line": {"width": 0}},
            "customdata": [["message", trace.task_names[trace.message_src[i]], trace.task_names[trace.message_dst[i]],
                            trace.message_relation[i]] for i in idx[pick].tolist()],
            "hovertext": list(hover[pick]) if len(hover) else None, "hovertemplate": "%{hovertext}<extra></extra>",
        })
    out.append(_node_trace(trace, layer, **node_style))
    return out


def _node_trace(trace: Trace, layer: int, pos: dict[str, tuple[float, float]], colors: dict[str, str],
                focus: str | None, hover: list[str], hops: dict[str, int] | None) -> dict[str, Any]:
    """All tasks in one trace; with a focus task, tasks outside its receptive field at ``layer`` fade."""
    names = trace.task_names
    field = None if hops is None else {name for name, h in hops.items() if h <= layer}
    n = len(names)
    size = float(np.clip(26 - 6.5 * math.log10(max(n, 1)), 6, 22))
    zero = np.asarray(trace.zero_shot, dtype=bool)
    marker: dict[str, Any] = {
        "color": [colors.get(name, "#888888") for name in names],
        "symbol": [ZERO_SHOT_SYMBOL if z else SEEN_SYMBOL for z in zero],
        "size": [size * (1.35 if z else 1.0) * (1.3 if name == focus else 1.0)
                 for name, z in zip(names, zero, strict=True)],
        "opacity": [1.0 if field is None or name in field else 0.2 for name in names],
        "line": {"color": "white", "width": 1.2},
    }
    labels = n <= LABEL_LIMIT
    return {
        "type": "scattergl", "x": [pos[name][0] for name in names], "y": [pos[name][1] for name in names],
        "customdata": names, "mode": "markers+text" if labels else "markers",
        "text": names if labels else None,  # WebGL draws text as plain characters: no HTML, so no escaping
        "textposition": "top center", "textfont": {"size": 11, "color": "#222"}, "marker": marker,
        "showlegend": False, "hovertext": hover, "hovertemplate": "%{hovertext}<extra></extra>",
    }


def _focus_ring(pos: dict[str, tuple[float, float]], focus: str | None) -> go.Scattergl:
    """A black ring around the focus task (the same at every layer, so outside the frames)."""
    where = [pos[focus]] if focus in pos else []
    return go.Scattergl(x=[p[0] for p in where], y=[p[1] for p in where], mode="markers", hoverinfo="skip",
                        showlegend=False, marker={"symbol": "circle-open", "size": 30, "color": FOCUS_COLOR,
                                                  "line": {"color": FOCUS_COLOR, "width": 2.5}})


def _legend_traces(labels: list[str], rel_colors: dict[str, str]) -> list[go.Scatter]:
    return [go.Scatter(x=[None], y=[None], mode="lines", name=html_text(label), legendgroup=label,
                       line={"color": rel_colors.get(label, "#888888"), "width": 3}) for label in labels]


def _frame_title(trace: Trace, layer: int, weight_by: str, focus: str | None, hops: dict[str, int] | None) -> str:
    what = "attention α" if weight_by == "attention" and trace.attention is not None else "‖m‖ (relative to this layer)"
    text = f"<b>Layer {layer} of {trace.n_layers}</b> · width ∝ {what}"
    if hops is not None:
        field = sum(1 for h in hops.values() if h <= layer)
        text += f" · {field} task(s) within {layer} hop(s) of <b>{html_text(focus)}</b>"
    return text


def _play_menu(layers: list[int]) -> list[dict[str, Any]]:
    frames = [str(layer) for layer in layers]
    play = {"frame": {"duration": FRAME_MS, "redraw": True}, "transition": {"duration": 0}, "mode": "immediate"}
    pause = {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}
    return [{"type": "buttons", "direction": "left", "x": 0.0, "y": 0.0, "xanchor": "left", "yanchor": "top",
             "pad": {"t": 4}, "showactive": False,
             "buttons": [{"label": f"▶ Play layers 1→{layers[-1]}", "method": "animate", "args": [frames, play]},
                         {"label": "❚❚ Pause", "method": "animate", "args": [[None], pause]}]}]


def task_hovers(trace: Trace, graph: TaskGraph) -> list[str]:
    """Every task's hover text in the message figure, in the trace's task order."""
    return [task_hover(graph.task(n)) if n in graph.nx else html_text(n) for n in trace.task_names]


def message_figure(
    trace: Trace,
    graph: TaskGraph,
    layer: int = 1,
    focus: str | None = None,
    weight_by: str = "norm",
    colors: dict[str, str] | None = None,
    height: int = 560,
    marked: Collection[str] | None = None,
    hover: list[str] | None = None,
) -> go.Figure:
    """The graph with every message of ``layer`` drawn; one frame per layer and a play button.

    ``focus`` fades tasks outside its receptive field at each layer; ``weight_by`` is
    'norm' or 'attention' (when the model aggregates by attention); ``marked`` tasks get a ring.
    ``colors`` and ``hover`` (:func:`task_hovers`) may come from a caller that keeps them: no focus or
    layer changes them.
    """
    pos = node_positions(graph)
    for i, name in enumerate(trace.task_names):  # a trace on a graph without the task: park it on a circle
        pos.setdefault(name, (math.cos(i), math.sin(i)))
    colors = colors if colors is not None else task_colors(graph)
    rel_colors = relation_colors(graph)
    geo = _geometry(trace, pos)
    labels = list(dict.fromkeys(trace.message_relation[i] for i in geo["index"].tolist()))
    hover = hover if hover is not None else task_hovers(trace, graph)
    hops = hop_distances(trace, focus) if focus in trace.task_names else None
    node_style = {"pos": pos, "colors": colors, "focus": focus, "hover": hover, "hops": hops}
    layer = int(np.clip(layer, 0, trace.n_layers))
    light = is_light(len(trace.task_names))
    dynamic = _dynamic_traces(trace, geo, layer, weight_by, labels, rel_colors, node_style, light)
    rings = [ring_trace(pos, marked, 38.0)] if marked else []
    fig = go.Figure([*dynamic, _focus_ring(pos, focus), *rings, *_legend_traces(labels, rel_colors)])
    layers = list(range(1, trace.n_layers + 1))
    animate = len(layers) > 1 and not light
    if animate:
        fig.frames = [go.Frame(name=str(k), traces=list(range(len(dynamic))),
                               data=_dynamic_traces(trace, geo, k, weight_by, labels, rel_colors, node_style),
                               layout={"title": {"text": _frame_title(trace, k, weight_by, focus, hops)}})
                      for k in layers]
    xy = np.array([pos[n] for n in trace.task_names], dtype=float).reshape(-1, 2)
    low, high = (xy.min(axis=0), xy.max(axis=0)) if len(xy) else (np.zeros(2) - 1, np.zeros(2) + 1)
    pad = np.maximum((high - low) * 0.1, 0.3)
    axis = {"visible": False, "showgrid": False, "zeroline": False}
    title = _frame_title(trace, layer, weight_by, focus, hops) if layer else "This model has no message-passing layers"
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 14}}, height=height,
        margin={"l": 8, "r": 8, "t": 70, "b": 44 if animate or light else 8}, plot_bgcolor="white",
        paper_bgcolor="white",
        hovermode="closest", clickmode="event+select", dragmode="pan", uirevision="message-graph",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        xaxis={**axis, "range": [float(low[0] - pad[0]), float(high[0] + pad[0])]},
        yaxis={**axis, "range": [float(low[1] - pad[1]), float(high[1] + pad[1])], "scaleanchor": "x"},
        updatemenus=_play_menu(layers) if animate else [],
    )
    if light:
        notes = [LIGHT_ARROWS.format(focus=html_text(focus) if hops is not None else "a focus task")]
        if len(layers) > 1:
            notes.append(no_animation_note("layer"))
        note_below(float32_coordinates(fig), "<br>".join(notes))
    return fig


# --------------------------------------------------------------------------- one task
def incoming_figure(trace: Trace, task: str, layer: int, weight_by: str = "norm",
                    rel_colors: dict[str, str] | None = None, height: int | None = None) -> go.Figure:
    """The messages ``task`` received at ``layer``, one bar per neighbour and relation, largest on top."""
    inc = trace.incoming(task, layer)
    use_att = weight_by == "attention" and inc["attention"] is not None
    values = np.asarray(inc["attention"] if use_att else inc["norm"], dtype=float)
    labels = [html_text(f"{s} · {r}") for s, r in zip(inc["source"], inc["relation"], strict=True)]
    order = np.argsort(values, kind="stable")  # ascending: Plotly draws the first bar at the bottom
    rel_colors = rel_colors or {}
    hover = []
    for i in order.tolist():
        text = (f"<b>{html_text(inc['source'][i])}</b> → {html_text(task)}<br>relation: "
                f"{html_text(inc['relation'][i])}<br>‖m‖ = {inc['norm'][i]:.3g}")
        if inc["attention"] is not None:
            text += f"<br>α = {inc['attention'][i]:.3f}"
        hover.append(text)
    fig = go.Figure(go.Bar(
        x=values[order], y=[labels[i] for i in order], orientation="h",
        marker={"color": [rel_colors.get(inc["relation"][i], "#888888") for i in order]},
        text=[f"{v:.3g}" for v in values[order]], textposition="auto", hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
    ))
    fig.update_layout(
        title={"text": f"Messages into <b>{html_text(task)}</b> at layer {layer}", "x": 0.01, "font": {"size": 14}},
        height=height or int(110 + 28 * max(len(labels), 1)), margin={"l": 8, "r": 8, "t": 40, "b": 36},
        xaxis={"title": {"text": "attention weight α" if use_att else "message norm ‖m‖"}, "rangemode": "tozero"},
        yaxis={"automargin": True}, plot_bgcolor="white", bargap=0.25,
    )
    return fig


def state_heatmap(trace: Trace, layer: int, focus: str | None = None, height: int | None = None) -> go.Figure:
    """Every task's state h^layer as a row (tasks × dimensions); the focus task is outlined."""
    z = trace.layers[layer]
    n, d = z.shape
    limit = float(np.abs(z).max()) if z.size else 1.0
    fig = go.Figure(go.Heatmap(
        z=z.astype(np.float32), x=np.arange(1, d + 1), y=[html_text(n) for n in trace.task_names],
        colorscale="RdBu_r", zmid=0.0,
        zmin=-limit, zmax=limit, colorbar={"title": {"text": f"h{_sup(layer)}", "side": "right"}, "thickness": 12},
        hovertemplate="task %{y}<br>dimension %{x}<br>value %{z:.3f}<extra></extra>",
    ))
    if focus in trace.task_names:
        i = trace.index(focus)
        fig.add_shape(type="rect", x0=0.5, x1=d + 0.5, y0=i - 0.5, y1=i + 0.5, line={"color": FOCUS_COLOR, "width": 2})
    fig.update_layout(
        title={"text": f"Every task's state h{_sup(layer)} (rows: tasks, columns: the {d} dimensions)",
               "x": 0.01, "font": {"size": 14}},
        height=height or int(min(900, 90 + 17 * max(n, 4))), margin={"l": 8, "r": 8, "t": 40, "b": 30},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        xaxis={"title": {"text": "dimension"}, "dtick": 1 if d <= 32 else None},
    )
    return fig


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _sup(k: int) -> str:
    return str(k).translate(_SUPERSCRIPTS)


# --------------------------------------------------------------------------- the equation
def update_numbers(trace: Trace, task: str, layer: int) -> dict[str, float]:
    """The sizes of every term of ``task``'s update at ``layer``: what the equation shows with numbers."""
    v = trace.index(task)
    h_prev, h_new = trace.layers[layer - 1, v], trace.layers[layer, v]
    a = trace.aggregates[layer - 1, v]
    inc = trace.incoming(task, layer)
    out = {"h_prev": float(np.linalg.norm(h_prev)), "aggregate": float(np.linalg.norm(a)),
           "h": float(np.linalg.norm(h_new)), "messages": float(len(inc["source"])),
           "largest_message": float(np.max(inc["norm"])) if len(inc["norm"]) else 0.0,
           "change": float(np.linalg.norm(h_new - h_prev))}
    if trace.self_terms is not None:
        s = trace.self_terms[layer - 1, v]
        activated = np.maximum(s + a, 0.0)
        out.update({"self": float(np.linalg.norm(s)), "activated": float(np.linalg.norm(activated)),
                    "residual": float(np.linalg.norm(h_prev + activated))})
    return out


AGGREGATE_TEX = {
    "mean": r"a^{l}_{v} = \frac{1}{|\mathcal{N}(v)|}\sum_{u \in \mathcal{N}(v)} m^{l}_{u\to v}",
    "sum": r"a^{l}_{v} = \sum_{u \in \mathcal{N}(v)} m^{l}_{u\to v}",
    "max": r"a^{l}_{v} = \max_{u \in \mathcal{N}(v)} m^{l}_{u\to v}\ \text{(per dimension)}",
    "attention": r"a^{l}_{v} = \sum_{u \in \mathcal{N}(v)} \alpha^{l}_{uv}\, m^{l}_{u\to v}",
}
UPDATE_TEX = (r"h^{l}_{v} = \operatorname{LayerNorm}\Big(h^{l-1}_{v} + "
              r"\sigma\big(W^{l}_{\mathrm{self}}\, h^{l-1}_{v} + b^{l} + a^{l}_{v}\big)\Big)")
MESSAGE_TEX = r"m^{l}_{u\to v} = W^{l}_{\mathrm{msg}}\; \phi\big(h^{l-1}_{u},\, z^{l-1}_{r}\big)\; w_{uv}"


def update_latex(numbers: dict[str, float], layer: int, aggregation: str = "mean") -> list[str]:
    """LaTeX: the message, aggregation and update equations at ``layer``, then the update again with
    this task's own sizes ‖·‖ written under each term."""

    def at_layer(tex: str) -> str:
        return tex.replace("^{l-1}", "^{" + str(layer - 1) + "}").replace("^{l}", "^{" + str(layer) + "}")

    def brace(tex: str, value: float) -> str:
        return rf"\underbrace{{{tex}}}_{{{value:.2f}}}"

    prev, new = rf"h^{{{layer - 1}}}_{{v}}", rf"h^{{{layer}}}_{{v}}"
    agg = brace(rf"a^{{{layer}}}_{{v}}", numbers["aggregate"])
    if "self" in numbers:
        inner = brace(rf"W^{{{layer}}}_{{\mathrm{{self}}}} {prev} + b^{{{layer}}}", numbers["self"]) + " + " + agg
        body = brace(brace(prev, numbers["h_prev"]) + " + " + brace(rf"\sigma\big({inner}\big)",
                                                                   numbers["activated"]), numbers["residual"])
    else:
        body = brace(prev, numbers["h_prev"]) + rf" + \sigma\big(W^{{{layer}}}_{{\mathrm{{self}}}} {prev} + " \
                                                  rf"b^{{{layer}}} + {agg}\big)"
    sized = rf"{new} = \operatorname{{LayerNorm}}\Big({body}\Big)\;\Rightarrow\;\|{new}\| = {numbers['h']:.2f}"
    return [at_layer(MESSAGE_TEX), at_layer(AGGREGATE_TEX.get(aggregation, AGGREGATE_TEX["mean"])),
            at_layer(UPDATE_TEX), sized]


CLOSING_TEX = (r"m_{u\to v} = \alpha_{uv}\; \tau_{r} \odot t_{u}",
               r"\alpha_{uv} = \operatorname{softmax}_{u}\big(\log w_{uv} + b_{r}\big)",
               r"t_{v} = \sum_{u \in \mathcal{N}(v)} m_{u\to v}\quad\text{(a fixed point: } t_u "
               r"\text{ of a task without data is its own such sum)}")


def closing_latex(trace: Trace, task: str) -> list[str]:
    """LaTeX for a task without data at the last layer: its embedding is the fixed point of its neighbours'
    last states, each scaled by its relation's τ_r (docs/DESIGN.md §2.4), with its own sizes."""
    v = trace.index(task)
    inc = trace.incoming(task, trace.n_layers)
    total = float(np.linalg.norm(trace.layers[-1, v]))
    largest = float(np.max(inc["norm"])) if len(inc["norm"]) else 0.0
    sized = (rf"t_{{v}} = \underbrace{{\textstyle\sum_u m_{{u\to v}}}}_{{{len(inc['source'])}\ \text{{terms, largest }}"
             rf"{largest:.2f}}}\;\Rightarrow\;\|t_{{v}}\| = {total:.2f}")
    return [*CLOSING_TEX, sized]
