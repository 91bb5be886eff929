"""A lesson on screen, in real headless Chromium at 1280×720: open the hop lesson, see its contrast's
figures beside the page, follow a go-there link and land on Message passing with the 3-hop task at layer 3.

Screenshots of the lesson open on two pages go to ``RAGVIZ_SCREENSHOTS`` (or ``screenshots/``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from streamlit_server import ROOT, streamlit_server
from tab_waits import figures_steady
from test_browser import settle

from ragviz.lessons.graphs import hop_chain
from ragviz.lessons.samples import SAMPLES, get_sample, recorded_results
from ragviz.lessons.view import claim_tasks

SHOTS = Path(os.environ.get("RAGVIZ_SCREENSHOTS", ROOT / "screenshots"))
HOPS = "message_passing_hops"


def shoot(page, name: str, figures: int = 0) -> None:
    """A screenshot once the page's first ``figures`` figures are drawn, with the mouse off every tooltip."""
    page.mouse.move(1270, 715)
    figures_steady(page, figures)
    page.screenshot(path=str(SHOTS / name))


def assert_no_exception(page, where: str) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, f"{where}: {errors.first.inner_text()[:500]}"


def test_a_lesson_shows_its_contrast_and_a_go_there_link_lands_on_the_task_at_its_layer(browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    title = get_sample(HOPS).title
    recorded = recorded_results()[HOPS]
    three_hops = claim_tasks(HOPS, hop_chain(seed=recorded.seeds[0]))
    with streamlit_server(timeout=90) as (url, _proc):
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(url)
        settle(page)
        main = page.locator('[data-testid="stMain"]')
        opens = main.get_by_role("button", name=re.compile(r"^Open"))  # one per sample, in catalogue order
        opens.nth([s.key for s in SAMPLES].index(HOPS)).click()
        settle(page)
        assert_no_exception(page, "Home after opening the hop lesson")

        # The lesson sits in the sidebar with its contrast's recorded figures and the weakest seed.
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text(f"Lesson: {title}", exact=False).first.wait_for(timeout=30_000)
        worst = max(range(len(recorded.seeds)), key=lambda i: recorded.model[i] / recorded.contrast[i])
        summary = sidebar.get_by_text(re.compile(r"Weakest seed")).first
        assert summary.is_visible()
        assert (f"Weakest seed {recorded.seeds[worst]}: {recorded.model[worst]:.3f} vs "
                f"{recorded.contrast[worst]:.3f}") in summary.inner_text()
        assert "1 layer" in summary.inner_text()
        shoot(page, "lesson_home.png")

        # A go-there link: Message passing, the 3-hop task in focus, layer 3 chosen.
        sidebar.get_by_role("button", name=re.compile("A 3-hop task at layer 3")).click()
        settle(page)
        page.get_by_role("heading", name="Message passing").first.wait_for(timeout=30_000)
        assert_no_exception(page, "Message passing after go-there")
        shoot(page, "lesson_message_passing.png", figures=2)
        focus = main.locator('[data-testid="stSelectbox"]').filter(has_text="Focus task").first
        shown = focus.inner_text() + " ".join(focus.locator("input").evaluate_all("els => els.map(e => e.value)"))
        assert three_hops[0] in shown, shown
        assert main.get_by_role("radio", name="layer 3").is_checked()

        # The other link: Task outputs shows the 3-hop tasks (framed) and the model beside its contrast.
        sidebar.get_by_role("button", name=re.compile("Its curve vs the dashed truth")).click()
        settle(page)
        page.get_by_role("heading", name="Task outputs").first.wait_for(timeout=30_000)
        main.get_by_text("The lesson's contrast: 3 layers vs 1 layer", exact=False).first.wait_for(timeout=30_000)
        assert_no_exception(page, "Task outputs after go-there")
        picked = main.locator('[data-testid="stMultiSelect"]').first.inner_text()
        assert all(name in picked for name in three_hops), picked
        shoot(page, "lesson_task_outputs.png", figures=1)
        main.locator(".js-plotly-plot").first.scroll_into_view_if_needed()
        shoot(page, "lesson_task_outputs_curves.png", figures=1)
        page.evaluate("window.scrollTo(0, 0)")
        main.evaluate("e => e.scrollTop = 0")

        # One click trains the contrast through the run queue; then both sit side by side, task by task.
        main.get_by_role("button", name=re.compile(r"Train the contrast \(1 layer\)")).click()
        main.get_by_text("Trained in this session", exact=False).first.wait_for(timeout=240_000)
        settle(page)
        assert_no_exception(page, "Task outputs after training the contrast")
        shoot(page, "lesson_task_outputs_contrast.png", figures=1)
        context.close()
