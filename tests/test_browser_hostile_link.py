"""A view link whose every field is markdown, HTML or an autolink, opened in real headless Chromium.

The red team's link (issue 23) named a text-table task ``![x](http://…)`` and
``[Session expired](http://…)``: the Task graph page's data-preview error fetched the image and
showed a live phishing link. Here the project name, task names, relation names, the focus task
and a what-if edit are all such strings, and names like ``www.example.com`` would be autolinks.
On every page nothing may become a link or an image, nothing may load from outside the app's
origin, and the names must be visible as the characters they are.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from test_browser import PAGES, assert_no_exception, go_to, settle

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, make_task
from ragviz.inspection.counterfactual import with_edge
from ragviz.storage.view_link import View, encode_view

BEACON = "http://127.0.0.1:9/beacon"
TASKS = (f"![x]({BEACON}?task)", "[Session expired](http://127.0.0.1:9/login)", "visit www.example.com now")
RELATION = "see https://example.org/r"
PROJECT = "mail me@evil.example or www.example.com"
EDIT = f"[undo]({BEACON}?edit)"
#: What a name turned into markup would become: a link or an image.
LIVE = "a[href*='example'], a[href*='127.0.0.1:9'], a[href^='mailto:'], img[src*='127.0.0.1:9']"


def assert_nothing_live(app, where: str) -> None:
    live = app.locator(LIVE)
    assert live.count() == 0, f"{where}: {live.first.evaluate('e => e.outerHTML')}"


def hostile_link() -> str:
    graph = TaskGraph([Relation(RELATION, False, "#1f77b4")])
    for k, name in enumerate(TASKS):
        graph.add_task(make_task(name, "text_table", {"table": "texts", "task": name}, 0 if k == 2 else 3, 2, k))
    graph.add_edge(TASKS[0], TASKS[1], RELATION)
    whatif = with_edge(graph, TASKS[1], TASKS[2], RELATION)
    return encode_view(View(name=PROJECT, graph=graph, focus=TASKS[2], whatif=whatif, whatif_edits=[EDIT])).token


def test_a_hostile_link_shows_plain_text_on_every_page(server, browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside: list[str] = []
    origin = urlsplit(server).netloc
    context.on("request", lambda r: None if r.url.startswith(("data:", "blob:")) or urlsplit(r.url).netloc == origin
               else outside.append(r.url))
    page = context.new_page()
    page.goto(f"{server}/task_graph?view={hostile_link()}")
    settle(page)
    for title in ["Task graph", *[p for p in PAGES if p != "Task graph"]]:
        if title != "Task graph":
            go_to(page, title)
        page.wait_for_timeout(1000)
        settle(page)
        assert_no_exception(page, title)
        app = page.locator('[data-testid="stApp"]')
        assert_nothing_live(app, title)
        shown = app.inner_text().replace("\u2060", "")  # md_escape's invisible word joiner
        assert PROJECT in shown, f"{title}: the project name is not shown as text"
        if title == "Task graph":  # the preview says each task's table is missing, naming it as typed
            page.get_by_role("tab", name="Data preview").click()
            settle(page)
            assert_nothing_live(app, "the data preview")
            shown = app.inner_text().replace("\u2060", "")
            for name in TASKS:
                assert re.search(re.escape(f"Task '{name}'"), shown), f"{name!r} not shown: {shown[:1500]}"
    assert outside == [], outside
    context.close()
