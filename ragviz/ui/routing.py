"""The app's navigation and sidebar, and keeping every page behind them.

Streamlit sees the ``pages/`` folder and, until a script calls ``st.navigation``, runs its old
multipage discovery: on a server's first run (and on every ``AppTest`` run, which resets that
mode) a URL or ``switch_page`` that names a page runs the page file alone, with raw file names as
navigation and no sidebar. A page that finds itself run that way sets up :func:`app_navigation`
itself (the same menu and sidebar ``app.py`` gives) and carries on: no rerun, so the click or
edit that started the run is not lost.
"""

from __future__ import annotations

import streamlit as st
import torch
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

PAGE_TITLE = "ragviz · Relation-Aware Generative model lab"
#: (file, title, icon) of every page, in menu order; the first is the home page.
PAGES = [
    ("pages/home.py", "Home", ":material/home:"),
    ("pages/task_graph.py", "Task graph", ":material/hub:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/message_passing.py", "Message passing", ":material/share:"),
    ("pages/embeddings.py", "Embeddings", ":material/scatter_plot:"),
    ("pages/task_outputs.py", "Task outputs", ":material/grid_view:"),
    ("pages/checkpoints.py", "Checkpoints", ":material/inventory_2:"),
]


def app_navigation() -> StreamlitPage:
    """Page config, the navigation menu and the sidebar; returns the page the URL asks for."""
    from ragviz.ui.sidebar import render_sidebar
    from ragviz.ui.state import get_state

    st.set_page_config(page_title=PAGE_TITLE, page_icon="🕸️", layout="wide")
    torch.set_num_threads(1)  # many small sessions: one thread each trains fastest
    navigation = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0)
                                for i, (path, title, icon) in enumerate(PAGES)])
    render_sidebar(get_state())
    return navigation


def ensure_app_navigation() -> None:
    """Give a page run by Streamlit's legacy discovery the app's navigation and sidebar."""
    if PagesManager.uses_pages_directory:
        page_hash = ThreadState.get().active_script_hash
        app_navigation()  # st.navigation clears the legacy mode for the rest of this process
        # st.navigation switched the active script to app.py's; the rest of this run is the page's,
        # so its widgets keep the identities they have when app.py runs the page (clicks survive).
        ThreadState.update(active_script_hash=page_hash)
