"""The open lesson beside every page: its claim, "go there" links, its contrast's figures, its text.

Drawn in the sidebar by :func:`lesson_sidebar`. A go-there link sets the focus task (and layer,
and on Task graph the selection) that its page reads, then switches to that page.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from ragviz.lessons.view import TASK_GRAPH, TASK_OUTPUTS, ContrastFigures, GoThere, claim_tasks, go_there_targets
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.ui.lesson_state import close_lesson, keep_lesson_open, lesson_record, lesson_sample, open_lesson
from ragviz.ui.output_widgets import PAGE_SIZE, tasks_pick_key
from ragviz.ui.runs import begin_run
from ragviz.ui.state import FOCUS_PICKERS, LAYER_KEY, AppState, notify, set_widget_value

SAME_MODEL = "same model"


def page_path(page: str) -> str:
    """The page file a go-there target names (the app's navigation table lists the same files)."""
    return f"pages/{page}.py"


def lesson_contrast(key: str | None) -> str | None:
    """The lesson's contrast as a baseline name the run queue trains (``same model``: nothing to train)."""
    record = lesson_record(key)
    lesson = record[1] if record is not None else None
    return getattr(lesson, "contrast", None)


# ----------------------------------------------------------------------------- go there
def go_there(state: AppState, target: GoThere, claim: list[str], pick_key: str | None) -> None:
    """Set what the target page reads (focus task, layer, selection), then ask for the page."""
    if target.task is not None:
        state.focus = target.task
        for widget in FOCUS_PICKERS:  # a stale picker value would win over the state's focus
            set_widget_value(widget, target.task)
        if target.page == TASK_GRAPH:
            state.selection = [target.task]
    if target.layer is not None:
        set_widget_value(LAYER_KEY, target.layer)
    if target.page == TASK_OUTPUTS and pick_key is not None:
        set_widget_value(pick_key, claim[:PAGE_SIZE])
    state.goto = page_path(target.page)


def follow_go_there(state: AppState) -> None:
    """Switch to the page a go-there link asked for (from a callback, where switching is not allowed)."""
    path, state.goto = state.goto, None
    if path:
        st.switch_page(path)


def _links(state: AppState, key: str) -> None:
    graph = state.project.graph
    layers = state.model.config.layers if state.model is not None else state.project.model_config.layers
    claim = claim_tasks(key, graph)
    pick_key = tasks_pick_key(graph.task_names()) if len(graph.task_names()) > PAGE_SIZE else None
    for i, target in enumerate(go_there_targets(key, graph, layers)):
        where = f" · {target.task}" if target.task else ""
        where += f" · layer {target.layer}" if target.layer is not None else ""
        st.button(f"{target.label}", key=f"lesson_go_{i}", icon=":material/arrow_forward:", width="stretch",
                  on_click=go_there, args=(state, target, claim, pick_key), type="tertiary",
                  help=md_escape(f"Opens {target.page.replace('_', ' ').capitalize()}{where}."))


# ----------------------------------------------------------------------------- contrast
def contrast_figures(key: str | None) -> ContrastFigures | None:
    """The lesson's recorded claim over the report seeds, or None when the build recorded none."""
    record = lesson_record(key)
    return ContrastFigures.from_record(record[0], record[1]) if record is not None else None


def train_contrast(state: AppState, key: str, contrast: str) -> None:
    """Queue the lesson's model and its contrast on the same data (the normal run queue and budget)."""
    try:
        begin_run(state, contrast)
    except RagvizError as err:
        notify(state, "error", f"Could not start training the contrast: {err}")
        return
    keep_lesson_open(state, key)


def contrast_button(state: AppState, key: str, where: str) -> None:
    """One click: train the model and the lesson's contrast side by side (or say why it needs none)."""
    contrast = lesson_contrast(key)
    if contrast is None:
        return
    figures = contrast_figures(key)
    label = figures.contrast_label if figures is not None else contrast
    if contrast == SAME_MODEL:
        st.caption(f"The contrast ({md_escape(label)}) is the same trained model on other tasks: nothing to train.")
        return
    running = state.run is not None and state.run.alive
    trained = state.baseline is not None and state.baseline.name == contrast
    st.button("Train it again" if trained else f"Train the contrast ({label})", key=f"lesson_train_{where}",
              icon=":material/model_training:", on_click=train_contrast, args=(state, key, contrast),
              disabled=running, width="stretch",
              help="Trains the model and its contrast on the same data through the normal run queue; then Task "
                   "outputs shows them side by side." if not running else "A training run is going.")


def figures_block(figures: ContrastFigures) -> None:
    st.markdown(f"**Measured** ({md_escape(figures.metric)}; {'lower' if figures.lower_is_better else 'higher'} "
                f"is better)")
    st.caption(md_escape(figures.summary()) + f" Rule: {md_escape(figures.requirement)}: "
               + ("holds." if figures.holds else "**does not hold**."))
    table = figures.table(weakest=" ▼").iloc[:, :3]  # seed, model, contrast: what fits beside a page
    for column in table.columns[1:]:
        table[column] = [f"{v:.3f}" if np.isfinite(v) else "n/a" for v in table[column]]
    st.table(table.set_index("seed"), border="horizontal")
    st.caption("▼ the weakest seed.")


# ----------------------------------------------------------------------------- the panel
def lesson_sidebar(state: AppState) -> None:
    """The open lesson in the sidebar (nothing when none is open)."""
    follow_go_there(state)
    key = open_lesson(state)
    if key is None:
        return
    sample = lesson_sample(key)
    text = sample.lesson if sample is not None else md_escape(state.project.lesson)
    if not text:
        return
    title = sample.title if sample is not None else state.project.name
    with st.container(border=True, key="lesson_panel"):
        st.markdown(f"**Lesson:** {md_escape(title)}")
        if sample is not None:
            st.caption(md_escape(sample.claim))
        _links(state, key)
        figures = contrast_figures(key)
        if figures is not None:
            figures_block(figures)
            contrast_button(state, key, "sidebar")
        with st.expander("The lesson", expanded=True, icon=":material/school:"):
            st.markdown(text)
        st.button("Close the lesson", key="lesson_close", on_click=close_lesson, args=(state,), type="tertiary",
                  icon=":material/close:")
