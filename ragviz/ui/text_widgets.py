"""Text tasks in the app: example texts, test texts with predictions, and "try your own sentence".

User text (typed sentences, uploaded texts, task and class names) is shown through
``st.dataframe`` and Plotly data only: never as markdown or HTML.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.trace import Trace
from ragviz.plots.text import examples_table, sentence_bars_figure, sentence_pca_figure
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.ui.projector import for_screen, table_slot
from ragviz.ui.state import AppState

MAX_SENTENCE_CHARS = 1000
TEXT_UPLOAD = "tg_text_upload"  # the text-table uploader (its widget key adds a round: see upload_widgets)
EXAMPLE = "The room was tiny and the shower never got warm."


def _texts(graph: TaskGraph, name: str, tables: dict | None) -> object:
    from ragviz.data.text import text_examples

    return text_examples(graph.task(name), tables)


def text_preview(state: AppState, names: list[str]) -> None:
    """Data preview of text tasks: a few training texts (test texts for zero-shot tasks) with labels."""
    graph = state.project.graph
    rows = []
    for name in names:
        try:
            ex = _texts(graph, name, state.project.tables)
        except RagvizError as err:
            st.error(md_escape(f"Task '{name}': {err}"), icon=":material/error:")
            continue
        zero = graph.task(name).zero_shot
        texts, labels = (ex.test_texts, ex.test_labels) if zero else (ex.train_texts, ex.train_labels)
        table = examples_table(texts, labels, ex.classes, limit=4)
        table.insert(0, "task", name + (" ★" if zero else ""))
        rows.append(table)
    if rows:
        st.caption("Example texts with their labels: training texts, or test texts for zero-shot tasks ★.")
        with table_slot("tg_text_preview"):
            st.dataframe(pd.concat(rows, ignore_index=True), hide_index=True, width="stretch",
                         key="tg_text_preview")


def _encode_one(sentence: str) -> np.ndarray:
    from ragviz.data import text_cache, text_encoder

    if text_cache.lookup([sentence])[1] and not text_encoder.is_loaded():
        with st.spinner("Loading the sentence transformer (once per server)…"):
            return text_cache.encode([sentence])[0]
    return text_cache.encode([sentence])[0]


def try_sentence(state: AppState, trace: Trace, graph: TaskGraph) -> None:
    """Type a sentence; every task's class probabilities at once, zero-shot tasks included."""
    from ragviz.data.text import class_names
    from ragviz.inspection.text_predict import sentence_probabilities

    st.markdown("**Try your own sentence**: every task answers at once (★ = zero-shot).")
    with st.form("to_try_sentence", border=False):
        sentence = st.text_input("Sentence", placeholder=EXAMPLE, max_chars=MAX_SENTENCE_CHARS, key="to_sentence",
                                 help="The first new sentence loads the transformer (a few seconds, once per server).")
        st.form_submit_button("Predict", icon=":material/send:")
    sentence = (sentence or "").strip()
    if not sentence:
        st.caption("Type a sentence to see every task's prediction.")
        return
    try:
        vector = _encode_one(sentence)
        probs = sentence_probabilities(state.model, graph, state.project.tables, vector)
        classes = {n: class_names(graph.task(n), state.project.tables) for n in probs}
    except RagvizError as err:
        st.error(md_escape(err), icon=":material/error:")
        return
    zero = [n for n, z in zip(trace.task_names, trace.zero_shot, strict=True) if z]
    st.plotly_chart(for_screen(sentence_bars_figure(probs, classes, zero)), key="to_sentence_bars",
                    config={"displayModeBar": False})


def _say_missing_texts(graph: TaskGraph, name: str, tables: Any) -> None:
    """Say (as plain text) when a text table came without its texts, so "(text not stored)" is explained."""
    from ragviz.storage.text_checkpoint import missing_texts_note

    note = missing_texts_note(graph.task(name), tables)
    if note:
        st.info(md_escape(note), icon=":material/info:")


def _texts_or_say_why(graph: TaskGraph, name: str, tables: Any) -> Any:
    """A task's example texts, or None after saying (as plain text) why there are none."""
    try:
        return _texts(graph, name, tables)
    except RagvizError as err:
        st.error(md_escape(err), icon=":material/error:")
        return None


def test_examples(state: AppState, trace: Trace, graph: TaskGraph) -> None:
    """A few test texts of one task with true and predicted labels."""
    name = st.selectbox("Test texts of task", trace.task_names, key="to_text_task")
    ex = _texts_or_say_why(graph, name, state.project.tables)
    if ex is None:
        return
    _say_missing_texts(graph, name, state.project.tables)
    probs = trace.outputs_test.get(name)
    if probs is None or len(probs) != len(ex.test_texts):
        st.caption("No test predictions for this task.")
        return
    table = examples_table(ex.test_texts, ex.test_labels, ex.classes, probs)
    with table_slot("to_text_examples"):
        st.dataframe(table, hide_index=True, width="stretch", key="to_text_examples",
                     column_config={"P(predicted)": st.column_config.NumberColumn(format="%.2f")})


def text_class_names(state: AppState, trace: Trace, graph: TaskGraph | None, tasks: list[str]) -> dict[str, list[str]]:
    """Text tasks' class names for the confusion matrices' axes (empty for other domains)."""
    from ragviz.data.text import class_names_by_task

    if trace.spec.name != "text":
        return {}
    return class_names_by_task(graph if graph is not None else state.project.graph, state.project.tables, tasks)


def text_outputs_section(state: AppState, trace: Trace, graph: TaskGraph | None = None) -> None:
    """The Task outputs page's text part (the confusion matrices above are the generic ones)."""
    if trace.spec.name != "text" or state.model is None:
        return
    graph = graph if graph is not None else state.project.graph
    st.divider()
    st.subheader("Text tasks")
    try_sentence(state, trace, graph)
    test_examples(state, trace, graph)


def sentence_vectors_section(state: AppState, trace: Trace) -> None:
    """Embeddings page: one task's sentence vectors (PCA) coloured by label."""
    if trace.spec.name != "text":
        return
    graph = state.project.graph
    with st.expander("Sentence vectors of a task's data (PCA)", icon=":material/scatter_plot:"):
        name = st.selectbox("Task", trace.task_names, key="emb_text_task")
        ex = _texts_or_say_why(graph, name, state.project.tables)
        if ex is None:
            return
        _say_missing_texts(graph, name, state.project.tables)
        x = np.concatenate([trace.x_train[name], trace.x_test[name]])
        y = np.concatenate([trace.y_train[name], trace.y_test[name]]).astype(int)
        texts = ex.train_texts + ex.test_texts
        st.plotly_chart(for_screen(sentence_pca_figure(x, y, ex.classes, texts if len(texts) == len(x) else None,
                                                           name)),
                        key="emb_text_pca", config={"displayModeBar": False})
        st.caption("What the model reads for this task's sentences (the frozen transformer's 384-number vectors on "
                   "the corpus's 64 main directions), drawn on their two main axes.")


def text_table_import(state: AppState) -> None:
    """Import a CSV of (text, task, label) rows as a new project of text tasks."""
    from ragviz.data.text import load_text_table
    from ragviz.graph.generators import text_table_graph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.project import Project
    from ragviz.ui.state import notify, set_project
    from ragviz.ui.upload_widgets import file_uploader, real_limit, release_upload, uploader_key

    st.markdown("**Text tasks from a CSV**")
    st.caption("A CSV with a text column, a task column and a label column becomes one text task per task value "
               "(a new project; your current one is replaced). New texts are run through the sentence "
               "transformer once and cached.")
    upload = file_uploader("Text table", "table", type=["csv", "tsv", "txt"], key=uploader_key(state, TEXT_UPLOAD))
    c_text, c_task, c_label = st.columns(3)
    text_col = c_text.text_input("Text column", value="text", key="tg_text_col")
    task_col = c_task.text_input("Task column", value="task", key="tg_text_task_col")
    label_col = c_label.text_input("Label column", value="label", key="tg_text_label_col")
    if upload is None or not st.button(f"Make text tasks from {md_escape(upload.name)}", key="tg_text_import",
                                       icon=":material/upload_file:"):
        return
    bar = st.progress(0.0, text="Encoding sentences…")
    try:
        table = load_text_table(upload, text_col, task_col, label_col, max_bytes=real_limit("table"),
                                progress=lambda done, total: bar.progress(done / max(total, 1),
                                                                          text=f"Encoding sentences: {done}/{total}"))
        graph = text_table_graph(table, "texts")
    except RagvizError as err:
        bar.empty()
        st.error(f"Could not make text tasks: {md_escape(err)} Your project was not changed.", icon=":material/error:")
        return
    finally:
        release_upload(state, TEXT_UPLOAD, upload)  # read: Streamlit need not hold it any longer
    bar.empty()
    set_project(state, Project(graph, ModelConfig(), TrainConfig(), {"texts": table}, name="text tasks"),
                f"text tasks from {upload.name}")
    notify(state, "success", f"Made {graph.number_of_tasks()} text tasks. Link them, make some zero-shot "
                             "(train size 0), then train.")
    st.rerun()
