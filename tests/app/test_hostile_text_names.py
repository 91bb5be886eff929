"""Hostile names in a text table (task values, texts, class names) and in links stay plain text on every page.

The red team's attacks (issue 23): a view link whose text-table task is named like a markdown
image or a phishing link rendered live in the Task graph page's data-preview error, and names
like ``www.example.com`` became live links in warnings. Here every such string is a task, a
text or a class name, and every page is run: markdown must hold only the escaped form (an
autolink keeps its invisible word joiner in front), Plotly no raw tag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ragviz.data import text_cache, text_encoder
from ragviz.data.text import load_corpus, load_text_table
from ragviz.graph.generators import text_table_graph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.safe_text import html_text, md_escape
from ragviz.storage.view_link import View, encode_view
from ragviz.training.project import Project
from ragviz.training.train import train
from ragviz.ui import routing
from tests.app.helpers import checkpoint_state, errors_of, open_page
from tests.app.hostile import BEACON
from tests.app.test_hostile_names import LIVE_AUTOLINK, assert_never_raw, rendered_texts
from tests.app.test_view_link_page import open_link

AUTOLINK = "www.example.com"
TASK_NAMES = (f"![x]({BEACON}?task)", "[Session expired](http://127.0.0.1:9/login)", f"visit {AUTOLINK} now")
CLASSES = ("<b>neg</b> mail@evil.example", f"[pos]({BEACON}?class) {AUTOLINK}")
TEXTS = (f"<img src=x onerror=alert(1)> {AUTOLINK}", f"![t]({BEACON}?text)", "**bold** :red[red] $x$")
HOSTILE = (*TASK_NAMES, *CLASSES, *TEXTS)


@pytest.fixture(scope="module")
def hostile_text():
    """A trained text-table project whose task values, texts and class names are all attacks."""
    corpus = load_corpus("reviews")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(text_encoder, "encode_uncached",
                      lambda texts, progress=None, batch_size=32: np.stack(
                          [corpus.vectors[hash(t) % len(corpus.vectors)] for t in texts]))
        text_cache.clear_memory()
        rows = [(f"{TEXTS[i % 3]} #{i}", TASK_NAMES[i % 3], CLASSES[(i // 3) % 2]) for i in range(24)]
        table = load_text_table(pd.DataFrame(rows, columns=["text", "task", "label"]))
        text_cache.clear_memory()
    graph = text_table_graph(table, "texts")
    project = Project(graph, ModelConfig(hidden=8), TrainConfig(steps=4, eval_every=2), {"texts": table},
                      name="hostile texts")
    return project, train(project.graph, project.model_config, project.train_config, project.tables)


def assert_plain_text(at, page: str) -> list[str]:
    markdown, _ = assert_never_raw(at, page, HOSTILE)
    links = [m for m in markdown if LIVE_AUTOLINK.search(m)]
    assert not links, f"{page}: an autolink would be live: {links[:2]}"
    return markdown


@pytest.mark.parametrize("page", [page.path for page in routing.PAGES])
def test_hostile_text_table_names_are_plain_on_every_page(hostile_text, page: str) -> None:
    at = open_page(page, checkpoint_state(*hostile_text))
    assert errors_of(at) == [], page
    assert_plain_text(at, page)
    if page == "pages/embeddings.py":  # shown, not dropped: a task name, a class name and a text, escaped
        plotly = rendered_texts(at)[1]
        assert all(any(html_text(s) in p for p in plotly) for s in (TASK_NAMES[0], CLASSES[0], TEXTS[0]))


def test_a_link_to_hostile_text_tasks_shows_the_preview_error_as_plain_text(hostile_text) -> None:
    """The link carries the graph but no table: the preview says so, each task's name escaped."""
    project, _ = hostile_text
    at = open_link(encode_view(View(name="texts", graph=project.graph)).token, "pages/task_graph.py")
    assert [e.value for e in at.exception] == []
    markdown = assert_plain_text(at, "task graph from a link")
    errors = [e.value for e in at.error]
    for name in TASK_NAMES:
        assert any(md_escape(f"Task '{name}'") in e for e in errors), (name, errors)
    assert markdown

