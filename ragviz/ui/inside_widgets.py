"""What the three "looking inside" pages share: getting a trace (or saying why there is none)
and the focus task, picked in a selectbox or by clicking a figure.

The focus task is one per session (the state's ``focus``), so it follows the user from Message
passing to Embeddings to Task outputs.
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.model_fit import ZERO_SHOT_MEANING
from ragviz.inspection.trace import Trace
from ragviz.plots.messages import focus_from_event
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.ui.model_banner import session_fit
from ragviz.ui.routing import CHECKPOINTS, HOME, TRAIN
from ragviz.ui.state import AppState, get_state, get_trace, set_widget_value, widget_value

NO_MODEL = ("There is no trained model yet, so there is nothing to look inside. Train one on the **Train** page, "
            "or open a trained sample on **Home** or a checkpoint on **Checkpoints**.")


def _links() -> None:
    cols = st.columns(3)
    for col, (page, label) in zip(cols, ((TRAIN, "Train a model"), (HOME, "Open a sample"),
                                         (CHECKPOINTS, "Open a checkpoint")), strict=True):
        col.page_link(page.path, label=label, icon=page.icon)


def current_trace(state: AppState, graph: TaskGraph | None = None) -> Trace | None:
    """The session model's trace on ``graph`` (default: the project graph), or None after saying why."""
    if not state.trained:
        running = state.run is not None and state.run.alive
        st.info(("A model is training on the **Train** page; this page fills in when it finishes. "
                 if running else "") + NO_MODEL, icon=":material/info:")
        _links()
        return None
    shown = graph if graph is not None else state.project.graph
    if shown.number_of_tasks() == 0:
        st.info("The task graph has no tasks. Add tasks on the **Task graph** page, or open a sample on **Home**.",
                icon=":material/hub:")
        return None
    if graph is None and not session_fit(state).can_look_inside:
        # The banner above says why; showing the same guess for every task would look like a result.
        st.info("Nothing to show here until a model is trained on this graph (or the trained one's graph is "
                "back: **Undo** on the Task graph page).", icon=":material/sync_problem:")
        _links()
        return None
    try:
        trace = get_trace(state, shown)
    except RagvizError as err:
        st.error(f"The trained model cannot run on this graph: {md_escape(err)}", icon=":material/error:")
        st.caption("Undo the edit on the **Task graph** page, or train again on the **Train** page so the model "
                   "learns the new relations.")
        return None
    return trace


#: What a blending decoder means for the states these pages draw (docs/DESIGN.md §2).
BLEND_NOTE = ("With the **{decoder}** decoder a task without data is predicted by blending the heads of its "
              "nearest tasks with data along its edges. Its own state, "
              "drawn here, is computed by the same layers but no loss trains it: it decides its prediction only "
              "when no task with data can be reached. Read the ★ tasks' positions here with that in mind.")
#: What decides a zero-shot prediction in the default model (docs/DESIGN.md §2).
PROPAGATED_NOTE = ("A ★ task without data starts (layer 0) where its relations put it: the weighted mean of its "
                   "neighbours' states, until the values settle. The layers refine it like any other state; at the "
                   "last layer it is again the weighted mean of its neighbours' last states, each moved by its "
                   "relation's transform, and its predictor is generated from that state alone: what you see here "
                   "is what decides its prediction.")


def blend_note(state: AppState) -> None:
    """Say what produces a zero-shot prediction: blended heads beside the GNN, or the task's own states."""
    if not state.trained:
        return
    model = state.trained.model
    if not model.decoder.generates_every_head and model.config.decoder != "independent":
        st.caption(BLEND_NOTE.format(decoder=md_escape(model.config.decoder)))
    elif model.config.unseen_state == "propagated":
        st.caption(PROPAGATED_NOTE)


def default_focus(trace: Trace) -> str:
    """A zero-shot task when there is one (the interesting case), else the first task."""
    zero = [n for n, z in zip(trace.task_names, trace.zero_shot, strict=True) if z]
    return zero[0] if zero else trace.task_names[0]


def chart_key(prefix: str, focus: str) -> str:
    """A figure widget per focus task: after a click moves the focus, the next click is a fresh event."""
    return f"{prefix}_chart_{hashlib.sha1(focus.encode()).hexdigest()[:10]}"


def resolve_focus(names: list[str], stored: Any, picked: Any, event: Any, default: str) -> str:
    """The focus after this rerun: a changed selectbox wins, then a click on the figure, then what was kept.

    Pure, so the page's wiring of selectbox and clicks is tested without a browser.
    """
    current = stored if stored in names else default
    if picked in names and picked != current:
        return str(picked)
    clicked = focus_from_event(event, names)
    if clicked is not None and clicked != current:
        return clicked
    return current


def focus_picker(trace: Trace, prefix: str, label: str = "Task", container: Any = st) -> str:
    """The focus task: a selectbox, kept in step with clicks on the page's figure (see :func:`chart_key`)."""
    names = trace.task_names
    widget = f"{prefix}_focus"
    state = get_state()
    stored = state.focus if state.focus in names else default_focus(trace)
    focus = resolve_focus(names, stored, widget_value(widget), widget_value(chart_key(prefix, stored)), stored)
    state.focus = focus
    set_widget_value(widget, focus)
    zero = _zero(trace)
    container.selectbox(label, names, key=widget, format_func=lambda n: f"{n} ★" if n in zero else n,
                        help=f"Pick a task here or click one in the figure. {ZERO_SHOT_MEANING}.")
    return focus


def _zero(trace: Trace) -> set[str]:
    return {n for n, z in zip(trace.task_names, trace.zero_shot, strict=True) if z}


def plotly_config() -> dict[str, Any]:
    return {"displaylogo": False, "scrollZoom": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}
