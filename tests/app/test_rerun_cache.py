"""Cheaper reruns (issue 20, item 6): a rerun that changes nothing rebuilds no figure, a new focus task
rebuilds only what shows the focus, and what a page shows is the same as a fresh session would draw."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

import ragviz.ui.checkpoint_widgets as checkpoint_widgets
import ragviz.ui.embedding_widgets as embedding_widgets
import ragviz.ui.graph_editor as graph_editor
import ragviz.ui.graph_tools as graph_tools
import ragviz.ui.message_widgets as message_widgets
import ragviz.ui.model_banner as model_banner
import ragviz.ui.output_widgets as output_widgets
import ragviz.ui.run_review as run_review
from ragviz.ui.state import STATE_KEY
from tests.app.helpers import errors_of, open_page, trained_state

#: page -> the builders it must not call again on a rerun that changes nothing: (module, function name)
BUILDERS: dict[str, list[tuple[Any, str]]] = {
    "pages/train.py": [(run_review, "replay_curves"), (run_review, "replay_embedding"),
                       (run_review, "comparison_figure"), (run_review, "curve_colors")],
    "pages/task_graph.py": [(graph_editor, "graph_figure"), (graph_tools, "data_preview_figure")],
    "pages/task_outputs.py": [(output_widgets, "outputs_figure")],
    "pages/message_passing.py": [(message_widgets, "message_figure"), (message_widgets, "task_hovers"),
                                 (message_widgets, "state_heatmap"), (message_widgets, "incoming_figure")],
    "pages/embeddings.py": [(embedding_widgets, "map_parts"), (embedding_widgets, "embedding_figure")],
    "pages/checkpoints.py": [(checkpoint_widgets, "comparison_figure")],
}


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def count_calls(monkeypatch, builders: list[tuple[Any, str]]) -> Counter:
    calls: Counter = Counter()
    for module, name in builders:
        original = getattr(module, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return calls


@pytest.mark.parametrize("page", list(BUILDERS))
def test_a_rerun_that_changes_nothing_rebuilds_no_figure_and_draws_the_same(page, trained_ring, monkeypatch):
    at = open_page(page, trained_state(*trained_ring))
    at.run()
    before = charts(at)
    assert before and errors_of(at) == []
    calls = count_calls(monkeypatch, [*BUILDERS[page], (model_banner, "model_fit")])
    at.run()
    assert errors_of(at) == []
    assert dict(calls) == {}
    assert charts(at) == before


def test_a_new_focus_rebuilds_only_what_shows_it_and_matches_a_fresh_session(trained_ring, monkeypatch):
    page = "pages/message_passing.py"
    at = open_page(page, trained_state(*trained_ring))
    picker = next(s for s in at.selectbox if s.key == "mp_focus")
    other = next(n for n in trained_ring[0].graph.task_names() if n != picker.value)
    calls = count_calls(monkeypatch, BUILDERS[page])
    picker.set_value(other)
    at.run()
    assert errors_of(at) == []
    assert calls["message_figure"] == 1 and calls["task_hovers"] == 0  # the tasks' hover is kept
    fresh_state = trained_state(*trained_ring)
    fresh_state.focus = other
    fresh = open_page(page, fresh_state)
    assert next(s for s in fresh.selectbox if s.key == "mp_focus").value == other
    assert charts(at) == charts(fresh)


def test_an_edited_graph_is_drawn_anew_not_from_the_kept_figure(trained_ring) -> None:
    at = open_page("pages/task_graph.py", trained_state(*trained_ring))
    state = at.session_state[STATE_KEY]
    first = state.project.graph.task_names()[0]
    graph = state.project.graph.copy()
    graph.rename_task(first, "renamed task")
    state.project.graph = graph
    at.run()
    assert errors_of(at) == []
    names = [p for c in charts(at) for t in c["data"] for p in (t.get("customdata") or []) if isinstance(p, str)]
    assert "renamed task" in names and first not in names
