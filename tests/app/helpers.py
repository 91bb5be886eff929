"""AppTest helpers: open the app on a page with a chosen session state."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from streamlit.testing.v1 import AppTest

from ragviz.graph.editing import EditHistory
from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint
from ragviz.training.project import Project
from ragviz.training.train import TrainResult
from ragviz.ui.state import STATE_KEY, AppState, adopt_checkpoint, adopt_run, set_project
from ragviz.ui.train_widgets import WIDGET

APP = Path(__file__).resolve().parents[2] / "app.py"  # AppTest resolves relative paths against this file


def open_page(page: str | None = None, state: AppState | None = None, timeout: float = 60) -> AppTest:
    """Run app.py once (creating the default state), optionally inject ``state``, switch to ``page``."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if state is not None:
        at.session_state[STATE_KEY] = state
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def untrained_state(project: Project) -> AppState:
    state = AppState(project=project.copy(), edits=EditHistory(project.graph))
    set_project(state, project.copy())
    return state


def trained_state(project: Project, result: TrainResult, baseline: str | None = None,
                  baseline_result: TrainResult | None = None) -> AppState:
    """The state right after a run finished in this session (what the run watcher's adopt_run does)."""
    state = untrained_state(project)
    adopt_run(state, SimpleNamespace(result=result, project=project.copy(), baseline=baseline,
                                     baseline_result=baseline_result))
    return state


def checkpoint_state(project: Project, result: TrainResult) -> AppState:
    """The state after opening a checkpoint saved from ``result`` (a full save/load round trip)."""
    state = untrained_state(project)
    ckpt = load_checkpoint(checkpoint_bytes(project, result.model, result.history))
    adopt_checkpoint(state, ckpt, "uploaded: test.safetensors")
    return state


def plain(markdown: str) -> str:
    """Markdown as the reader sees it: backslash escapes (how user text is shown) removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def errors_of(at: AppTest) -> list[str]:
    """Every Streamlit exception or error element's text: a page test asserts this is empty."""
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


def all_element_text(at: AppTest) -> str:
    """Everything every element sends to the browser (values, labels, help texts), as one string."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(parts)


def start_button(at: AppTest):
    """The Train page's Start button."""
    return next(b for b in at.button if b.label == "Start training")


def set_setting(at: AppTest, field: str, value) -> None:
    """Type into one Train page settings widget, e.g. ``set_setting(at, "train.lr", 0)``."""
    key = WIDGET + field
    widget = next(w for w in [*at.number_input, *at.selectbox, *at.checkbox] if w.key == key)
    widget.set_value(value)
