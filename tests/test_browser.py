"""End to end in real headless Chromium against ``streamlit run app.py`` on localhost.

One user's whole journey: open a sample, click two tasks on the graph (a click and a
shift-click on the real Plotly chart) and connect them, train to the end, then visit every
page. Any Streamlit exception element fails the test. A screenshot of each page is saved
(``RAGVIZ_SCREENSHOTS`` or ``screenshots/``) so a person can look at them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

from playwright import sync_api as playwright
from streamlit_server import ROOT, streamlit_server
from tab_waits import figures_clickable, figures_steady, showing

PAGES = ["Home", "Task graph", "Train", "Message passing", "Embeddings", "Task outputs", "Checkpoints"]
SHOTS = Path(os.environ.get("RAGVIZ_SCREENSHOTS", ROOT / "screenshots"))

NODE_POSITIONS_JS = """
() => {
  const out = [];
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    if (!gd._fullData || !gd._fullLayout) continue;
    const rect = gd.getBoundingClientRect();
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    for (const tr of gd._fullData) {
      if (!tr.customdata || !String(tr.mode).includes('markers')) continue;
      if (!String(tr.name).includes('tasks')) continue;  // task traces, not edge hover points
      for (let i = 0; i < tr.x.length; i++) {
        if (tr.x[i] === null) continue;
        out.push({name: String(tr.customdata[i]),
                  x: rect.left + xa._offset + xa.l2p(tr.x[i]),
                  y: rect.top + ya._offset + ya.l2p(tr.y[i])});
      }
    }
    if (out.length) return out;
  }
  return out;
}
"""


IDLE_JS = """
(quiet) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED';
  if (!idle) { window.__ragvizIdleSince = null; return false; }
  if (window.__ragvizIdleSince == null) window.__ragvizIdleSince = performance.now();
  return performance.now() - window.__ragvizIdleSince >= quiet;
}
"""


def settle(page, timeout: float = 180_000, quiet: float = 800) -> None:
    """Wait until Streamlit has finished rerunning: its script state is "notRunning" for ``quiet`` ms on end.

    The app's ``data-test-script-state`` is the signal (the running indicator lives in the toolbar,
    which this app hides). Idle must last a while because a click's rerun starts a moment after the
    click, and an edit ends its run with ``st.rerun()``, which starts the next run straight after.
    Where a step has a visible outcome, wait for that too (:func:`select_two`, :func:`connect`).
    The timeout is generous because a fresh server's first run imports torch; a run that never
    ends still fails.
    """
    with showing(page, "waiting for the app to finish its run"):
        page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
        page.evaluate("() => { window.__ragvizIdleSince = null; }")
        page.wait_for_function(IDLE_JS, arg=quiet, timeout=timeout, polling=50)


def assert_no_exception(page, where: str) -> None:
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, f"{where}: {errors.first.inner_text()[:500]}"


def page_path(title: str) -> str:
    """The URL path of a page's sidebar title (Home is the app's root)."""
    return "" if title == "Home" else title.lower().replace(" ", "_")


def go_to(page, title: str) -> None:
    """Navigate with the sidebar link, staying in the same Streamlit session; done once the page has run."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
    path = page_path(title)
    with showing(page, f"waiting for the page {title}"):
        page.wait_for_url(lambda url: urlparse(url).path.strip("/").endswith(path), timeout=60_000)
    settle(page)


def task_nodes(page) -> list[dict]:
    """Screen positions of the task markers, once the graph chart has drawn them."""
    with showing(page, "waiting for the task graph's markers"):
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        page.wait_for_function(f"() => ({NODE_POSITIONS_JS})().length > 0", timeout=60_000)
    settle(page)
    figures_steady(page)  # the markers are where they will stay
    figures_clickable(page)  # and Streamlit listens for clicks on them
    return page.evaluate(NODE_POSITIONS_JS)


def edge_count(page) -> int:
    page.locator('[data-testid="stMain"]').get_by_text(re.compile(r"\d+\s+edges")).first.wait_for(timeout=60_000)
    text = page.locator('[data-testid="stMain"]').inner_text()
    match = re.search(r"(\d+)\s+edges", text)
    assert match, text[:300]
    return int(match.group(1))


def select_two(page, first: str, second: str) -> None:
    """Click task ``first``, then shift-click ``second``; each once the page shows the step before it.

    Clicking on before the click's rerun has drawn its result races the app, not tests it:
    wait for the picker to name the first task, and click where the chart is drawn now.
    """
    picker = page.locator('[data-testid="stMain"] [data-testid="stMultiSelect"]').first
    nodes = {n["name"]: n for n in task_nodes(page)}
    page.mouse.click(nodes[first]["x"], nodes[first]["y"])
    playwright.expect(picker).to_contain_text(first, timeout=60_000)
    nodes = {n["name"]: n for n in task_nodes(page)}  # where the chart is now, after the rerun
    page.keyboard.down("Shift")
    page.mouse.click(nodes[second]["x"], nodes[second]["y"])
    page.keyboard.up("Shift")
    playwright.expect(page.get_by_role("button", name=re.compile("Connect"))).to_be_visible(timeout=60_000)
    settle(page)
    picked = picker.inner_text()
    assert first in picked and second in picked, picked


def connect(page) -> None:
    """Press Connect and wait for the edit's run to finish (its "Connected …" notice, then idle)."""
    page.get_by_role("button", name=re.compile("Connect")).click()
    page.get_by_text(re.compile(r"^Connected .+ with ")).first.wait_for(timeout=60_000)
    settle(page)


def test_a_user_opens_a_sample_connects_tasks_trains_and_visits_every_page(server, browser) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server)
    settle(page)
    page.get_by_text("Relation-Aware Generative", exact=False).first.wait_for(timeout=60_000)
    assert_no_exception(page, "Home")

    # Open a sample with one click.
    page.get_by_role("button", name=re.compile(r"^Open")).first.click()
    settle(page)
    assert_no_exception(page, "Home after opening a sample")

    # Click a task, shift-click a second, connect them.
    go_to(page, "Task graph")
    nodes = task_nodes(page)
    assert len(nodes) >= 4, nodes
    before = edge_count(page)
    select_two(page, nodes[0]["name"], nodes[len(nodes) // 2]["name"])
    connect(page)
    assert_no_exception(page, "Task graph after connecting")
    assert edge_count(page) == before + 1

    # Train to the end with a short run.
    go_to(page, "Train")
    steps = page.get_by_label("Steps", exact=True)
    steps.fill("60")
    steps.press("Tab")
    page.get_by_role("button", name=re.compile("Start training")).click()
    page.get_by_text("Training finished", exact=False).first.wait_for(timeout=180_000)
    settle(page)
    assert_no_exception(page, "Train")

    for title in PAGES:
        go_to(page, title)
        assert_no_exception(page, title)
        assert page.get_by_text("No trained model", exact=False).count() == 0 or title in ("Home", "Checkpoints")
        page.screenshot(path=str(SHOTS / f"{title.lower().replace(' ', '_')}.png"), full_page=True)
    context.close()


def test_two_tabs_do_not_see_each_others_graph(server, browser) -> None:
    first = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    second = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    for page in (first, second):
        page.goto(server)
        settle(page)
        go_to(page, "Task graph")
    base = edge_count(second)
    nodes = task_nodes(first)
    select_two(first, nodes[0]["name"], nodes[len(nodes) // 2]["name"])
    connect(first)
    assert edge_count(first) == base + 1
    second.reload()
    settle(second)
    go_to(second, "Task graph")
    assert edge_count(second) == base


def test_a_link_straight_to_a_page_on_a_fresh_server_gets_the_apps_navigation(browser) -> None:
    """A typed URL as the server's very first request: app.py's titles and sidebar, not raw file names."""
    with streamlit_server(timeout=90) as (url, _proc):
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(url + "/task_graph")
            page.get_by_role("heading", name="Task graph").first.wait_for(timeout=60_000)
            settle(page)
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Message passing" in nav and "task graph" not in nav and "app" not in nav.split(), nav
            sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
            assert "Project:" in sidebar, sidebar[:300]  # app.py's sidebar ran around the page
            assert page.url.split("?")[0].endswith("/task_graph")  # the view link follows in the query
            assert_no_exception(page, "deep link")
        finally:
            page.close()


def test_hostile_names_on_every_page_stay_text_run_no_script_and_fetch_nothing(server, browser) -> None:
    """A checkpoint whose names are HTML, markdown images/links and scripts, uploaded and shown everywhere.

    Nothing it names may run (no dialog), load (no request beyond the app's own origin) or
    disappear: its names are visible as the characters they are.
    """
    from urllib.parse import urlsplit

    from tests.app.hostile import PROJECT, RELATIONS, TASKS, hostile_checkpoint

    _project, data = hostile_checkpoint()
    file_name = "<img src=q onerror=alert(10)> [f](javascript:alert(11)).safetensors"
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    dialogs: list[str] = []
    outside: list[str] = []
    origin = urlsplit(server).netloc
    context.on("request", lambda r: None if r.url.startswith(("data:", "blob:")) or urlsplit(r.url).netloc == origin
               else outside.append(r.url))
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server)
    settle(page)
    go_to(page, "Checkpoints")
    page.locator('input[type="file"]').first.set_input_files(
        {"name": file_name, "mimeType": "application/octet-stream", "buffer": data})
    page.get_by_text("Uploaded and opened", exact=False).first.wait_for(timeout=60_000)
    settle(page)
    main = page.locator('[data-testid="stMain"]')
    assert file_name.removesuffix(".safetensors") in main.inner_text().replace("\u2060", "")  # the card's title

    for title in PAGES:
        go_to(page, title)
        assert_no_exception(page, title)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text().replace("\u2060", "")  # see md_escape
        assert f"Project: {PROJECT}" in sidebar, f"{title}: {sidebar[:300]}"
        if title == "Task graph":
            page.get_by_text("Relations (2)").first.click()
            settle(page)
            text = main.inner_text().replace("\u2060", "")
            assert all(r in text for r in RELATIONS), text[:2000]
            node = task_nodes(page)[0]
            page.mouse.move(node["x"], node["y"])  # Plotly draws the hover label from the task's name
            with showing(page, "waiting for the hover label"):
                page.wait_for_selector(".hoverlayer .hovertext", timeout=30_000)
        if title in ("Message passing", "Embeddings"):  # the focus task is the zero-shot one, an iframe tag
            assert TASKS[3] in main.inner_text().replace("\u2060", "")
        live = page.locator("img[src='x'], img[src='q'], img[src*='127.0.0.1:9'], iframe[srcdoc], "
                            "a[href^='javascript:'], a[href*='127.0.0.1:9'], b[onmouseover]")
        assert live.count() == 0, f"{title}: {live.first.evaluate('e => e.outerHTML')}"
        page.screenshot(path=str(SHOTS / f"hostile_{title.lower().replace(' ', '_')}.png"), full_page=True)
    assert dialogs == [], dialogs
    assert outside == [], outside
    context.close()


def test_a_user_opens_the_text_sample_and_types_a_sentence(server, browser) -> None:
    """The text lesson opens without the transformer; a typed sentence gets every task's answer."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(server)
    settle(page)
    card = page.locator('[data-testid="stVerticalBlock"]').filter(has_text="Text tasks share one transformer") \
        .filter(has=page.get_by_role("button", name=re.compile(r"^Open"))).last
    card.get_by_role("button", name=re.compile(r"^Open")).click()
    settle(page)
    assert_no_exception(page, "Home after opening the text sample")
    page.get_by_text("same task, other domain", exact=False).first.wait_for(timeout=60_000)

    go_to(page, "Task graph")
    page.get_by_role("tab", name="Data preview").click()
    settle(page)
    assert_no_exception(page, "Task graph data preview")

    go_to(page, "Task outputs")
    box = page.get_by_label("Sentence", exact=True)
    box.wait_for(timeout=60_000)
    box.fill("The receptionist was rude and the room smelled of smoke.")
    box.press("Enter")
    page.get_by_text("Every task's answer", exact=False).first.wait_for(timeout=180_000)
    settle(page)
    assert_no_exception(page, "Task outputs after a typed sentence")
    assert page.get_by_text("sentiment · hotels ★", exact=False).count() > 0
    page.screenshot(path=str(SHOTS / "text_sentence.png"), full_page=True)
    page.context.close()


def open_at(browser, server: str, title: str):
    """A fresh tab (its own session) on the app's page ``title``: (context, page, main area)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server)
    settle(page)
    go_to(page, title)
    return context, page, page.locator('[data-testid="stMain"]')


def test_shift_click_right_after_an_edit_selects_both_tasks(server, browser) -> None:
    """After an edit the page reruns with a notice; the next click and shift-click still select two tasks."""
    context, page, main = open_at(browser, server, "Task graph")
    main.get_by_text(re.compile(r"^Relations \(\d+\)")).first.click()
    settle(page)
    main.get_by_label("New relation").fill("opposite")
    main.get_by_role("button", name="Add relation").click()
    settle(page)
    page.get_by_text("Added relation 'opposite'", exact=False).first.wait_for(timeout=30_000)
    nodes = task_nodes(page)
    select_two(page, nodes[0]["name"], nodes[len(nodes) // 2]["name"])
    assert_no_exception(page, "Task graph after an edit and a shift-click")
    context.close()


def test_a_widget_changed_inside_a_tab_keeps_that_tab_open(server, browser) -> None:
    """Apply a layout (an edit, with its notice), then pick another: the Layout tab stays open throughout."""
    context, page, main = open_at(browser, server, "Task graph")
    layout_tab = main.get_by_role("tab", name="Layout")
    layout_tab.click()
    settle(page)
    for choice in ("Kamada-Kawai", "Circular"):
        main.get_by_text(choice, exact=True).click()
        settle(page)
        assert layout_tab.get_attribute("aria-selected") == "true", f"after choosing {choice}"
        main.get_by_role("button", name=re.compile("Apply layout")).click()
        with showing(page, f"waiting for the {choice} layout's notice"):
            page.get_by_text(f"Laid the graph out with the {choice.lower()} layout", exact=False
                             ).first.wait_for(timeout=60_000)
        settle(page)
        assert layout_tab.get_attribute("aria-selected") == "true", f"after applying {choice}"
        apply = main.get_by_role("button", name=re.compile("Apply layout"))
        playwright.expect(apply).to_have_count(1, timeout=30_000)  # the old run's button has gone
        assert apply.is_visible()
    assert_no_exception(page, "Task graph after laying out twice")

    go_to(page, "Checkpoints")  # the samples give two models to compare
    compare = main.get_by_role("tab", name="Compare two models")
    compare.click()
    settle(page)
    main.get_by_label("Model A").click()
    option = page.get_by_role("option").nth(1)
    chosen = option.inner_text().strip()
    option.click()
    with showing(page, "waiting for Model A to show the chosen model"):
        playwright.expect(main.get_by_role("combobox", name="Model A")).to_have_value(
            re.compile(re.escape(chosen)), timeout=30_000)
    settle(page)
    assert compare.get_attribute("aria-selected") == "true", "after choosing model A"
    assert main.get_by_label("Model B").is_visible()
    assert page.get_by_role("button", name="Deploy").count() == 0  # the developer toolbar is hidden
    assert_no_exception(page, "Checkpoints after choosing model A")
    context.close()
