"""The banner at the top of every page when the graph on screen is not what the model was trained on.

The verdict and its words come from :mod:`ragviz.inspection.model_fit`; this draws them as a warning with
a link to the Train page (left out on the Train page itself, where Start is right below).
"""

from __future__ import annotations

import streamlit as st

from ragviz.inspection.model_fit import Fit, ModelFit, fit_message, model_fit
from ragviz.ui.figure_cache import cached_figure
from ragviz.ui.state import AppState, graph_key


def session_fit(state: AppState) -> ModelFit:
    """How the session's graph relates to its trained model.

    Asked two or three times a rerun on every page; on a 1,000-task graph the comparison costs more
    than hashing the graph, so the verdict is kept for the trained model and the graph's content.
    """
    trained = state.trained
    if trained is None:
        return model_fit(state.project.graph, None)
    model = trained.model
    spec, vocab = getattr(model, "spec", None), getattr(model, "vocab", None)
    graph = state.project.graph
    return cached_figure("session_fit", (trained.graph, model), (graph_key(graph),), lambda: model_fit(
        graph, trained.graph, getattr(spec, "name", None), list(vocab.tasks) if vocab is not None else None))


def training_this_graph(state: AppState) -> bool:
    """A run is going (or queued) on exactly the graph on screen."""
    run = state.run
    return run is not None and run.alive and model_fit(state.project.graph, run.project.graph).matches


def model_banner(state: AppState, train_page: str | None) -> None:
    """Draw the banner when the graph and the model disagree; ``train_page`` is the Train page's path
    (None on the Train page)."""
    fit = session_fit(state)
    if fit.fit in (Fit.MATCH, Fit.NO_MODEL) or state.project.graph.number_of_tasks() == 0:
        return  # with no model at all, the pages that need one say so themselves, with links
    training = training_this_graph(state)
    message = fit_message(fit, training)
    if message is None:
        return
    show = st.info if training else st.warning
    icon = ":material/model_training:" if training else ":material/sync_problem:"
    if train_page is None or training:
        show(message, icon=icon)
        return
    text_col, link_col = st.columns([3.4, 1], vertical_alignment="center")
    with text_col:
        show(message, icon=icon)
    link_col.page_link(train_page, label="Train on this graph", icon=":material/model_training:")
