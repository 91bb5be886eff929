"""Task graph: draw, select, connect and edit tasks; generate, lay out, import and export graphs."""

import streamlit as st

from ragviz.ui.graph_editor import (
    HOW_TO,
    action_panel,
    graph_version,
    graph_view,
    model_note,
    notice_toasts,
    toolbar,
)
from ragviz.ui.graph_tables import tables_tab
from ragviz.ui.graph_tools import generate_tab, io_tab, layout_tab, preview_tab
from ragviz.ui.projector import beside_figure, tucked
from ragviz.ui.routing import page_state

state = page_state()
st.title("Task graph")
st.caption(HOW_TO)
notice_toasts(state)
model_note(state)
version = graph_version(state)
with tucked("Toolbar: new graph, undo, redo, colours"):
    color_by = toolbar(state)

figure_col, panel_col = beside_figure([3, 1.3], "Selected tasks, add a task, relations")
with figure_col:
    graph_view(state, color_by)
with panel_col:
    action_panel(state, version)

with tucked("Tables, generate, layout, import / export, data preview"):
    # Keyed and tracked, so a widget changed inside a tab reruns the page with that tab still open.
    tables, generate, layout, io, preview = st.tabs(
        ["Tables", "Generate", "Layout", "Import / export", "Data preview"], key="tg_tabs", on_change="rerun")
    with tables:
        tables_tab(state, version)
    with generate:
        generate_tab(state, version)
    with layout:
        layout_tab(state, version)
    with io:
        io_tab(state, version)
    with preview:
        preview_tab(state, version)
