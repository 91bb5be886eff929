"""ragviz: the entry point. Navigation and the sidebar; every page lives in pages/."""

from __future__ import annotations

import streamlit as st
import torch

from ragviz.ui.sidebar import render_sidebar
from ragviz.ui.state import get_state

st.set_page_config(page_title="ragviz · Relation-Aware Generative model lab", page_icon="🕸️", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/task_graph.py", title="Task graph", icon=":material/hub:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/message_passing.py", title="Message passing", icon=":material/share:"),
    st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
    st.Page("pages/task_outputs.py", title="Task outputs", icon=":material/grid_view:"),
    st.Page("pages/checkpoints.py", title="Checkpoints", icon=":material/inventory_2:"),
]

torch.set_num_threads(1)  # many small sessions: one thread each trains fastest
navigation = st.navigation(PAGES)
state = get_state()
render_sidebar(state)
navigation.run()
