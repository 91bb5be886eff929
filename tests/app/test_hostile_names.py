"""Every page shows hostile names (HTML, markdown images and links, scripts) as plain text.

A checkpoint whose task, relation, parameter, project and file names are attacks is
opened, and every page is run. Each string Streamlit renders as markdown (bodies, labels,
help) must hold only the escaped form, and each Plotly text Plotly renders as HTML must
hold no raw tag. The escaped names must also be there: shown, not dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from ragviz.safety.safe_text import md_escape
from ragviz.storage.checkpoint import load_checkpoint
from ragviz.ui import routing
from ragviz.ui.state import adopt_checkpoint
from tests.app.helpers import errors_of, open_page, plain, untrained_state
from tests.app.hostile import ALL, LESSON, PARAM, PROJECT, RELATIONS, TASKS, hostile_checkpoint, hostile_project

PAGES = [page.path for page in routing.PAGES]
FILE = "<img src=q onerror=alert(10)> [f](javascript:alert(11)).safetensors"
SOURCE = f"uploaded: {FILE.removesuffix('.safetensors')}"
HOSTILE = (*ALL, PARAM, FILE)
#: Proto fields that hold names as data, never rendered as markdown (ids, keys, option values).
DATA_FIELDS = {"id", "formId", "options", "default", "rawValue", "rawValues", "columns", "columnOrder"}
#: Plotly fields that carry names as data only (click mapping, grouping), never drawn.
PLOTLY_DATA = {"customdata", "legendgroup"}


@pytest.fixture(scope="module")
def hostile() -> tuple[Any, bytes]:
    return hostile_checkpoint()


def _state(hostile: tuple[Any, bytes]) -> Any:
    project, data = hostile
    state = untrained_state(project)
    adopt_checkpoint(state, load_checkpoint(data), SOURCE)
    return state


def _leaves(obj: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, k)
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v, key)
    elif isinstance(obj, str):
        yield key, obj


def _elements(node: Any) -> Iterator[dict[str, Any]]:
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "DESCRIPTOR"):
        yield MessageToDict(proto)
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _elements(child)


def _plotly_texts(figure: dict[str, Any]) -> list[str]:
    """Strings Plotly renders as HTML: all but data-only fields and WebGL text (drawn as plain characters)."""
    texts = []
    for trace in figure.get("data", []):
        gl = str(trace.get("type", "")).endswith("gl")
        texts += [s for k, s in _leaves(trace) if k not in PLOTLY_DATA and not (gl and k == "text")]
    for frame in figure.get("frames", []):
        texts += _plotly_texts(frame)
    return texts + [s for _, s in _leaves(figure.get("layout", {}))]


def rendered_texts(at: Any) -> tuple[list[str], list[str]]:
    """(markdown-rendered strings, Plotly-rendered strings) of every element on the page."""
    markdown, plotly = [], []
    for element in _elements(at._tree):
        for key, text in _leaves(element):
            if key == "spec":
                plotly += _plotly_texts(json.loads(text))
            elif key not in DATA_FIELDS:
                markdown.append(text)
    return markdown, plotly


def assert_never_raw(at: Any, page: str, hostile: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """No hostile string reaches markdown as it is, nor Plotly when it holds a tag; returns both texts."""
    markdown, plotly = rendered_texts(at)
    for text in hostile:
        live = [m for m in markdown if text in m]
        assert not live, f"{page}: {text!r} reaches markdown unescaped: {live[:2]}"
        if "<" in text:
            tags = [p for p in plotly if text in p]
            assert not tags, f"{page}: {text!r} reaches Plotly unescaped: {tags[:2]}"
    return markdown, plotly


#: An address GFM would turn into a link: one not preceded by md_escape's word joiner.
LIVE_AUTOLINK = re.compile(r"(?<!\u2060)(www\.example\.|mail@evil\.example)")


def assert_plain(at: Any, page: str) -> list[str]:
    assert errors_of(at) == [], page
    markdown, _ = assert_never_raw(at, page, HOSTILE)
    links = [m for m in markdown if LIVE_AUTOLINK.search(m)]
    assert not links, f"{page}: an address would become a live link: {links[:2]}"
    assert any(md_escape(PROJECT) in m for m in markdown), f"{page}: the project name is not shown"
    return markdown


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_hostile_names_as_plain_text(hostile, page: str) -> None:
    state = _state(hostile)
    state.selection = [TASKS[0]]
    at = open_page(page, state)
    markdown = assert_plain(at, page)
    shown = "\n".join(plain(m) for m in markdown)
    assert SOURCE in shown or page == "pages/embeddings.py"  # the sidebar's "Model:" line
    if page == "pages/task_graph.py":  # the task card, the relations panel, a parameter's label
        for text in (TASKS[0], *RELATIONS, PARAM):
            assert any(md_escape(text) in m for m in markdown), text
    if page in ("pages/message_passing.py", "pages/embeddings.py"):  # the focus task: the zero-shot one
        assert any(md_escape(TASKS[3]) in m for m in markdown)
    if page == "pages/home.py":  # an uploaded checkpoint's lesson is text, not markdown
        assert all(any(md_escape(line) in m for m in markdown) for line in LESSON.splitlines())


def test_a_hostile_file_name_on_a_checkpoint_card_is_plain_text(hostile) -> None:
    state = _state(hostile)
    at = open_page(None, state)
    state.uploads[FILE] = hostile[1]
    at.switch_page("pages/checkpoints.py")
    at.run()
    markdown = assert_plain(at, "checkpoints with an upload")
    assert any(md_escape(FILE.removesuffix(".safetensors")) in m for m in markdown)


def test_importing_a_graph_with_hostile_names_says_so_in_plain_text(hostile) -> None:
    """The pasted-JSON importer accepts the (valid) names; its notice and every view escape them."""
    state = _state(hostile)
    at = open_page("pages/task_graph.py", state)
    pasted = json.dumps(hostile_project().graph.to_dict())
    area = next(t for t in at.text_area if t.label == "Graph JSON")
    area.input(pasted).run()
    next(b for b in at.button if b.label == "Import pasted JSON").click().run()
    assert_plain(at, "after import")
    assert "Imported pasted.json: 4 tasks, 4 edges" in plain(at.toast[0].value)
