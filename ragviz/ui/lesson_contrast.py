"""On Task outputs, while a lesson is open: its model beside its contrast, on the tasks the claim is about.

Left, what the sample build recorded over the report seeds (the claim's evidence, weakest seed
marked); right, the same comparison on this session's models, task by task, once the contrast
has been trained here (one click, through the normal run queue).
"""

from __future__ import annotations

import streamlit as st

from ragviz.inspection.trace import Trace
from ragviz.lessons.view import claim_tasks, per_task_comparison
from ragviz.safety.safe_text import md_escape
from ragviz.training.runner import RunStatus
from ragviz.ui.lesson_panel import SAME_MODEL, contrast_button, contrast_figures, lesson_contrast
from ragviz.ui.lesson_state import open_lesson
from ragviz.ui.output_widgets import baseline_trace
from ragviz.ui.projector import figure_columns, projector_on, table_height, table_slot
from ragviz.ui.state import AppState


def _metrics(trace: Trace) -> dict[str, float]:
    return dict(zip(trace.task_names, trace.test_metric.astype(float).tolist(), strict=True))


def _live_table(state: AppState, trace: Trace, key: str, model_label: str, contrast_label: str) -> bool:
    """This session's model and contrast side by side on the claim's tasks; False when the contrast is not here."""
    contrast = lesson_contrast(key)
    graph = state.project.graph
    claim = claim_tasks(key, graph)
    ours = _metrics(trace)
    if contrast == SAME_MODEL:
        table = per_task_comparison(trace.task_names, trace.zero_shot, ours, ours, claim, "this model", "_")
        table = table.drop(columns="_").iloc[:-1]
        what = "This model now, on both rings' zero-shot tasks"
    elif state.baseline is not None and state.baseline.name == contrast:
        base = baseline_trace(state, graph)
        if base is None:
            st.caption("The contrast trained here cannot run on the graph as it is now (edited since?). Train it "
                       "again to compare.")
            return False
        table = per_task_comparison(trace.task_names, trace.zero_shot, ours, _metrics(base), claim, model_label,
                                    contrast_label)
        what = "Trained in this session, same data and seed"
    else:
        return False
    numbers = {c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[2:]}
    st.markdown(f"**{what}** (★ zero-shot; {'lower is better' if trace.metric == 'mse' else 'accuracy'})")
    with table_slot("lesson_live"):
        st.dataframe(table, hide_index=True, width="stretch", column_config=numbers, key="lesson_live",
                     height=table_height(len(table), 250))
    return True


@st.fragment(run_every=1.0)
def _progress(state: AppState) -> None:
    """Where the run is, here where it was started (the shell's watcher takes it in when it ends)."""
    run = state.run
    if run is None:
        return
    snap = run.snapshot()
    if snap.status == RunStatus.QUEUED:
        st.caption(f"Queued: number {snap.queue_place} in line.")
    elif not snap.done:
        what = "the contrast" if snap.phase == "baseline" else "the model"
        st.progress(snap.fraction, text=f"Training {what}: step {snap.step}/{snap.total}")


def lesson_contrast_section(state: AppState, trace: Trace) -> None:
    """The open lesson's model vs contrast: recorded over seeds, and live, task by task, once trained here."""
    key = open_lesson(state)
    figures = contrast_figures(key)
    if key is None or figures is None:
        return
    with st.container(border=True, key="lesson_contrast"):
        # Side by side on a desk; stacked in projector mode, where the larger type would cut the button's label.
        text_col, button_col = (figure_columns(2) if projector_on()
                                else st.columns([3, 1.1], vertical_alignment="center"))
        with text_col:
            verdict = "holds on every seed" if figures.holds else "does not hold on every seed"
            st.markdown(f"**The lesson's contrast: {md_escape(figures.model_label)} vs "
                        f"{md_escape(figures.contrast_label)}** · {md_escape(figures.metric)} · the claim's tasks "
                        "are framed in orange")
            st.caption(md_escape(f"Recorded over seeds {', '.join(map(str, figures.seeds))}: {figures.summary()} "
                                 f"Rule: {figures.requirement}; it {verdict}."))
        with button_col:
            if state.run is not None and state.run.alive:
                _progress(state)
            else:
                contrast_button(state, key, "page")
        live_col, seeds_col = st.columns([1.2, 1], gap="medium")
        with live_col:
            if not _live_table(state, trace, key, figures.model_label, figures.contrast_label):
                st.caption("Train the contrast to see it here beside the model, task by task.")
        with seeds_col, st.expander("Every seed, as recorded"):
            table = figures.table()
            with table_slot("lesson_recorded"):
                st.dataframe(table, hide_index=True, width="stretch", key="lesson_recorded",
                             column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]})
