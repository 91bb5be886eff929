"""The app's navigation table and sidebar, and keeping every page behind them.

Every page file starts with ``state = page_state()``. Streamlit sees the ``pages/`` folder
and, until a script calls ``st.navigation``, runs its old multipage discovery: on a server's
first run (and on every ``AppTest`` run, which resets that mode) a URL or ``switch_page`` that
names a page runs the page file alone, with raw file names as navigation and no sidebar.
:func:`ensure_app_navigation` is the one place that handles this: a page run that way sets up
:func:`app_navigation` itself (the same menu and sidebar ``app.py`` gives) and carries on, with
no rerun, so the click or edit that started the run is not lost. It reads two Streamlit runtime
internals (``PagesManager.uses_pages_directory`` and the script thread's active page hash);
``tests/app/test_navigation.py`` fails loudly if an upgrade changes either.

The page table (:data:`PAGES`) is the only place a page's file path is written; links elsewhere
name its entries (``TRAIN.path``).
"""

from __future__ import annotations

from typing import NamedTuple

import streamlit as st
import torch
from streamlit.navigation.page import StreamlitPage
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

from ragviz.ui.model_banner import model_banner
from ragviz.ui.run_watcher import watch_runs
from ragviz.ui.session_gate import admit_session
from ragviz.ui.session_uploads import track_session
from ragviz.ui.sidebar import render_sidebar
from ragviz.ui.state import AppState, get_state
from ragviz.ui.timeline import record
from ragviz.ui.view_url import open_view_link

PAGE_TITLE = "ragviz · Relation-Aware Generative model lab"


class AppPage(NamedTuple):
    """One page of the app: its file under ``pages/``, its menu title and icon."""

    path: str
    title: str
    icon: str


HOME = AppPage("pages/home.py", "Home", ":material/home:")
TASK_GRAPH = AppPage("pages/task_graph.py", "Task graph", ":material/hub:")
TRAIN = AppPage("pages/train.py", "Train", ":material/model_training:")
MESSAGE_PASSING = AppPage("pages/message_passing.py", "Message passing", ":material/share:")
EMBEDDINGS = AppPage("pages/embeddings.py", "Embeddings", ":material/scatter_plot:")
TASK_OUTPUTS = AppPage("pages/task_outputs.py", "Task outputs", ":material/grid_view:")
CHECKPOINTS = AppPage("pages/checkpoints.py", "Checkpoints", ":material/inventory_2:")
#: Every page, in menu order; the first is the home page.
PAGES: tuple[AppPage, ...] = (HOME, TASK_GRAPH, TRAIN, MESSAGE_PASSING, EMBEDDINGS, TASK_OUTPUTS, CHECKPOINTS)


def app_navigation() -> StreamlitPage:
    """Page config, the navigation menu and the sidebar; returns the page the URL asks for."""
    st.set_page_config(page_title=PAGE_TITLE, page_icon="🕸️", layout="wide")
    if not admit_session():  # over the sessions-per-address limit: its message, and nothing else is made
        st.stop()
    torch.set_num_threads(1)  # many small sessions: one thread each trains fastest
    track_session()  # what Streamlit holds for this session is released once it has ended
    navigation = st.navigation([st.Page(path, title=title, icon=icon, default=i == 0)
                                for i, (path, title, icon) in enumerate(PAGES)])
    open_view_link(navigation, HOME.path)  # a reload or a shared link: the view the URL holds
    watch_runs(get_state())  # the one place a finished run is taken in, before anything draws
    record("whole run", page=navigation.title, runs=[str(r.phase) for r in get_state().runs.records()])
    render_sidebar(get_state())
    model_banner(get_state(), None if navigation.title == TRAIN.title else TRAIN.path)
    return navigation


def ensure_app_navigation() -> None:
    """Give a page run by Streamlit's legacy discovery the app's navigation and sidebar."""
    if PagesManager.uses_pages_directory:
        page_hash = ThreadState.get().active_script_hash
        app_navigation()  # st.navigation clears the legacy mode for the rest of this process
        # st.navigation switched the active script to app.py's; the rest of this run is the page's,
        # so its widgets keep the identities they have when app.py runs the page (clicks survive).
        ThreadState.update(active_script_hash=page_hash)


def page_state() -> AppState:
    """What every page calls first: the app's navigation around it, then the session's state."""
    ensure_app_navigation()
    return get_state()
