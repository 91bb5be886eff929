"""Over the sessions-per-address limit a new tab sees one message and nothing else; others are untouched."""

from __future__ import annotations

from ragviz.ui import session_gate
from ragviz.ui.state import STATE_KEY
from tests.app.helpers import open_page, plain

CLASSROOM = "203.0.113.7"


def test_a_session_over_the_limit_sees_the_message_and_nothing_is_made_for_it(monkeypatch) -> None:
    monkeypatch.setenv("RAGVIZ_MAX_SESSIONS_PER_ADDRESS", "3")
    monkeypatch.setattr(session_gate, "this_client", lambda: CLASSROOM)
    live = {"tab0", "tab1", "tab2"}
    monkeypatch.setattr(session_gate, "_is_live", live.__contains__)
    monkeypatch.setattr(session_gate, "_sessions", {f"tab{i}": CLASSROOM for i in range(3)})
    at = open_page()
    assert [plain(e.value) for e in at.error] == [
        "This computer already has 3 ragviz tabs open, this server's limit per address, so this one was not opened "
        "(a class shares the server). Close a ragviz tab you no longer use, then reload this page. (The server's "
        "administrator can raise the limit with RAGVIZ_MAX_SESSIONS_PER_ADDRESS.)"]
    assert STATE_KEY not in at.session_state and len(at.sidebar) == 0 and len(at.button) == 0 and not at.exception
    live.discard("tab0")  # one tab closed: it no longer counts
    at.run()  # the reload
    assert not at.error and STATE_KEY in at.session_state and not at.exception
