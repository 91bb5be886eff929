"""Keep every page behind ``app.py``'s navigation, even on a server's very first run.

Streamlit sees the ``pages/`` folder and, until some script calls ``st.navigation``, runs the
old multipage discovery: a URL typed straight to a page (``/task_graph``) would then run that
page file alone, without the sidebar and with raw file names as navigation. The flag that
selects that mode is process-wide and cleared by ``st.navigation``; when a page finds it still
set, it clears it and reruns, so the rerun goes through ``app.py`` and lands on the same page.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def ensure_app_navigation() -> None:
    """Rerun through ``app.py`` when Streamlit's legacy discovery ran a page file directly."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
