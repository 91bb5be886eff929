"""Editable task and edge tables that stay in step with the drawing.

``st.data_editor`` keeps its edits in widget state; each table's key carries the graph
version, so once an edit is applied (the graph changes) the editor starts again from the
new graph, and an edit is never applied twice. A refused edit leaves the graph alone and
offers to discard the table's edits.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ragviz.graph.schema import ZERO_SHOT_COLUMN, param_key
from ragviz.graph.selection import ROW_ID, apply_edge_table, apply_node_table, edge_table, node_table
from ragviz.graph.tasks import FAMILY_DOMAIN
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.ui.graph_edits import commit
from ragviz.ui.projector import table_height, table_key
from ragviz.ui.state import AppState


def _discard_button(state: AppState, which: str) -> None:
    if st.button(f"Discard the {which} table's edits", key=f"tg_discard_{which}", icon=":material/restart_alt:"):
        state.table_nonce += 1
        st.rerun()


def _apply(state: AppState, which: str, table: pd.DataFrame, edited: pd.DataFrame) -> None:
    """Turn an edited table into a new graph, once; show the problem if it is refused."""
    if edited.equals(table):
        return
    apply = apply_node_table if which == "task" else apply_edge_table
    try:
        new = apply(state.project.graph, edited)
        if new != state.project.graph:
            commit(state, new, f"Applied your edits to the {which} table.")
    except RagvizError as err:
        st.error(f"{md_escape(err)} Nothing was changed; fix the row or discard the edits.")
        _discard_button(state, which)


def node_editor(state: AppState, version: str) -> None:
    graph = state.project.graph
    table = node_table(graph)
    params = [c for c in table.columns if param_key(c) is not None]
    domain = graph.domain
    families = [f for f, d in FAMILY_DOMAIN.items() if domain is None or d == domain]
    config = {
        ROW_ID: st.column_config.TextColumn("original name", disabled=True),
        "name": st.column_config.TextColumn("name", required=True, help="Unique task name"),
        "family": st.column_config.SelectboxColumn("family", options=families, help="Data family"),
        "train_size": st.column_config.NumberColumn("train", min_value=0, max_value=100_000, step=1,
                                                    help="0 = zero-shot"),
        "test_size": st.column_config.NumberColumn("test", min_value=0, max_value=100_000, step=1),
        "seed": st.column_config.NumberColumn("seed", min_value=0, step=1),
        ZERO_SHOT_COLUMN: st.column_config.CheckboxColumn("zero-shot ★", disabled=True,
                                                     help="Set train to 0 to make a task zero-shot"),
        "x": st.column_config.NumberColumn("x", format="%.2f"),
        "y": st.column_config.NumberColumn("y", format="%.2f"),
        **{c: st.column_config.Column(param_key(c), help="Parameter; empty = family default")
           for c in params},
    }
    order = ["name", "family", "train_size", "test_size", "seed", ZERO_SHOT_COLUMN, *params, "x", "y"]
    st.markdown(f"**Tasks** ({len(table)})")
    edited = st.data_editor(table, key=table_key(f"tg_nodes_{version}_{state.table_nonce}"), num_rows="dynamic",
                            hide_index=True, column_order=order, column_config=config, width="stretch",
                            height=table_height(len(table), 420, extra=38), placeholder="")
    _apply(state, "task", table, edited)


def edge_editor(state: AppState, version: str) -> None:
    graph = state.project.graph
    table = edge_table(graph)
    config = {
        ROW_ID: st.column_config.TextColumn("original edge", disabled=True),
        "source": st.column_config.SelectboxColumn("source", options=graph.task_names(), required=True),
        "target": st.column_config.SelectboxColumn("target", options=graph.task_names(), required=True),
        "relation": st.column_config.SelectboxColumn("relation", options=list(graph.relations), required=True),
        "weight": st.column_config.NumberColumn("weight", min_value=0.0, format="%.3g", default=1.0),
        "directed": st.column_config.CheckboxColumn("directed", disabled=True,
                                                    help="A property of the relation (see Relations)"),
    }
    st.markdown(f"**Edges** ({len(table)})")
    edited = st.data_editor(table, key=table_key(f"tg_edges_{version}_{state.table_nonce}"), num_rows="dynamic",
                            hide_index=True, column_order=["source", "target", "relation", "weight", "directed"],
                            column_config=config, width="stretch", height=table_height(len(table), 420, extra=38),
                            placeholder="")
    _apply(state, "edge", table, edited)


def tables_tab(state: AppState, version: str) -> None:
    st.caption("Edit cells, add rows at the bottom, or select rows and delete them; every change is applied to "
               "the graph at once (and can be undone). A task with edges can only be deleted once its edges are.")
    node_editor(state, version)
    left, _ = st.columns([3, 2])
    with left:
        edge_editor(state, version)

