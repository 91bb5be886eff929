"""The view in the URL, in real headless Chromium against ``streamlit run app.py``.

A reload ends the Streamlit session; the view must come back from the URL alone. The link
from "Copy link" must open the same view in a browser context that shares nothing with the
first (no cookies, no storage), and a damaged link must give a message and the home page.
"""

from __future__ import annotations

import re

from tab_waits import showing
from test_browser import assert_no_exception as no_exception
from test_browser import go_to, settle

NEW_TASK = "my own task"


def view_of(page) -> dict:
    """What the user sees of the view: page, graph size, model, layer, focus task."""
    main = page.locator('[data-testid="stMain"]')
    main.get_by_role("radio", name="layer 2").wait_for(timeout=60_000)
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    return {
        "page": main.get_by_role("heading", level=1).first.inner_text(),
        "size": re.search(r"\d+ tasks · \d+ edges", sidebar).group(0),
        "model": re.search(r"Model: ([^\n]+)", sidebar).group(1),
        "layer 2": main.get_by_role("radio", name="layer 2").is_checked(),
        "focus": main.get_by_role("combobox", name="Focus task").input_value(),
    }


def make_a_view(page, server: str) -> dict:
    """On the default sample: add a task, go to Message passing, pick layer 2 and the new task."""
    page.goto(server)
    settle(page)
    go_to(page, "Task graph")
    main = page.locator('[data-testid="stMain"]')
    main.get_by_text("Add a task").first.click()
    settle(page)
    main.get_by_label("Name", exact=True).fill(NEW_TASK)
    main.get_by_role("button", name=re.compile("Add task")).click()
    settle(page)
    no_exception(page, "Task graph after adding a task")
    go_to(page, "Message passing")
    main.get_by_text("layer 2", exact=True).click()
    settle(page)
    main.get_by_role("combobox", name="Focus task").click()
    page.get_by_role("option", name=re.compile(re.escape(NEW_TASK))).click()
    settle(page)
    no_exception(page, "Message passing")
    page.wait_for_url(re.compile(r"[?&]view="), timeout=30_000)
    view = view_of(page)
    assert view["page"] == "Message passing" and view["layer 2"] and NEW_TASK in view["focus"], view
    assert view["size"].startswith("13 tasks"), view  # the sample's 12 and the new one
    return view


def test_a_reload_restores_the_view(server, browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    before = make_a_view(page, server)
    page.reload()
    settle(page)
    no_exception(page, "after the reload")
    assert view_of(page) == before
    context.close()


def test_the_copied_link_opens_the_same_view_in_a_fresh_browser(server, browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    before = make_a_view(page, server)
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name=re.compile("Copy link")).click()
    link = page.locator('[data-testid="stPopoverBody"] [data-testid="stCode"]').first.inner_text().strip()
    assert link.startswith(server) and "/message_passing?view=" in link, link[:200]
    context.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})  # shares nothing with the first
    page = fresh.new_page()
    page.goto(link)
    settle(page)
    no_exception(page, "the opened link")
    assert view_of(page) == before
    fresh.close()


def test_a_damaged_link_shows_a_message_and_the_home_page(server, browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{server}/train?view=eNqrVipTsjLUUcpTslKKSi3K1y3OyC9RKE")
    settle(page)
    no_exception(page, "a damaged link")
    main = page.locator('[data-testid="stMain"]')
    main.get_by_text("This link could not be opened").first.wait_for(timeout=30_000)
    assert "cut short" in main.locator('[data-testid="stAlert"]').first.inner_text()
    assert main.get_by_role("heading", level=1).first.inner_text().startswith("ragviz")  # Home
    page.get_by_role("button", name=re.compile(r"^Open")).first.wait_for(timeout=30_000)  # samples, ready to open
    context.close()


def sidebar_text(page) -> str:
    """The sidebar as the user reads it, once its model line is drawn (a reload's first run imports the sample)."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    with showing(page, "waiting for the sidebar's model line"):
        sidebar.get_by_text("Model:", exact=False).first.wait_for(timeout=120_000)
    return sidebar.inner_text()


def test_a_lesson_closed_by_generate_stays_closed_after_a_reload(server, browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server)
    settle(page)
    assert "Lesson:" in sidebar_text(page)  # the default sample opens with its lesson
    go_to(page, "Task graph")
    main = page.locator('[data-testid="stMain"]')
    main.get_by_role("tab", name="Generate").click()
    main.get_by_label("Tasks", exact=True).fill("5")
    main.get_by_role("button", name=re.compile(r"Generate \(replaces the graph\)")).click()
    page.locator('[data-testid="stSidebar"]').get_by_text("5 tasks", exact=False).first.wait_for(timeout=60_000)
    settle(page)
    no_exception(page, "after Generate")
    before = sidebar_text(page)
    assert "Lesson:" not in before, before
    page.reload()
    settle(page)
    no_exception(page, "after the reload")
    after = sidebar_text(page)
    assert "Lesson:" not in after and "5 tasks" in after, after  # the student's graph, and no lesson beside it
    assert re.search(r"Model: sample", after), after  # the sample's model is still the session's, as before
    context.close()


def test_after_training_the_contrast_a_reload_keeps_the_lesson_and_the_samples_model(server, browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server)
    settle(page)
    go_to(page, "Task outputs")
    main = page.locator('[data-testid="stMain"]')
    main.get_by_role("button", name=re.compile(r"Train the contrast \(no edges\)")).click()
    main.get_by_text("Trained in this session", exact=False).first.wait_for(timeout=300_000)
    settle(page)
    no_exception(page, "Task outputs after training the contrast")
    assert "Lesson:" in sidebar_text(page)
    page.reload()
    settle(page)
    no_exception(page, "after the reload")
    after = sidebar_text(page)
    assert "Lesson:" in after and "no trained model yet" not in after, after
    assert re.search(r"Model: sample", after), after
    main.get_by_text("The lesson's contrast", exact=False).first.wait_for(timeout=60_000)  # the page, with its model
    main.get_by_text("cannot travel in a link", exact=False).first.wait_for(timeout=30_000)  # and what was not kept
    context.close()
