"""The sidebar on every page: current project, device, loaded checkpoint, run status."""

from __future__ import annotations

import streamlit as st

from ragviz.safety.safe_text import md_escape
from ragviz.training.train import device_label
from ragviz.ui.lesson_panel import lesson_sidebar
from ragviz.ui.projector import projector_toggle
from ragviz.ui.run_watcher import run_watcher
from ragviz.ui.runs import run_handled, run_offer
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
        run_watcher(state)  # drawn only while a run is not yet on screen
        if run_handled(state):
            st.caption(f"Last run: {state.run.snapshot().status}")
            run_offer(state)
        projector_toggle()
