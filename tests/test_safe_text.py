"""User text shown as plain text (``ragviz.safety.safe_text``) and names that are visible text (``check_name``)."""

from __future__ import annotations

import html
import re
import string
import tomllib
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import NAME_MAX, PROJECT_NAME_MAX, Relation, Task, check_name
from ragviz.safety.errors import GraphError
from ragviz.safety.safe_text import HIDDEN_CATEGORIES, WORD_JOINER, html_text, md_escape, visible
from ragviz.training.project import Project

ROOT = Path(__file__).resolve().parents[1]
ATTACKS = [
    "<img src=x onerror=alert(1)>",
    "![b](http://127.0.0.1:9/beacon)",
    "[x](javascript:alert(1))",
    '<iframe srcdoc="<script>alert(1)</script>">',
    "<http://evil.example>",
    "www.evil.example/path",
    "$\\href{javascript:alert(1)}{x}$",
    ":red[red] :material/warning: **bold** `code` ~~gone~~",
    "# heading",
    "1. list",
    "&lt;b&gt; &#60;",
    "a | b\n--|--\nc | d",
]
#: Characters that start markdown, HTML, entities, maths or Streamlit directives.
ACTIVE = "\\`*_[]{}()<>#+-.!|~$:&"
HIDDEN = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
          "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c", "\x00", "\x1b", "\x7f", "\x85",
          "\u2028", "\u2029", "\ud800", "\udfff"]


def unescape(markdown: str) -> str:
    """What a CommonMark reader shows for text made only of characters and backslash escapes."""
    text = re.sub(r"\\([" + re.escape(string.punctuation) + "])", r"\1", markdown).replace("  \n", "\n")
    return text.replace(WORD_JOINER, "")


def unescaped_active(markdown: str) -> list[str]:
    """Active characters not preceded by a backslash (an even run of backslashes escapes nothing)."""
    found, i = [], 0
    while i < len(markdown):
        if markdown[i] == "\\":
            i += 2
            continue
        if markdown[i] in ACTIVE:
            found.append(markdown[i])
        i += 1
    return found


# ------------------------------------------------------------------------------ md_escape
@pytest.mark.parametrize("attack", ATTACKS)
def test_md_escape_leaves_no_active_character_and_reads_back_as_the_text(attack: str) -> None:
    escaped = md_escape(attack)
    assert unescaped_active(escaped) == []
    assert unescape(escaped) == attack


@given(st.text())
def test_md_escape_of_any_text_reads_back_as_its_visible_form(text: str) -> None:
    escaped = md_escape(text)
    assert unescaped_active(escaped) == []
    assert unescape(escaped) == visible(text.replace("\r\n", "\n"), keep_newlines=True)
    escaped.encode("utf-8")  # never a lone surrogate: Streamlit could not send it


@pytest.mark.parametrize("text", ["www.evil.example", "see http://evil.example/x", "HTTPS://a.b", "me@evil.example",
                                  "mailto:me@evil.example"])
def test_text_that_gfm_would_autolink_gets_a_word_joiner_before_the_link(text: str) -> None:
    escaped = md_escape(text)
    for start in ("www", "http", "HTTPS", "@", "mailto"):
        at = text.find(start)
        if at >= 0:
            assert escaped.find(WORD_JOINER + start) >= 0, escaped
    assert unescape(escaped) == text


def test_md_escape_keeps_plain_words_and_line_breaks_readable() -> None:
    assert md_escape("moons 0°, it's \"fine\"; 50% / 2 = 25?") == "moons 0°, it's \"fine\"; 50% / 2 = 25?"
    assert md_escape("one\ntwo") == "one  \ntwo"


# ------------------------------------------------------------------------------ html_text
@given(st.text())
def test_html_text_has_no_tag_and_unescapes_to_the_visible_text(text: str) -> None:
    shown = html_text(text)
    assert "<" not in shown and ">" not in shown
    assert html.unescape(shown) == visible(text)


@pytest.mark.parametrize("attack", ATTACKS)
def test_html_text_of_an_attack_is_inert(attack: str) -> None:
    assert "<" not in html_text(attack) and html.unescape(html_text(attack)) == visible(attack)


# ------------------------------------------------------------------------------ visible
@pytest.mark.parametrize("ch", HIDDEN)
def test_visible_writes_every_hidden_character_as_an_escape(ch: str) -> None:
    shown = visible(f"a{ch}b")
    assert shown == f"a\\{'x' if ord(ch) < 0x100 else 'u'}{ord(ch):0{2 if ord(ch) < 0x100 else 4}x}b"


# ------------------------------------------------------------------------------ check_name
@pytest.mark.parametrize("ch", HIDDEN)
def test_a_name_with_a_hidden_character_is_refused_naming_it(ch: str) -> None:
    with pytest.raises(GraphError) as err:
        check_name(f"moons{ch}0")
    message = str(err.value)
    assert "names must be visible text" in message
    if unicodedata.category(ch) == "Cs":
        assert "lone surrogate" in message
    else:
        assert f"U+{ord(ch):04X}" in message
    message.encode("utf-8")  # the message itself can be shown
    assert visible(message) == message


@pytest.mark.parametrize("name", ["moons 0°", "模型", "réseau", "🌙 moon", "a<b>&c", "![x](y)", "x" * NAME_MAX])
def test_visible_names_are_accepted(name: str) -> None:
    assert check_name(name) == name


def test_names_are_nfc_normalised_and_stripped_so_lookalikes_are_one_name() -> None:
    decomposed, composed = "re\u0301seau", "réseau"
    assert check_name(f"  {decomposed} ") == composed
    graph = TaskGraph([Relation("near")])
    graph.add_task(Task(composed, "moons"))
    with pytest.raises(GraphError, match="already exists"):
        graph.add_task(Task(decomposed, "moons"))
    graph.add_task(Task("other", "moons"))
    graph.add_edge(decomposed, "other", "near")  # a file may spell the reference either way
    assert [(e.source, e.target) for e in graph.edges()] == [(composed, "other")]


def test_a_zero_width_twin_is_refused_not_a_second_task() -> None:
    graph = TaskGraph()
    graph.add_task(Task("moons", "moons"))
    with pytest.raises(GraphError, match="U\\+200B ZERO WIDTH SPACE"):
        graph.add_task(Task("moons\u200b", "moons"))
    assert graph.task_names() == ["moons"]


def test_length_limits_name_the_limit_and_the_length() -> None:
    with pytest.raises(GraphError, match=f"longer than {NAME_MAX} characters \\(it has 10,000,000\\)"):
        check_name("x" * 10_000_000)
    with pytest.raises(GraphError, match=f"project name .* longer than {PROJECT_NAME_MAX} characters"):
        Project(TaskGraph(), name="p" * (PROJECT_NAME_MAX + 1))
    assert Project(TaskGraph(), name="p" * PROJECT_NAME_MAX).name == "p" * PROJECT_NAME_MAX


def test_relation_and_parameter_names_are_checked_too() -> None:
    with pytest.raises(GraphError, match="relation name"):
        TaskGraph().add_relation("near\u202e")
    with pytest.raises(GraphError, match="parameter name"):
        TaskGraph().add_task(Task("a", "moons", {"noise\u200b": 0.1}))


@given(st.text(max_size=120))
def test_check_name_returns_visible_nfc_text_within_the_limit_or_refuses(text: str) -> None:
    try:
        name = check_name(text)
    except GraphError as err:
        str(err).encode("utf-8")
        return
    assert 0 < len(name) <= NAME_MAX and name == name.strip()
    assert unicodedata.is_normalized("NFC", name)
    assert not any(unicodedata.category(c) in HIDDEN_CATEGORIES for c in name)


# ------------------------------------------------------------------------------ server config
def test_the_server_never_shows_tracebacks_or_developer_menus() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "minimal"


def test_a_crash_shows_a_generic_message_without_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    monkeypatch.chdir(ROOT)
    config.get_config_options(force_reparse=True)  # read .streamlit/config.toml from the project root
    at = AppTest.from_string("raise ValueError('secret at /srv/ragviz/app.py')")
    at.run()
    shown = at.exception[0]
    assert "/srv/ragviz" not in shown.value and "ValueError" not in shown.value
    assert list(shown.stack_trace) == []


#: The one st.html in the app: projector mode's fixed stylesheet, made from a screen's numbers alone.
PROJECTOR_CSS_CALL = ("ragviz/ui/projector.py",
                      "st.html(projector_css(projector_screen() if projector_on() else None))")


def test_no_page_renders_raw_html() -> None:
    """The one way user text could become live HTML in Streamlit is switched off everywhere."""
    sources = [*ROOT.glob("ragviz/**/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]
    found = [(str(p.relative_to(ROOT)), i, line.strip()) for p in sources
             for i, line in enumerate(p.read_text().splitlines(), 1)
             if re.search(r"unsafe_allow_html\s*=\s*True|\bst\.html\(|components\.v1", line)]
    offenders = [f"{path}:{i}" for path, i, line in found if (path, line) != PROJECTOR_CSS_CALL]
    assert offenders == []


def test_the_projector_stylesheet_is_fixed_text_made_of_numbers() -> None:
    """Projector mode's st.html holds one style tag built from the screen's numbers: nothing a user sets."""
    import inspect

    from ragviz.plots.projector import SCREENS, Screen
    from ragviz.ui.projector import projector_css

    assert list(inspect.signature(projector_css).parameters) == ["screen"]
    sheets = {projector_css(screen) for screen in SCREENS.values()}
    assert len(sheets) == len(SCREENS)  # each screen its own sizes
    for sheet in sheets:
        assert re.fullmatch(r"<style>[^<>]*</style>", sheet), sheet
        assert re.sub(r"\d+", "", sheet) == re.sub(r"\d+", "", projector_css(Screen("x", 1, 1, 9)))
    assert re.fullmatch(r"<style>[^<>0-9]*</style>", projector_css(None))  # the mode off: fixed, no sizes
    hostile = Screen("</style><script>alert(1)</script>", 1280, 720, 17)
    assert "script" not in projector_css(hostile)  # the label is never part of it
