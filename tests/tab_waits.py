"""Browser tests wait for what the tab shows, never for a fixed time; a wait that runs out says what it showed.

A fixed sleep is too short on a loaded machine and wasted time on an idle one. Every wait here
ends on an outcome (a condition in the page, or a condition polled from Python with a deadline),
and a timeout is an AssertionError that quotes the tab's main area, so a failure in CI can be read
without a screenshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

T = TypeVar("T")
SHOWN_CHARS = 2500

#: True once ``count`` figures in the main area are laid out and none has moved or resized for ``quiet`` ms.
FIGURES_STEADY_JS = """
([count, quiet]) => {
  const figures = [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')];
  const ready = figures.filter(gd => gd._fullLayout && !gd._transitioning && gd.querySelector('.main-svg'));
  if (ready.length < count) { window.__ragvizFigures = null; return false; }
  const sign = JSON.stringify(ready.map(gd => {
    const r = gd.getBoundingClientRect();
    return [Math.round(r.top), Math.round(r.width), Math.round(r.height), JSON.stringify(gd._fullLayout._size)];
  }));
  const now = performance.now();
  if (!window.__ragvizFigures || window.__ragvizFigures.sign !== sign) window.__ragvizFigures = {sign, since: now};
  return now - window.__ragvizFigures.since >= quiet;
}
"""

#: True once a figure in the main area listens for clicks (Streamlit binds them after Plotly draws).
CLICKABLE_JS = """
() => [...document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot')].some(
  gd => gd._ev && gd._ev._events && gd._ev._events.plotly_click && gd.querySelector('.nsewdrag'))
"""


def tab_text(page: Page, limit: int = SHOWN_CHARS) -> str:
    """The main area's text as the user reads it (shortened), or why it could not be read."""
    try:
        text = page.locator('[data-testid="stMain"]').first.inner_text(timeout=5_000)
    except PlaywrightError as err:
        return f"(the tab's main area could not be read: {str(err).splitlines()[0]})"
    text = text.replace("\u2060", "")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters in all)"


@contextmanager
def showing(page: Page, what: str) -> Iterator[None]:
    """Turn a Playwright timeout inside the block into a failure that says what the tab showed."""
    try:
        yield
    except PlaywrightTimeout as err:
        raise AssertionError(f"{what}: {str(err).splitlines()[0]}\nThe tab showed:\n{tab_text(page)}") from None


def poll_until(check: Callable[[], T], what: str, timeout_s: float, page: Page | None = None,
               every_s: float = 0.05) -> T:
    """``check()`` until it returns something truthy (returned), or fail after ``timeout_s`` saying ``what``.

    ``every_s`` is the polling interval, not a wait for an outcome: the loop ends as soon as the
    condition holds. With ``page``, the failure quotes what the tab showed.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            shown = f"\nThe tab showed:\n{tab_text(page)}" if page is not None else ""
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s{shown}")
        if page is not None:
            page.wait_for_timeout(every_s * 1000)  # the poll interval (keeps the page's events flowing)
        else:
            time.sleep(every_s)  # the poll interval


def figures_steady(page: Page, count: int = 1, quiet_ms: float = 400, timeout: float = 60_000) -> None:
    """Wait until at least ``count`` figures are drawn in the main area and stay put for ``quiet_ms``."""
    with showing(page, f"waiting for {count} figure(s) to be drawn and laid out"):
        page.evaluate("() => { window.__ragvizFigures = null; }")
        page.wait_for_function(FIGURES_STEADY_JS, arg=[count, quiet_ms], timeout=timeout, polling=50)


def figures_clickable(page: Page, timeout: float = 60_000) -> None:
    """Wait until a main-area figure has its click handlers (a click before then is lost)."""
    with showing(page, "waiting for the figure to take clicks"):
        page.wait_for_function(CLICKABLE_JS, timeout=timeout, polling=50)


async def async_tab_text(page: Any, limit: int = SHOWN_CHARS) -> str:
    """:func:`tab_text` for Playwright's async API (the load and replica tests drive many tabs at once)."""
    try:
        text = await page.locator('[data-testid="stMain"]').first.inner_text(timeout=5_000)
    except PlaywrightError as err:
        return f"(the tab's main area could not be read: {str(err).splitlines()[0]})"
    text = text.replace("\u2060", "")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters in all)"
