"""On Task outputs, while a lesson is open: its model beside its contrast, on the tasks the claim is about.

Left, what the sample build recorded over the report seeds (the claim's evidence, weakest seed
marked); right, the same comparison on this session's models, task by task, once the contrast
has been trained here (one click, through the normal run queue).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ragviz.lesson_view import claim_tasks, per_task_comparison
from ragviz.safe_text import md_escape
from ragviz.trace import Trace
from ragviz.ui.lesson_panel import SAME_MODEL, contrast_button, contrast_figures, lesson_contrast
from ragviz.ui.lesson_state import open_lesson
from ragviz.ui.output_widgets import baseline_trace
from ragviz.ui.state import AppState


def _metrics(trace: Trace) -> dict[str, float]:
    return dict(zip(trace.task_names, trace.test_metric.astype(float).tolist(), strict=True))


def _live_table(state: AppState, trace: Trace, key: str, model_label: str, contrast_label: str) -> None:
    """This session's model and contrast side by side on the claim's tasks, or the button that trains the contrast."""
    contrast = lesson_contrast(key)
    graph = state.project.graph
    claim = claim_tasks(key, graph)
    ours = _metrics(trace)
    if contrast == SAME_MODEL:
        table = per_task_comparison(trace.task_names, trace.zero_shot, ours, ours, claim, "this model", "_")
        table = table.drop(columns="_").iloc[:-1]
        st.markdown("**This model now**, on both rings' zero-shot tasks")
    elif state.baseline is not None and state.baseline.name == contrast:
        base = baseline_trace(state, graph)
        if base is None:
            st.caption("The contrast trained here cannot run on the graph as it is now (edited since?). Train it "
                       "again to compare.")
            contrast_button(state, key, "page")
            return
        table = per_task_comparison(trace.task_names, trace.zero_shot, ours, _metrics(base), claim, model_label,
                                    contrast_label)
        st.markdown("**Trained in this session**, same data and seed")
    else:
        st.markdown("**In this session**")
        st.caption("Train the contrast to see it here beside the model, task by task (a minute or less).")
        contrast_button(state, key, "page")
        return
    numbers = {c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[2:]}
    st.dataframe(table, hide_index=True, width="stretch", column_config=numbers, key="lesson_live",
                 height=min(35 * (len(table) + 1) + 3, 250))
    st.caption("★ zero-shot. " + ("Lower is better (MSE)." if trace.metric == "mse" else "Accuracy."))


def lesson_contrast_section(state: AppState, trace: Trace) -> None:
    """The open lesson's model vs contrast: recorded over seeds, and live once trained here."""
    key = open_lesson(state)
    figures = contrast_figures(key)
    if key is None or figures is None:
        return
    with st.container(border=True, key="lesson_contrast"):
        st.markdown(f"**The lesson's contrast: {md_escape(figures.model_label)} vs "
                    f"{md_escape(figures.contrast_label)}** · {md_escape(figures.metric)} · tasks framed in orange")
        recorded_col, live_col = st.columns([1.1, 1], gap="medium")
        with recorded_col:
            st.markdown(f"**Recorded** over seeds {', '.join(map(str, figures.seeds))}")
            table = figures.table()
            st.dataframe(table, hide_index=True, width="stretch", key="lesson_recorded",
                         column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]})
            verdict = "holds on every seed" if figures.holds else "does not hold on every seed"
            st.caption(md_escape(f"Rule: {figures.requirement}. It {verdict}. Means: {figures.model_label} "
                                 f"{np.nanmean(figures.model):.3f}, {figures.contrast_label} "
                                 f"{np.nanmean(figures.contrast):.3f}."))
        with live_col:
            _live_table(state, trace, key, figures.model_label, figures.contrast_label)
