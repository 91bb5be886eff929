"""The sidebar on every page: current project, device, loaded checkpoint, run status."""

from __future__ import annotations

import streamlit as st

from ragviz.safety.safe_text import md_escape
from ragviz.training.runner import RunStatus
from ragviz.training.train import device_label
from ragviz.ui.lesson_panel import lesson_sidebar
from ragviz.ui.projector import projector_toggle
from ragviz.ui.runs import adopt_finished_run, run_handled, run_offer
from ragviz.ui.state import AppState


@st.cache_resource
def _device() -> str:
    return device_label()


def render_sidebar(state: AppState) -> None:
    graph = state.project.graph
    with st.sidebar:
        lesson_sidebar(state)
        st.markdown(f"**Project:** {md_escape(state.project.name)}")
        st.caption(
            f"{graph.number_of_tasks()} tasks · {graph.number_of_edges()} edges · "
            f"{len(graph.relations)} relations · domain {graph.domain or '—'}"
        )
        st.markdown(f"**Device:** {_device()}")
        model_line = state.trained.source if state.trained else "no trained model yet"
        st.markdown(f"**Model:** {md_escape(model_line)}")
        if state.run is not None and not run_handled(state.run):
            _run_status(state)
        elif state.run is not None:
            st.caption(f"Last run: {state.run.snapshot().status}")
            run_offer(state)
        projector_toggle()


@st.fragment(run_every=1.0)
def _run_status(state: AppState) -> None:
    """Polls the run every second: keeps it alive (heartbeat) and shows where it is.

    Drawn only while a run is going (or not yet taken in): an idle tab must not rerun every
    second, or twenty idle students keep a two-core server busy and their forms sluggish.
    """
    run = state.run
    if run is None:
        return
    if run_handled(run):  # drawn only for a run not taken in: a tick now means the redraw never came
        st.rerun()
    if adopt_finished_run(state):  # the run just ended: take its model, redraw every page once
        st.rerun()
    snap = run.snapshot()
    if snap.status == RunStatus.RUNNING:
        label = "baseline" if snap.phase == "baseline" else "model"
        st.progress(snap.fraction, text=f"Training {label}: step {snap.step}/{snap.total}")
    elif snap.status == RunStatus.QUEUED:
        st.caption(f"Queued: number {snap.queue_place} in line; training starts when the server has a free slot.")
    elif snap.done:
        st.caption(f"Last run: {snap.status}")
