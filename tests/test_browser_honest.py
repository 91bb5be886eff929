"""In real headless Chromium at 1280×720: a new graph is flagged on every page, and a run can be watched.

Screenshots go to ``RAGVIZ_SCREENSHOTS`` (or ``screenshots/``) for a person to look at.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright import sync_api as playwright
from streamlit_server import ROOT
from tab_waits import figures_steady, showing
from test_browser import assert_no_exception, go_to, settle

SHOTS = Path(os.environ.get("RAGVIZ_SCREENSHOTS", ROOT / "screenshots"))
VIEWPORT = {"width": 1280, "height": 720}
BANNER = re.compile(r"not the graph the model was trained on|changed since the model was trained")


def _fresh(browser, url: str):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url)
    settle(page)
    page.get_by_text("Relation-Aware Generative", exact=False).first.wait_for(timeout=60_000)
    return context, page, page.locator('[data-testid="stMain"]')


def _on_first_screen(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 150) <= VIEWPORT["height"]


def test_after_generating_a_new_graph_every_page_says_the_model_does_not_fit(server, browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, main = _fresh(browser, server)
    assert main.get_by_text(BANNER).count() == 0  # the opened sample's own graph: nothing to say
    go_to(page, "Task graph")
    main.get_by_role("tab", name="Generate").click()
    settle(page)
    family = main.get_by_role("tabpanel", name="Generate").get_by_role("combobox", name="Family")
    family.wait_for(timeout=30_000)
    for _ in range(3):  # tasks the sample's model has never seen (a retry: the first rerun may redraw the box)
        family.click()
        family.fill("circles")
        page.keyboard.press("Enter")
        settle(page)
        if family.input_value() == "circles":
            break
    playwright.expect(family).to_have_value("circles", timeout=10_000)
    main.get_by_role("button", name=re.compile("Generate")).last.click()
    settle(page)
    for title in ("Message passing", "Embeddings", "Task outputs", "Home", "Checkpoints", "Train"):
        go_to(page, title)
        heading = "ragviz: the RAG lab" if title == "Home" else title
        main.get_by_role("heading", name=heading).first.wait_for(timeout=30_000)
        settle(page)
        banner = main.get_by_text(BANNER).first
        banner.wait_for(timeout=30_000)
        assert _on_first_screen(banner), f"{title}: the banner is not on the first screen"
        if title != "Train":
            link = main.get_by_role("link", name=re.compile("Train on this graph"))
            assert link.is_visible(), title
        if title in ("Message passing", "Embeddings", "Task outputs"):  # no chance-level figures
            assert main.get_by_text("Nothing to show here", exact=False).count() == 1, title
            assert main.locator(".js-plotly-plot").count() == 0, title
        assert_no_exception(page, title)
        if title == "Message passing":
            for close in page.locator('[data-testid="stToast"] button').all():
                close.click()  # the Generate notice, out of the screenshot
            with showing(page, "waiting for the closed notices to go"):
                playwright.expect(page.locator('[data-testid="stToast"]')).to_have_count(0, timeout=30_000)
            page.screenshot(path=str(SHOTS / "banner_new_graph.png"))
    go_to(page, "Home")  # the banner's link leads to Train
    main.get_by_role("link", name=re.compile("Train on this graph")).click()
    settle(page)
    assert page.get_by_role("button", name=re.compile("Start training")).is_visible()
    context.close()


def test_the_live_curves_are_on_screen_while_a_run_trains(server, browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, main = _fresh(browser, server)
    go_to(page, "Train")
    for label, value in (("Steps", "100000"), ("Evaluate every", "20")):
        box = page.get_by_label(label, exact=True)
        box.fill(value)
        box.press("Tab")
    page.get_by_role("button", name=re.compile("Start training")).click()
    stop = main.get_by_role("button", name=re.compile("Stop"))
    stop.wait_for(timeout=60_000)
    # The live loss chart itself (keyed "live_loss"): under load it can take a while to come, and
    # meanwhile the first chart on the page is another one further down.
    curves = main.locator(".st-key-live_loss .js-plotly-plot").first
    curves.wait_for(timeout=90_000)
    with showing(page, "waiting for a few evaluations on the live curves"):
        page.wait_for_function("""() => {
            const gd = document.querySelector('[data-testid="stMain"] .st-key-live_loss .js-plotly-plot');
            return !!gd && !!gd.data && gd.data.some(t => t.x && t.x.length >= 4);
        }""", timeout=120_000, polling=100)
    assert stop.is_visible() and _on_first_screen(curves), "the live curves are below the first screen"
    page.screenshot(path=str(SHOTS / "train_during_run.png"))
    stop.click()
    page.get_by_text("Stopped by the user", exact=False).first.wait_for(timeout=60_000)
    settle(page)
    replay = main.get_by_text("Replay the run: step", exact=False)
    replay.wait_for(timeout=30_000)
    assert main.get_by_role("button", name=re.compile("Restore previous model")).count() == 1
    assert_no_exception(page, "Train after a stopped run")
    page.screenshot(path=str(SHOTS / "train_after_run.png"))
    thumb = main.get_by_role("slider").first
    thumb.focus()
    thumb.press("ArrowLeft")  # one evaluation back: the run as it stood then
    settle(page)
    main.get_by_text(re.compile(r"task embeddings at step \d")).first.wait_for(timeout=30_000)
    shown = main.get_by_text(re.compile(r"Each task's test metric at step")).first
    shown.scroll_into_view_if_needed()
    figures_steady(page)
    assert_no_exception(page, "Train after replaying a step")
    page.screenshot(path=str(SHOTS / "train_replay.png"))
    context.close()
