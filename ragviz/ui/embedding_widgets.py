"""The Embeddings page's parts: what to project and how, the animated 2-D map, nearest neighbours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.model_fit import ZERO_SHOT_MEANING
from ragviz.inspection.projection import (
    METRICS,
    explained_variance,
    frame_subset,
    nearest_neighbours,
    project_embeddings,
    snapshot_frames,
)
from ragviz.inspection.trace import Trace
from ragviz.plots.colors import default_color_by
from ragviz.plots.embeddings import color_choices, embedding_colors, embedding_figure, hover_texts
from ragviz.plots.light import is_light
from ragviz.plots.messages import hop_distances
from ragviz.safety.safe_text import md_escape
from ragviz.training.history import History
from ragviz.ui.figure_cache import cached_figure
from ragviz.ui.inside_widgets import chart_key, focus_picker, plotly_config
from ragviz.ui.lesson_state import marked_tasks
from ragviz.ui.projector import beside_figure, for_screen, table_slot
from ragviz.ui.state import AppState, graph_key

PREFIX = "em"
VIEWS = {"Across layers": "layers", "Across training": "training"}
METHODS = {"PCA": "pca", "t-SNE": "tsne"}
HOW_TO = ("Every task's embedding, drawn in 2-D. Across layers: where message passing moves each task, from its "
          "input h⁰ to its task embedding t = h^L. Across training: where the tasks were at each evaluation. "
          "Every task's predictor is generated from its task embedding, so tasks with similar predictors should land "
          "close together (with the blended or mix decoders, see the note for tasks without data ★). Click a task "
          "(or pick it) to list its nearest neighbours.")


@dataclass
class Frames:
    """What one view projects: K frames of N tasks, with labels, colours' data and the graph for hover."""

    arrays: np.ndarray  # (K, N, d)
    names: list[str]
    zero_shot: list[bool]
    labels: list[str]
    metric: np.ndarray  # (N,) or (K, N)
    graph: TaskGraph | None


@st.cache_data(max_entries=24, show_spinner="Projecting the embeddings…")
def projected(arrays: np.ndarray, method: str, seed: int) -> np.ndarray:
    """Cached across reruns: t-SNE takes about a second, and the page reruns on every click."""
    return project_embeddings(arrays, method, seed)


def layer_label(layer: int, n_layers: int) -> str:
    if layer == 0:
        return "h⁰: input (own vector, or u for zero-shot)"
    return f"h{_sup(layer)}: task embedding t" if layer == n_layers else f"h{_sup(layer)}: after layer {layer}"


def _sup(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def layer_frames(state: AppState, trace: Trace) -> Frames:
    labels = [layer_label(k, trace.n_layers) for k in range(trace.n_layers + 1)]
    return Frames(trace.layers, trace.task_names, [bool(z) for z in trace.zero_shot], labels,
                  np.asarray(trace.test_metric, dtype=float), state.project.graph)


def training_frames(state: AppState, layer: int) -> Frames | None:
    history = state.history
    if history is None or not history.snapshots:
        return None
    arrays, labels, metric = snapshot_frames(history, layer)
    graph = state.trained.graph if state.trained else state.project.graph
    zero = set(history.zero_shot)
    return Frames(arrays, list(history.tasks), [n in zero for n in history.tasks], labels, metric, graph)


def controls(state: AppState, trace: Trace) -> dict:
    """View, projection, colouring and focus, on two rows."""
    c_view, c_method, c_seed, c_color = st.columns([1.6, 1.2, 0.9, 1.3], vertical_alignment="bottom")
    view = VIEWS[c_view.radio("Show", list(VIEWS), key="em_view", horizontal=True,
                              help="Across layers: one model, its layers h⁰…h^L. Across training: the task "
                                   "embeddings saved at each evaluation while training.")]
    method = METHODS[c_method.radio("Projection", list(METHODS), key="em_method", horizontal=True,
                                    help="PCA is linear and exact; t-SNE keeps neighbours together but distorts "
                                         "distances. Every frame is projected together, so paths are comparable.")]
    seed = int(c_seed.number_input("t-SNE seed", 0, 10_000, 0, key="em_seed", disabled=method != "tsne"))
    options = color_choices(state.project.graph)
    color_by = c_color.selectbox("Colour tasks by", options, key=f"em_color_{'|'.join(options)}",
                                 index=options.index(default_color_by(state.project.graph)),
                                 format_func=lambda o: "test metric" if o == "metric" else o)
    c_focus, c_layer, c_paths = st.columns([2, 2, 1.2], vertical_alignment="bottom")
    focus = focus_picker(trace, PREFIX, "Focus task", c_focus)
    layer = trace.n_layers
    if view == "training" and trace.n_layers:
        # A horizontal radio names every layer (a slider labels only the ends and the current one).
        layer = int(c_layer.radio("Layer of each snapshot", list(range(trace.n_layers + 1)),
                                  index=trace.n_layers, key=f"em_snap_layer_{trace.n_layers}", horizontal=True,
                                  format_func=lambda k: layer_label(k, trace.n_layers).split(":")[0]))
    paths = c_paths.checkbox("Show paths", value=True, key="em_paths", help="Each task's path through the frames.")
    return {"view": view, "method": method, "seed": seed, "color_by": color_by, "focus": focus, "layer": layer,
            "paths": paths}


def frame_picker(frames: Frames, view: str) -> int:
    """A slider over the frames (layers or training steps); the last one first."""
    k = len(frames.labels)
    if k == 1:
        return 0
    key = f"em_frame_{view}_{k}"
    return int(st.select_slider("Layer" if view == "layers" else "Training step", list(range(k)), value=k - 1,
                                key=key, format_func=lambda i: frames.labels[i]))


def _axis_titles(arrays: np.ndarray, method: str) -> tuple[str, str]:
    if method == "tsne":
        return "t-SNE 1", "t-SNE 2"
    ratio = explained_variance(arrays)
    return f"PC 1 ({ratio[0]:.0%} of variance)", f"PC 2 ({ratio[1]:.0%})"


#: (projected points, colours, their key traces, every frame's hover, axis titles): see :func:`map_parts`.
MapParts = tuple[np.ndarray, Any, Any, list[list[str]], tuple[str, str]]


def map_parts(trace: Trace, frames: Frames, opts: dict) -> MapParts:
    """What the map draws that no focus, frame or lesson mark changes: the projected points, the colours
    and their key, every frame's hover, the axis titles."""
    points = projected(np.ascontiguousarray(frames.arrays, dtype=np.float32), opts["method"], opts["seed"])
    colors, key = embedding_colors(frames.names, opts["color_by"], frames.graph, frames.zero_shot, frames.metric,
                                   trace.metric)
    hover = [hover_texts(frames.names, frames.graph, label,
                         frames.metric[i] if frames.metric.ndim == 2 else frames.metric, trace.metric,
                         frames.zero_shot) for i, label in enumerate(frames.labels)]
    return points, colors, key, hover, _axis_titles(frames.arrays, opts["method"])


def map_figure(trace: Trace, frames: Frames, opts: dict, current: int,
               parts: MapParts | None = None) -> go.Figure:
    """The projected frames with their colours and hover, frame ``current`` shown (``parts``: from
    :func:`map_parts`, when kept)."""
    points, colors, key, hover, titles = parts if parts is not None else map_parts(trace, frames, opts)
    return embedding_figure(points, frames.names, colors, frames.zero_shot, current, frames.labels, hover,
                            opts["focus"], opts["paths"], key, titles, marked=opts.get("marked"))


def map_panel(trace: Trace, frames: Frames, opts: dict, history: History | None = None) -> None:
    """The projected frames, with the frame slider and the play button."""
    keep = frame_subset(len(frames.labels), len(frames.names)) if opts["method"] == "tsne" else \
        list(range(len(frames.labels)))
    if len(keep) < len(frames.labels):
        st.caption(f"t-SNE on {len(keep)} evenly spaced of the {len(frames.labels)} snapshots, to stay quick.")
    frames = Frames(frames.arrays[keep], frames.names, frames.zero_shot, [frames.labels[i] for i in keep],
                    frames.metric[keep] if frames.metric.ndim == 2 else frames.metric, frames.graph)
    current = frame_picker(frames, opts["view"])
    # What the figure shows: the trace or the history its frames come from, the graph, every option.
    shared = (opts["view"], opts["method"], opts["seed"], opts["color_by"], opts["layer"], tuple(keep),
              graph_key(frames.graph) if frames.graph is not None else "")
    # A new focus task (or frame) rebuilds the figure only: the projection, colours and hover are kept.
    parts = cached_figure("embedding_parts", (trace, history), shared, lambda: map_parts(trace, frames, opts))
    values = (*shared, opts["focus"], opts["paths"], current, tuple(sorted(opts.get("marked") or ())))
    fig = cached_figure("embeddings", (trace, history), values,
                        lambda: map_figure(trace, frames, opts, current, parts))
    st.plotly_chart(for_screen(fig), key=chart_key(PREFIX, opts["focus"]), on_select="rerun",
                    selection_mode=("points",), config=plotly_config())
    play = "the slider above picks the frame" if is_light(len(frames.names)) else "▶ animates every frame"
    st.caption(f"Grey lines: each task's path through the frames (dotted black: the focus task's) · {play} · "
               f"{ZERO_SHOT_MEANING}.")


def neighbours_table(trace: Trace, focus: str, metric: str, k: int) -> pd.DataFrame:
    """The focus task's nearest tasks by t_v, with how far apart they are in the graph."""
    table = nearest_neighbours(trace.embeddings, trace.task_names, focus, metric, k)
    hops = hop_distances(trace, focus)
    zero = {n for n, z in zip(trace.task_names, trace.zero_shot, strict=True) if z}
    return pd.DataFrame({
        "task": [f"{t} ★" if t in zero else t for t in table["task"]],
        "distance": table["distance"],
        "hops": [str(hops[t]) if t in hops else "—" for t in table["task"]],
    })


def neighbours_panel(trace: Trace, focus: str) -> None:
    star = " ★" if trace.zero_shot[trace.index(focus)] else ""
    st.markdown(f"#### Nearest to {md_escape(focus)}{star}")
    c_metric, c_k = st.columns(2)
    metric = c_metric.radio("Distance", METRICS, key="em_metric", horizontal=True,
                            help="Cosine: the angle between embeddings. Euclidean: straight-line distance.")
    top = max(1, len(trace.task_names) - 1)
    k = int(c_k.number_input("How many", 1, top, min(5, top), key=f"em_k_{top}"))
    if len(trace.task_names) < 2:
        st.caption("There is only one task.")
        return
    with table_slot("em_neighbours"):
        st.dataframe(neighbours_table(trace, focus, metric, k), hide_index=True, width="stretch", placeholder="",
                     column_config={"distance": st.column_config.NumberColumn(format="%.3f")})
    st.caption("Measured on the task embeddings t = h^L of the current model in all their dimensions, not on "
               "the 2-D picture. Hops: how many edges apart the two tasks are in the graph (— : not connected). "
               f"{ZERO_SHOT_MEANING}.")


def embeddings_view(state: AppState, trace: Trace) -> None:
    opts = controls(state, trace)
    opts["marked"] = marked_tasks(state)
    if opts["view"] == "layers":
        frames = layer_frames(state, trace)
    else:
        frames = training_frames(state, opts["layer"])
        if frames is None:
            st.info("This model has no embedding snapshots from training (a checkpoint without them, or a graph too "
                    "big to snapshot). Showing the layers instead.", icon=":material/info:")
            frames = layer_frames(state, trace)
            opts["view"] = "layers"
    map_col, table_col = beside_figure([3, 1.6], "Nearest neighbours")
    with map_col:
        map_panel(trace, frames, opts, state.history if opts["view"] == "training" else None)
    with table_col:
        neighbours_panel(trace, opts["focus"])
