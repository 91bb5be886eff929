"""The Message passing page's parts: layer and task pickers, the animated graph, one task's view."""

from __future__ import annotations

import streamlit as st

from ragviz.inspection.trace import Trace
from ragviz.plots.colors import relation_colors, task_colors
from ragviz.plots.light import LIGHT_TASKS
from ragviz.plots.messages import (
    closing_latex,
    hop_distances,
    incoming_figure,
    message_figure,
    state_heatmap,
    task_hovers,
    update_latex,
    update_numbers,
)
from ragviz.safety.safe_text import md_escape
from ragviz.ui.figure_cache import cached_figure
from ragviz.ui.inside_widgets import chart_key, focus_picker, plotly_config
from ragviz.ui.lesson_state import marked_tasks
from ragviz.ui.projector import beside_figure, figure_columns, for_screen
from ragviz.ui.state import LAYER_KEY, AppState, graph_key, set_widget_value, widget_value

PREFIX = "mp"
WEIGHT_KEY = "mp_weight"
WEIGHTS = {"attention weight α": "attention", "message norm ‖m‖": "norm"}
HOW_TO = ("Each layer, every task sends a message along each edge (both ways) and to itself, then updates its "
          "state from what it received. Pick a layer and a task, or press ▶ on the figure to watch the layers "
          f"one after another (graphs of up to {LIGHT_TASKS} tasks); click a task (or a message's arrow) to focus "
          "on it.")


def controls(trace: Trace) -> tuple[int, str, str]:
    """Layer, focus task and what sets the edge widths, on one row."""
    layer_col, task_col, weight_col = st.columns([2.2, 2, 1.6], vertical_alignment="bottom")
    layer = layer_picker(trace, layer_col)
    focus = focus_picker(trace, PREFIX, "Focus task", task_col)
    if trace.attention is not None:
        choice = weight_col.radio("Edge width", list(WEIGHTS), key=WEIGHT_KEY, horizontal=True,
                                  help="This model aggregates by attention: each message's weight α in its receiver's "
                                       "softmax, or the message's size ‖m‖.")
        weight_by = WEIGHTS[choice]
    else:
        weight_col.caption("Edge width: message norm ‖m‖, relative to the layer's largest message.")
        weight_by = "norm"
    return layer, focus, weight_by


def layer_picker(trace: Trace, container: st.delta_generator.DeltaGenerator) -> int:
    """A choice of layer 1…L, every one named (layer l turns h^{l−1} into h^l)."""
    options = list(range(1, trace.n_layers + 1))
    if len(options) == 1:
        container.markdown("**Layer 1** (this model has one message-passing layer)")
        return 1
    if widget_value(LAYER_KEY) not in options:
        set_widget_value(LAYER_KEY, 1)
    # A horizontal radio names every layer (a slider labels only the ends and the current one).
    return int(container.radio("Layer", options=options, key=LAYER_KEY, horizontal=True,
                               format_func=lambda k: f"layer {k}",
                               help="Layer l turns every task's state h^(l−1) into h^l."))


def graph_panel(state: AppState, trace: Trace, layer: int, focus: str, weight_by: str) -> None:
    graph = state.project.graph
    marked = marked_tasks(state)
    content = graph_key(graph)
    # The tasks' colours and hover change with the graph only: a new focus or layer rebuilds the figure alone.
    colors, hover = cached_figure("message_parts", (trace,), (content,),
                                  lambda: (task_colors(graph), task_hovers(trace, graph)))
    values = (content, layer, focus, weight_by, tuple(sorted(marked or ())))
    fig = cached_figure("message_passing", (trace,), values, lambda: message_figure(
        trace, graph, layer, focus, weight_by, colors=colors, marked=marked, hover=hover))
    st.plotly_chart(for_screen(fig), key=chart_key(PREFIX, focus), on_select="rerun", selection_mode=("points",),
                    config=plotly_config())
    st.caption("Every message is a line from its sender, offset to the right of its edge, arrow at the receiver; "
               "colour = relation. Tasks outside the focus task's receptive field at that layer are faded. "
               "Self-loop messages are not drawn: they are in the bar chart.")


def receptive_text(trace: Trace, focus: str, layer: int) -> str:
    """'1 hop: a, b · 2 hops: c' for the tasks that can reach ``focus`` within ``layer`` layers."""
    by_hop: dict[int, list[str]] = {}
    for name, hops in hop_distances(trace, focus).items():
        if 0 < hops <= layer:
            by_hop.setdefault(hops, []).append(name)
    if not by_hop:
        return "no other task: it has no edges, so it only hears itself."
    return " · ".join(f"{h} hop{'s' if h > 1 else ''}: {', '.join(names)}" for h, names in sorted(by_hop.items()))


def focus_panel(state: AppState, trace: Trace, layer: int, focus: str, weight_by: str) -> None:
    """The focus task's incoming messages and its update equation with its own numbers."""
    star = " ★ zero-shot" if trace.zero_shot[trace.index(focus)] else ""
    st.markdown(f"#### {md_escape(focus)}{star}")
    st.caption(f"Receptive field after layer {layer}: {md_escape(receptive_text(trace, focus, layer))}")
    rel_colors = relation_colors(state.project.graph)
    fig = cached_figure("message_incoming", (trace,), (focus, layer, weight_by, tuple(sorted(rel_colors.items()))),
                        lambda: incoming_figure(trace, focus, layer, weight_by, rel_colors))
    st.plotly_chart(for_screen(fig, share=0.6), key="mp_incoming", config={"displaylogo": False})


def equation_panel(state: AppState, trace: Trace, layer: int, focus: str) -> None:
    """The layer's equations, then the update with the focus task's own sizes under each term."""
    aggregation = state.model.config.aggregation if state.model is not None else "mean"
    if trace.closed is not None and trace.closed[trace.index(focus)] and layer == trace.n_layers:
        message, weight, total, sized = closing_latex(trace, focus)
        st.markdown(f"##### Layer {layer}: {md_escape(focus)} has no data, so its embedding is where its "
                    "relations put it")
        for col, line in zip(st.columns([1, 1, 1.35], gap="small"), (message, weight, total), strict=True):
            col.latex(line)
        st.latex(sized)
        st.caption("Each neighbour's last state t_u, scaled by its relation's transform τ_r (learned from the "
                   "relation's embedding: it keeps half the state and scales the other half by ρ_r, −1 for "
                   "a relation that reverses labels) and weighted by α_uv. The bars above are these terms. "
                   "This task's head is generated from t_v alone.")
        return
    message, aggregate, update, sized = update_latex(update_numbers(trace, focus, layer), layer, aggregation)
    st.markdown(f"##### Layer {layer} ({aggregation} aggregation), then with {md_escape(focus)}'s own numbers")
    # Side by side on a desk; one per line in projector mode, where the larger type would clip the update's end.
    for col, line in zip(figure_columns([1, 1, 1.35]), (message, aggregate, update), strict=True):
        col.latex(line)
    st.latex(sized)
    st.caption("Under each term: its size ‖·‖ for this task. φ composes the sender's state with the relation's "
               "embedding z_r; σ is ReLU; LayerNorm keeps every state the same size.")


def heatmap_panel(trace: Trace, layer: int, focus: str) -> None:
    fig = cached_figure("message_heatmap", (trace,), (layer, focus), lambda: state_heatmap(trace, layer, focus))
    st.plotly_chart(for_screen(fig), key="mp_heatmap", config={"displaylogo": False})
    st.caption("Rows are tasks, columns the embedding's dimensions; the focus task is outlined. After the last "
               "layer these rows are the task embeddings t_v that generate each task's predictor.")


def no_layers(trace: Trace) -> None:
    st.info("This model has no message-passing layers (L = 0): each task's embedding is its input h⁰, its own "
            "vector or the shared vector u for zero-shot tasks, so every zero-shot task gets the same predictor.",
            icon=":material/info:")
    st.plotly_chart(for_screen(state_heatmap(trace, 0)), key="mp_heatmap", config={"displaylogo": False})


def message_passing_view(state: AppState, trace: Trace) -> None:
    if trace.n_layers == 0:
        no_layers(trace)
        return
    layer, focus, weight_by = controls(trace)
    graph_col, focus_col = beside_figure([3, 2], "The focus task's incoming messages")
    with graph_col:
        graph_panel(state, trace, layer, focus, weight_by)
    with focus_col:
        focus_panel(state, trace, layer, focus, weight_by)
    equation_panel(state, trace, layer, focus)
    heatmap_panel(trace, layer, focus)
