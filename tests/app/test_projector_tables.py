"""Projector mode's tables: a change of mode or screen draws the tables anew under the new screen's name
(``tests/test_browser_projector_tables.py`` checks their type then grows), and a px height grows with the rows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ragviz.plots.projector import DEFAULT_SCREEN, SCREENS
from ragviz.ui import projector
from ragviz.ui.projector import DESK_ROOT_PX, TABLE_ROW_PX, redraw_tables, table_height, table_key
from ragviz.ui.state import PROJECTOR_KEY, STATE_KEY
from tests.app.helpers import errors_of, open_page

SMALL = next(label for label in SCREENS if label != DEFAULT_SCREEN)


def test_a_run_that_changes_the_mode_or_screen_runs_once_more_with_the_tables_new_keys(monkeypatch) -> None:
    """``app.py`` calls it after the page (AppTest runs a page's file alone after the first run, so it is
    driven here directly)."""
    state = SimpleNamespace(table_screen=None)
    reruns: list[str | None] = []
    mode = {"on": False, "screen": DEFAULT_SCREEN}
    monkeypatch.setattr(projector, "get_state", lambda: state)
    monkeypatch.setattr(projector.st, "rerun", lambda: reruns.append(state.table_screen))
    monkeypatch.setattr(projector, "projector_on", lambda: mode["on"])
    monkeypatch.setattr(projector, "projector_screen", lambda: SCREENS[mode["screen"]])
    redraw_tables()
    assert reruns == [] and table_key("to_metrics") == "to_metrics"  # the desk: keys as they always were
    mode["on"] = True
    redraw_tables()
    redraw_tables()  # the run it asked for: nothing changed since
    assert reruns == [DEFAULT_SCREEN] and table_key("to_metrics") == f"to_metrics@{DEFAULT_SCREEN}"
    mode["screen"] = SMALL
    redraw_tables()
    assert reruns == [DEFAULT_SCREEN, SMALL] and table_key("to_metrics") == f"to_metrics@{SMALL}"
    mode["on"] = False
    redraw_tables()
    assert reruns == [DEFAULT_SCREEN, SMALL, None] and table_key("to_metrics") == "to_metrics"


def test_a_page_of_tables_in_projector_mode_draws_every_table_under_the_screens_keys() -> None:
    at = open_page()
    state = at.session_state[STATE_KEY]
    at.sidebar.toggle(key=PROJECTOR_KEY).set_value(True).run()
    state.table_screen = DEFAULT_SCREEN  # what the served app's run after the switch leaves
    at.switch_page("pages/task_outputs.py").run()
    assert len(at.dataframe) > 0 and errors_of(at) == []


@pytest.mark.parametrize("label", list(SCREENS))
def test_a_tables_px_height_grows_with_the_projectors_type(monkeypatch, label) -> None:
    monkeypatch.setattr(projector, "projector_on", lambda: False)
    assert table_height(4, 250) == TABLE_ROW_PX * 5 + 3  # the desk: as before
    assert table_height(40, 250) == 250
    monkeypatch.setattr(projector, "projector_on", lambda: True)
    monkeypatch.setattr(projector, "projector_screen", lambda: SCREENS[label])
    scale = SCREENS[label].font_px / DESK_ROOT_PX
    assert scale > 1
    assert table_height(4, 250) >= (TABLE_ROW_PX * 5 + 3) * scale  # every row still shows
    assert table_height(40, 250) >= 250 * scale
