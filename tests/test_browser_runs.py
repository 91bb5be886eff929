"""In real headless Chromium against ``streamlit run``: a queued run survives a tab whose polls stop.

The class's failure (issue 20): under load, page polls did not get through and queued runs
cancelled themselves ("Left the queue before training began") though their tabs were open.
Here the server runs one run at a time with a 3 s grace. Tab A trains a long run; tab B queues a
short one and then its scripts are paused (Chrome's debugger: no timers, so no fragment polls at all,
while its connection stays open). Once A has trained for well over the grace, A stops; B's run
must start, finish, and its result show in B when B wakes, taken in once by the app shell's watcher.
"""

from __future__ import annotations

import re

import pytest
from streamlit_server import streamlit_server
from test_browser import assert_no_exception, go_to, settle

pytestmark = pytest.mark.browser

GRACE_S = 3


@pytest.fixture(scope="module")
def one_slot_server():
    env = {"RAGVIZ_MAX_RUNS": "1", "RAGVIZ_HEARTBEAT_S": str(GRACE_S), "RAGVIZ_TRAIN_PROCESS": "never"}
    with streamlit_server(timeout=90, env=env) as (url, _proc):
        yield url


def _train_page(browser, url: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(url)
    settle(page)
    go_to(page, "Train")
    return page, page.locator('[data-testid="stMain"]')


def _start(page, main, steps: int) -> None:
    box = page.get_by_label("Steps", exact=True)
    box.fill(str(steps))
    box.press("Tab")
    settle(page)
    main.get_by_role("button", name="Start training").click()


def _shown(main) -> str:
    return main.inner_text()[:800]


def test_a_queued_run_whose_tab_stops_polling_is_not_cancelled_and_its_result_shows(one_slot_server,
                                                                                     browser) -> None:
    a, main_a = _train_page(browser, one_slot_server)
    b, main_b = _train_page(browser, one_slot_server)
    _start(a, main_a, 1_000_000)
    bar_a = main_a.locator('[data-testid="stProgress"]').filter(has_text="Training RAG")
    bar_a.wait_for(timeout=120_000)
    _start(b, main_b, 60)
    try:
        main_b.get_by_text("number 1 in the queue", exact=False).wait_for(timeout=60_000)
    except Exception as err:  # noqa: BLE001 - say what the tab showed
        raise AssertionError(f"tab B never showed its queue place; it showed: {_shown(main_b)}") from err

    cdp = b.context.new_cdp_session(b)
    cdp.send("Debugger.enable")
    cdp.send("Debugger.pause")  # B's scripts halt: no timers, no fragment polls; its connection stays open
    elapsed = re.compile(r"· (\d+) s")
    start = int(elapsed.search(bar_a.inner_text()).group(1))
    a.wait_for_function(  # A trains on for four grace periods while B is paused
        """([start, wait]) => { const bar = document.querySelector('[data-testid="stMain"] [data-testid="stProgress"]');
            const m = bar && bar.innerText.match(/· (\\d+) s/); return m && Number(m[1]) >= start + wait; }""",
        arg=[start, 4 * GRACE_S], timeout=120_000, polling=250)
    main_a.get_by_role("button", name="Stop", exact=True).click()
    main_a.get_by_text("trained so far is kept", exact=False).first.wait_for(timeout=60_000)
    cdp.send("Debugger.resume")

    done = main_b.locator('[data-testid="stAlert"]').filter(has_text="Training finished")
    try:
        done.wait_for(timeout=180_000)
    except Exception as err:  # noqa: BLE001 - say what the tab showed
        raise AssertionError(f"tab B's result never showed; it showed: {_shown(main_b)}") from err
    assert "Trained 60 steps" in done.inner_text()
    assert "Left the queue" not in main_b.inner_text()
    settle(b)
    sidebar_b = b.locator('[data-testid="stSidebar"]')
    assert "Last run: finished" in sidebar_b.inner_text()
    assert sidebar_b.locator('[data-testid="stProgress"]').count() == 0  # the watcher is gone: B is idle
    assert_no_exception(b, "Train (B)")
    assert_no_exception(a, "Train (A)")
    a.context.close()
    b.context.close()
