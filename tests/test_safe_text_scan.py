"""Every call that renders markdown in the ui layer gets its text through the safe-text path.

A static scan of ``ragviz/ui``, ``pages`` and ``app.py``: the text argument of each
``markdown``/``warning``/``error``/``info``/``caption``/``write``/``success``/``toast`` call
(on ``st``, a column or a container), and each widget's label and help text, must be built
from literals, app constants (UPPER_CASE names), numbers formatted with a format spec, and
:func:`ragviz.safety.safe_text.md_escape`. Anything else must be listed below with why it
holds no user text; a new call or a changed one fails this test until it is escaped or reviewed.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RENDERS_MARKDOWN = {"markdown", "warning", "error", "info", "caption", "write", "success", "toast", "exception"}
#: Widgets whose label (first argument) renders markdown, images included (shown as icons), and
#: whose ``help`` does too; ``page_link`` takes ``label=``, ``progress`` ``text=``.
WIDGETS = {"button", "download_button", "expander", "checkbox", "radio", "selectbox", "multiselect", "text_input",
           "number_input", "slider", "toggle", "metric", "popover", "page_link", "form_submit_button", "file_uploader",
           "text_area", "color_picker", "select_slider", "link_button", "progress", "status", "spinner", "badge"}
LABEL_KEYWORDS = {"label", "text", "body", "help"}
NOT_STREAMLIT = {"log", "logger", "logging", "warnings"}

#: Expressions inside f-strings reviewed as never holding user text: numbers, fixed app words.
SAFE_EXPRESSIONS = {
    "md_escape": "the safe-text path itself",
    "len": "a number",
    "size_text": "a size in words (digits and units)",
    "format_value": "a formatted metric value",
    "metric_label": "the metric's fixed name",
    "metric_title": "the metric's fixed name",
    "graph.number_of_tasks()": "a number",
    "graph.number_of_edges()": "a number",
    "snap.queue_place": "a number",
    "snap.runs_going": "a number",
    "trace.n_layers": "a number",
    "max(trace.n_layers - 1, 0)": "a number",
    "task.family": "a family name, checked against the fixed list",
    "task.test_size": "a number",
    "used.get(name, 0)": "a number",
    "_device()": "the device's name from torch",
    "graph.domain or '—'": "a domain name from the fixed list",
    "state.run.snapshot().status": "a run status word",
    "snap.status": "a run status word",
    "DEFAULT_K": "a number",
    "sample.title": "a shipped sample's title, written with the code",
    "sample.claim": "a shipped sample's claim, written with the code",
}

#: Parts reviewed as holding no user text, by (file, unsafe parts as the scan names them): why.
REVIEWED = {
    ("ragviz/ui/timeline.py", "text"): "a JSON line written to the timeline file, not a Streamlit call",
    ("ragviz/ui/uncertainty_widgets.py", "guess_message(name, view['reasons'].get(name, ''), rule.max_hops)"):
        "guess_message escapes the task's name and adds fixed sentences",
    ("ragviz/ui/speech_widgets.py", "total"): "a count of test utterances",
    ("ragviz/ui/speech_widgets.py", "wrong | total | shown"): "counts, and a fixed phrase with a count",
    ("ragviz/ui/speech_widgets.py", "_mistake_line(mistake, task.family, speaker, labels)"):
        "_mistake_line escapes every name (word, class, speaker) and adds fixed words and percentages",
    ("ragviz/ui/speech_widgets.py", "voice"): "a voice's fixed name from VOICE_NAMES, or 'this'",
    ("ragviz/ui/checkpoint_widgets.py", "'  \\n'.join([*(f':gray[{line}]' for line in lines[:3] if line), lines[3]])"):
        "card_lines escapes everything read from the file",
    ("ragviz/ui/checkpoint_widgets.py", "lines[4]"): "card_lines escapes everything read from the file",
    ("ragviz/ui/checkpoint_widgets.py", "section.empty"): "a fixed sentence per gallery section",
    ("ragviz/ui/embedding_widgets.py", "play"): "one of two fixed phrases",
    ("ragviz/ui/embedding_widgets.py", "star"): "a fixed ★ marker",
    ("ragviz/ui/graph_editor.py", "zero"): "a count of zero-shot tasks",
    ("ragviz/ui/graph_editor.py", "kind"): "'directed →' or 'undirected'",
    ("ragviz/ui/home_widgets.py", "text"):
        "EQUATIONS' fixed text; a shipped sample's lesson or md_escape of an uploaded one",
    ("ragviz/ui/home_widgets.py", "title"): "md_escape'd the line before",
    ("ragviz/ui/home_widgets.py", "what"): "NEXT_PAGES' fixed descriptions",
    ("ragviz/ui/lesson_contrast.py", "what"): "a fixed label of the contrast row",
    ("ragviz/ui/lesson_panel.py", "text"): "a shipped sample's lesson, or md_escape of an uploaded one",
    ("ragviz/ui/message_widgets.py", "star"): "a fixed ★ marker",
    ("ragviz/ui/message_widgets.py", "layer"): "a layer number",
    ("ragviz/ui/message_widgets.py", "layer | aggregation"): "a number; an aggregation from the fixed list",
    ("ragviz/ui/output_widgets.py", "title"): "metric_title: a fixed name",
    ("ragviz/ui/run_review.py", "kept"): "one of two fixed sentences",
    ("ragviz/ui/run_review.py", "' · '.join((f'**{best_line(r)}**' if not r.best_is_last else best_line(r) "
                                "for r in reports))"): "best_line: fixed words and numbers",
    ("ragviz/ui/run_review.py", "name"): "'accuracy' or 'MSE'",
    ("ragviz/ui/run_review.py", "' and '.join(worse) | numbers"):
        "the fixed group names 'seen' and 'zero-shot', and format_value numbers",
    ("ragviz/ui/task_forms.py", "kind"): "fixed words and a number",
    ("ragviz/ui/task_forms.py", "arrow"): "'→' or '—'",
    ("ragviz/ui/train_widgets.py", "ahead"): "fixed words and a number",
    ("ragviz/ui/train_widgets.py", "note"): "evaluation_every's fixed note with numbers",
    ("ragviz/ui/train_widgets.py", "message"):
        "save_for_session: safe_file_name output (letters, digits, '._ -') inside code spans",
    ("ragviz/ui/uncertainty_widgets.py", "rule | maps"): "fixed sentences",
    # widget labels and help texts
    ("ragviz/ui/checkpoint_widgets.py", "pages"): "a number",
    ("ragviz/ui/checkpoint_widgets.py", "label"): "SOURCE_BADGE's fixed words",
    ("ragviz/ui/graph_editor.py", "label | steps | tip"): "'Undo'/'Redo', a number, fixed tips",
    ("ragviz/ui/graph_tables.py", "which"): "'tasks' or 'edges'",
    ("ragviz/ui/graph_tools.py", "label"): "EXPORTS' fixed format names",
    ("ragviz/ui/home_widgets.py", "page.title"): "a page's fixed title",
    ("ragviz/ui/inside_widgets.py", "label"): "fixed labels from the callers (focus picker, page links)",
    ("ragviz/ui/lesson_contrast.py", "what | snap.step | snap.total"): "'the contrast' or 'the model', numbers",
    ("ragviz/ui/lesson_panel.py", "label"): "a shipped lesson's contrast label, or an ablation's fixed name",
    ("ragviz/ui/lesson_panel.py", "target.label"): "a shipped lesson's go-there label",
    ("ragviz/ui/projector.py", "label"): "fixed section labels from the pages",
    ("ragviz/ui/projector.py", "panel_label"): "fixed panel labels from the pages",
    ("ragviz/ui/run_watcher.py", "what | snap.step | snap.total"): "a fixed run kind, numbers",
    ("ragviz/ui/run_watcher.py", "ahead"): "a sentence built from the queue number",
    ("ragviz/ui/speech_widgets.py", "WORDS[0] | WORDS[-1]"): "the shipped corpus's fixed vocabulary",
    ("ragviz/ui/speech_widgets.py", "star | task.train_size"): "a fixed marker, a validated whole number",
    ("ragviz/ui/task_forms.py", "degree"): "a number",
    ("ragviz/ui/text_widgets.py", "done | total"): "numbers",
    ("ragviz/ui/train_widgets.py", "text"): "fixed words, an ablation's fixed name and numbers",
    ("ragviz/ui/train_widgets.py", "name"): "'accuracy' or 'MSE'",
    ("ragviz/ui/train_widgets.py", "setting.label | setting.help"): "the settings table's fixed labels and help",
    ("ragviz/ui/upload_widgets.py", "label | help | text | text"): "the callers' fixed labels; limit_help's numbers",
}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else ""


def _unsafe_parts(node: ast.expr) -> list[str]:
    """The sources of the parts of a text argument that are not built safely (empty: all safe)."""
    if isinstance(node, ast.Constant) or (isinstance(node, ast.Name) and node.id.isupper()):
        return []
    if isinstance(node, ast.JoinedStr):
        return [part for value in node.values for part in _unsafe_parts(value)]
    if isinstance(node, ast.FormattedValue):
        return [] if node.format_spec is not None else _unsafe_parts(node.value)
    if isinstance(node, ast.BinOp):  # concatenation, or arithmetic on numbers
        return _unsafe_parts(node.left) + _unsafe_parts(node.right)
    if isinstance(node, ast.IfExp):
        return _unsafe_parts(node.body) + _unsafe_parts(node.orelse)
    if ast.unparse(node) in SAFE_EXPRESSIONS:
        return []
    if isinstance(node, ast.Call):
        if _name(node.func) in SAFE_EXPRESSIONS:
            return []
        if isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            return _unsafe_parts(node.func.value) + [p for a in [*node.args, *(k.value for k in node.keywords)]
                                                     for p in _unsafe_parts(a)]
    return [ast.unparse(node)]


def unsafe_calls() -> list[tuple[str, int, str]]:
    """(file, line, unsafe parts joined by ' | ') of every markdown-rendering call whose text is not built safely."""
    found = []
    for path in sorted([*ROOT.glob("ragviz/ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in RENDERS_MARKDOWN | WIDGETS
                    and ast.unparse(node.func.value) not in NOT_STREAMLIT):
                continue
            texts = [k.value for k in node.keywords if k.arg in LABEL_KEYWORDS]
            if node.args and node.func.attr not in ("progress", "page_link"):  # their first argument is data
                texts.insert(0, node.args[0])
            parts = [part for text in texts for part in _unsafe_parts(text)]
            if parts:
                found.append((path.relative_to(ROOT).as_posix(), node.lineno, " | ".join(parts)))
    return found


def test_every_markdown_call_takes_escaped_or_reviewed_text() -> None:
    unreviewed = [f"{path}:{line}: {source}" for path, line, source in unsafe_calls()
                  if (path, source) not in REVIEWED]
    assert not unreviewed, "user text may reach markdown unescaped (wrap it in md_escape, or review it here):\n" \
        + "\n".join(unreviewed)


def test_the_scan_finds_unescaped_text() -> None:
    """The scan itself: a raw name is caught, an escaped one is not."""
    raw = ast.parse('st.error(f"Task {name}: {err}")').body[0].value.args[0]
    escaped = ast.parse('st.error(f"Task {md_escape(name)}: {md_escape(err)} ({count:,})")').body[0].value.args[0]
    assert _unsafe_parts(raw) == ["name", "err"] and _unsafe_parts(escaped) == []


def test_reviewed_entries_still_exist() -> None:
    """A reviewed call that was changed or removed leaves its entry behind: drop it."""
    present = {(path, source) for path, _, source in unsafe_calls()}
    assert set(REVIEWED) <= present, sorted(set(REVIEWED) - present)
