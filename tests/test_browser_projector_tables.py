"""Projector mode's tables in real headless Chromium: switched on or off on a page that shows tables.

``st.dataframe`` draws on a canvas that reads the page's type size once, when it is first drawn, so
the stylesheet alone leaves a table on screen at its desk size. Switched on where the tables are
(Task outputs), every table must be drawn anew at the projector's type, and back at the desk's when
the mode goes off. A screenshot of a table at each size is saved for a person to look at
(``RAGVIZ_SCREENSHOTS`` or ``screenshots/``).
"""

from __future__ import annotations

import re

import pytest
from playwright import sync_api as playwright
from streamlit_server import CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tab_waits import poll_until
from test_browser import SHOTS, assert_no_exception, go_to, settle

from ragviz.plots.projector import DEFAULT_SCREEN, SCREENS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESK_ROOT_PX = 16  # Streamlit's own root type
TABLE_TYPE = 0.875  # a table's type, in rem (Streamlit's theme: fontSizes.sm)

#: The px type size of every table in the main area (read from the grid's own style), [] while there is none.
TABLE_FONTS_JS = """
() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stDataFrame"]')].map(table => {
  for (const e of [table, ...table.querySelectorAll('*')]) {
    const style = getComputedStyle(e).getPropertyValue('--gdg-base-font-style');
    if (style) return parseFloat(style.trim().split(/\\s+/).pop());
  }
  return null;
})
"""


def tables_at(page, px: float, what: str) -> None:
    """Wait until the page shows tables and every one's type is ``px``; a failure says the sizes it saw."""
    seen: list = []

    def check() -> bool:
        seen[:] = page.evaluate(TABLE_FONTS_JS)
        return bool(seen) and all(v is not None and abs(v - px) < 0.5 for v in seen)

    try:
        poll_until(check, f"{what}: every table's type at {px:g} px", 60, page, every_s=0.1)
    except AssertionError as err:
        raise AssertionError(f"{err}\nThe tables' type sizes were {seen}") from None


def shoot(page, name: str) -> None:
    table = next(t for t in page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').all() if t.is_visible())
    table.screenshot(path=str(SHOTS / f"projector_table_{name}.png"))


def test_tables_grow_and_shrink_with_projector_mode_on_the_page_that_shows_them() -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    screen = SCREENS[DEFAULT_SCREEN]
    with streamlit_server(timeout=90) as (url, _proc), playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": screen.width, "height": screen.height}).new_page()
        page.goto(url)
        settle(page)
        page.get_by_role("button", name=re.compile(r"^Open")).first.click()  # a sample: a trained model
        settle(page)
        go_to(page, "Task outputs")
        tables_at(page, TABLE_TYPE * DESK_ROOT_PX, "at the desk")
        shoot(page, "desk")
        switch = page.locator('[data-testid="stSidebar"]').get_by_text("Projector mode")
        switch.click()
        settle(page)
        tables_at(page, TABLE_TYPE * screen.font_px, f"projector mode switched on at {DEFAULT_SCREEN}")
        assert_no_exception(page, "Task outputs in projector mode")
        shoot(page, "projector")
        switch.click()
        settle(page)
        tables_at(page, TABLE_TYPE * DESK_ROOT_PX, "projector mode switched off again")
        assert_no_exception(page, "Task outputs after projector mode")
        browser.close()
