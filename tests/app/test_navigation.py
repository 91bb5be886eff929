"""Every page runs inside app.py's navigation and sidebar, however Streamlit reached it."""

from __future__ import annotations

import pytest

from ragviz.ui.routing import PAGES
from tests.app.helpers import errors_of, open_page


@pytest.mark.parametrize("path", [path for path, _, _ in PAGES])
def test_each_page_gets_the_sidebar_when_opened_by_its_path(path: str) -> None:
    """AppTest (like a server's first request) runs a named page file through the legacy discovery."""
    at = open_page(path)
    assert not errors_of(at)
    sidebar = [m.value for m in at.sidebar.markdown]
    assert any(text.startswith("**Project:**") for text in sidebar), sidebar
    assert sum(text.startswith("**Project:**") for text in sidebar) == 1  # drawn once, not twice
