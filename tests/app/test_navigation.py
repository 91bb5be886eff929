"""Every page runs inside app.py's navigation and sidebar, however Streamlit reached it."""

from __future__ import annotations

import ast
import re
import typing

import pytest

from ragviz.ui.routing import PAGES
from tests.app.helpers import errors_of, open_page
from tests.helpers import ROOT


@pytest.mark.parametrize("path", [path for path, _, _ in PAGES])
def test_each_page_gets_the_sidebar_when_opened_by_its_path(path: str) -> None:
    """AppTest (like a server's first request) runs a named page file through the legacy discovery."""
    at = open_page(path)
    assert not errors_of(at)
    sidebar = [m.value for m in at.sidebar.markdown]
    assert any(text.startswith("**Project:**") for text in sidebar), sidebar
    assert sum(text.startswith("**Project:**") for text in sidebar) == 1  # drawn once, not twice


def test_every_page_starts_by_calling_page_state() -> None:
    """The legacy-discovery workaround lives in routing.page_state: a page that skipped it would
    lose its sidebar (and the app's menu) when opened by its URL on a fresh server."""
    for page in PAGES:
        tree = ast.parse((ROOT / page.path).read_text(encoding="utf-8"))
        first = next(node for node in tree.body if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr)))
        assert isinstance(first, ast.Assign) and isinstance(first.value, ast.Call), page.path
        assert getattr(first.value.func, "id", None) == "page_state", page.path


def test_page_files_match_the_navigation_table() -> None:
    """Every file in pages/ is in the table once, and every link the widgets draw names a table entry."""
    assert sorted(page.path for page in PAGES) == sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))
    assert len({page.title for page in PAGES}) == len(PAGES)
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "ragviz").rglob("*.py") if p.name != "routing.py"]
    assert not [s for s in sources if re.search(r"[\"']pages/\w+\.py[\"']", s)]  # paths are written once


def test_the_streamlit_internals_the_workaround_reads_are_still_there() -> None:
    """ensure_app_navigation reads two runtime internals; an upgrade that changes them fails here,
    by name, rather than as pages that silently lose their sidebar."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner_utils import script_run_context

    assert "uses_pages_directory" in vars(PagesManager)
    assert callable(script_run_context.ThreadState.get) and callable(script_run_context.ThreadState.update)
    fields = typing.get_type_hints(script_run_context._FragmentThreadStateFields)
    assert fields.get("active_script_hash") is str
