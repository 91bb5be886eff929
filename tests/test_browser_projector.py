"""Projector mode in real headless Chromium: every page, at 1280×720 and at 1920×1080.

Switched on in the sidebar, the mode must hold on every page of the session: each page's main
figure fills the screen's height below the header, with type larger than Plotly's default, text
grown to the screen's type, the secondary controls folded away, and no exception. A screenshot
of each page (scrolled to its figure, sidebar collapsed, as a class sees it) is saved for a
person to look at
(``RAGVIZ_SCREENSHOTS`` or ``screenshots/``; the ones in ``docs/screenshots/`` come from here).
"""

from __future__ import annotations

import re

import pytest
from playwright import sync_api as playwright
from streamlit_server import CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tab_waits import figures_steady, showing
from test_browser import PAGES, SHOTS, assert_no_exception, go_to, settle

from ragviz.plots.projector import CHROME_PX, SCREENS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Pages whose figure the mode must size; Home is text and Checkpoints a gallery of thumbnails.
FIGURE_PAGES = {"Task graph", "Train", "Message passing", "Embeddings", "Task outputs"}
#: What each page folds away in projector mode: (expander label, the control inside it).
TUCKED = {"Task graph": "Tables, generate, layout", "Train": "Training settings and Start",
          "Checkpoints": "Upload a model"}

LARGEST_FIGURE_JS = """
() => {
  let best = null;
  for (const gd of document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')) {
    if (!gd._fullLayout) continue;
    const r = gd.getBoundingClientRect();
    if (!best || r.width * r.height > best.width * best.height)
      best = {top: r.top + window.scrollY, width: r.width, height: r.height, font: gd._fullLayout.font.size};
  }
  return best;
}
"""


#: True once the sidebar has slid fully out of the viewport (``shown`` false) or fully into it (true).
SIDEBAR_AT_REST_JS = """
(shown) => {
  const bar = document.querySelector('[data-testid="stSidebar"]');
  if (!bar) return !shown;
  const r = bar.getBoundingClientRect();
  return shown ? r.left >= -1 && r.width > 100 : r.right <= 1;
}
"""


#: The px sizes of the page's root type and of its text (captions, markdown) in the main area.
TEXT_SIZES_JS = """
() => {
  const px = e => e ? parseFloat(getComputedStyle(e).fontSize) : null;
  const main = document.querySelector('[data-testid="stMain"]');
  return {root: px(document.documentElement),
          caption: px(main.querySelector('[data-testid="stCaptionContainer"]')),
          text: px(main.querySelector('[data-testid="stMarkdownContainer"] p'))};
}
"""
DESK_ROOT_PX = 16  # Streamlit's own root type


@pytest.fixture(scope="module")
def server():
    with streamlit_server(timeout=90) as (url, _proc):
        yield url


def largest_figure(page) -> dict:
    figures_steady(page)  # Plotly lays out after the element appears
    return page.evaluate(LARGEST_FIGURE_JS)


def screenshot(page, title: str, screen_label: str, figure: dict | None) -> None:
    """The page as the class sees it: sidebar collapsed, scrolled to the figure."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    page.locator('[data-testid="stSidebarCollapseButton"] button').click()
    with showing(page, "waiting for the sidebar to fold away"):
        playwright.expect(sidebar).to_have_attribute("data-collapsed", "true", timeout=30_000)
        page.wait_for_function(SIDEBAR_AT_REST_JS, arg=False, timeout=30_000, polling=50)
    if figure is not None:
        figures_steady(page)  # the main area widened: the figures lay out again
        top = page.evaluate(LARGEST_FIGURE_JS)["top"]
        page.evaluate(f"() => document.querySelector('[data-testid=\"stMain\"]').scrollTo(0, {top} - 70)"
                      f" || window.scrollTo(0, {top} - 70)")
        figures_steady(page)
    size = screen_label.replace("×", "x")
    page.screenshot(path=str(SHOTS / f"projector_{title.lower().replace(' ', '_')}_{size}.png"))
    page.locator('[data-testid="stExpandSidebarButton"]').click()
    with showing(page, "waiting for the sidebar to come back"):
        playwright.expect(sidebar).to_have_attribute("data-collapsed", "false", timeout=30_000)
        page.wait_for_function(SIDEBAR_AT_REST_JS, arg=True, timeout=30_000, polling=50)


def test_projector_mode_fills_each_screen_with_one_large_figure_on_every_page(server) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(server)
        settle(page)
        page.get_by_role("button", name=re.compile(r"^Open")).first.click()  # a sample: a trained model
        settle(page)
        assert_no_exception(page, "Home after opening a sample")
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Projector mode").click()
        settle(page)
        for label, screen in SCREENS.items():
            page.set_viewport_size({"width": screen.width, "height": screen.height})
            sidebar.get_by_text(label, exact=True).click()
            settle(page)
            for title in PAGES:
                go_to(page, title)
                where = f"{title} at {label}"
                assert_no_exception(page, where)
                assert sidebar.get_by_role("switch", name="Projector mode").is_checked(), where
                text = page.evaluate(TEXT_SIZES_JS)  # text, tables and cards grow with the figures' type
                assert text["root"] == screen.font_px, f"{where}: {text}"
                assert text["caption"] is None or text["caption"] >= 0.875 * screen.font_px - 0.5, f"{where}: {text}"
                main = page.locator('[data-testid="stMain"]')
                if title in TUCKED:
                    folded = main.locator('[data-testid="stExpander"] details').filter(has_text=TUCKED[title]).first
                    assert folded.get_attribute("open") is None, f"{where}: controls not folded away"
                figure = None
                if title in FIGURE_PAGES:
                    figure = largest_figure(page)
                    assert figure is not None, where
                    assert figure["height"] >= 0.95 * (screen.height - CHROME_PX), f"{where}: {figure}"
                    if title != "Task outputs":  # small multiples grow with their type; the rest fit a screen
                        assert figure["height"] <= screen.height, f"{where}: taller than the screen, {figure}"
                    assert figure["font"] >= screen.font_px, f"{where}: {figure}"
                screenshot(page, title, label, figure)
        page.get_by_text("Projector mode").click()  # and off again: the desk layout is back
        settle(page)
        go_to(page, "Train")
        assert_no_exception(page, "Train after projector mode is off")
        assert largest_figure(page)["height"] < 0.95 * (1080 - CHROME_PX)
        assert page.evaluate(TEXT_SIZES_JS)["root"] == DESK_ROOT_PX  # the stylesheet went with the mode
        context.close()
        browser.close()
