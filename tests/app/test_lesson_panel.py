"""The open lesson beside every page: its contrast's figures, go-there links, one click to train the contrast."""

from __future__ import annotations

import time

import pytest

from ragviz.lessons.graphs import hop_distance
from ragviz.lessons.samples import recorded_results
from ragviz.lessons.view import claim_tasks
from ragviz.ui import embedding_widgets, lesson_panel, message_widgets
from ragviz.ui.home_widgets import open_sample
from ragviz.ui.routing import PAGES
from ragviz.ui.state import FOCUS_PICKERS, STATE_KEY
from tests.app.helpers import errors_of, open_page, plain

TASK_OUTPUTS = "pages/task_outputs.py"


def _opened(key: str):
    at = open_page()
    open_sample(at.session_state[STATE_KEY], key)
    at.run()
    return at


def _button(at, start: str, where=None):
    return next(b for b in (where or at.sidebar).button if b.label.startswith(start))


def _table(where, first_column: str, has: str):
    """The dataframe shown in ``where`` whose first column is ``first_column`` and that has column ``has``."""
    return next(d.value for d in where.dataframe if d.value.columns[0] == first_column and has in d.value.columns)


def _sidebar_text(at) -> str:
    return "\n".join(plain(str(e.value)) for e in [*at.sidebar.markdown, *at.sidebar.caption])


def test_the_go_there_keys_are_the_ones_the_pages_read() -> None:
    assert set(FOCUS_PICKERS) == {f"{message_widgets.PREFIX}_focus", f"{embedding_widgets.PREFIX}_focus"}
    paths = {page.path for page in PAGES}
    for page in ("task_graph", "train", "message_passing", "embeddings", "task_outputs"):
        assert lesson_panel.page_path(page) in paths


@pytest.mark.parametrize("page", [p.path for p in PAGES])
def test_the_lesson_and_its_contrast_figures_are_beside_every_page(page: str) -> None:
    at = _opened("wrong_relations")
    at.switch_page(page)
    at.run()
    assert errors_of(at) == []
    text = _sidebar_text(at)
    assert "**Lesson:** Wrong relations hurt" in text
    recorded = recorded_results()["wrong_relations"]
    table = next(t.value for t in at.sidebar.table)
    assert [float(v) for v in table["shuffled edges"]] == pytest.approx(recorded.contrast, abs=5e-4)
    assert [float(v) for v in table["right edges"]] == pytest.approx(recorded.model, abs=5e-4)
    weakest = recorded.seeds[min(range(5), key=lambda i: recorded.model[i] - recorded.contrast[i])]
    assert f"{weakest} ▼" in list(table.index)
    assert f"Weakest seed {weakest}" in text
    assert any(b.label == "Train the contrast (shuffled edges)" for b in at.sidebar.button)


def test_go_there_opens_message_passing_on_a_three_hop_task_at_layer_three() -> None:
    at = _opened("message_passing_hops")
    state = at.session_state[STATE_KEY]
    three_hops = claim_tasks("message_passing_hops", state.project.graph)
    _button(at, "A 3-hop task at layer 3").click().run()
    assert errors_of(at) == []
    assert [t.value for t in at.title] == ["Message passing"]
    assert at.selectbox(key="mp_focus").value == three_hops[0]
    assert hop_distance(state.project.graph)[three_hops[0]] == 3
    assert at.radio(key="mp_layer").value == 3
    # On Task outputs (61 tasks, more than a page) the claim's tasks are the ones picked to show.
    _button(at, "Its curve vs the dashed truth").click().run()
    assert [t.value for t in at.title] == ["Task outputs"]
    picked = [m for m in at.multiselect if m.label == "Or pick tasks"]
    assert picked and picked[0].value == three_hops


def test_go_there_on_task_graph_selects_the_task() -> None:
    at = _opened("wrong_relations")
    _button(at, "A zero-shot task's edges").click().run()
    assert errors_of(at) == []
    assert [t.value for t in at.title] == ["Task graph"]
    state = at.session_state[STATE_KEY]
    assert state.selection == claim_tasks("wrong_relations", state.project.graph)[:1]


def test_task_outputs_shows_the_recorded_contrast_and_trains_it_in_one_click() -> None:
    at = _opened("zero_shot_ring")
    at.switch_page(TASK_OUTPUTS)
    at.run()
    recorded = _table(at.main, "seed", "no edges")
    assert list(recorded["no edges"]) == pytest.approx(recorded_results()["zero_shot_ring"].contrast)
    _button(at, "Train the contrast (no edges)", at.main).click().run()
    state = at.session_state[STATE_KEY]
    assert state.run is not None and state.run.baseline == "no edges"
    deadline = time.monotonic() + 240
    while not state.run.snapshot().done and time.monotonic() < deadline:
        time.sleep(0.5)
    at.run()
    at.run()
    assert errors_of(at) == []
    assert state.baseline is not None and state.baseline.name == "no edges"
    live = _table(at.main, "task", "no edges")
    zero = claim_tasks("zero_shot_ring", state.project.graph)
    assert list(live["task"]) == [*zero, "Mean"] and list(live["zero-shot"][:-1]) == ["★"] * len(zero)
    # Same data and seed as the shipped sample: the model and its contrast score what the build recorded.
    assert live["RAG"].iloc[-1] == pytest.approx(recorded["RAG"].iloc[0], abs=1e-6)
    assert live["no edges"].iloc[-1] == pytest.approx(recorded["no edges"].iloc[0], abs=1e-6)
    assert "**Lesson:** Zero-shot tasks from relations" in _sidebar_text(at)  # the lesson stays open after training


def test_the_same_model_contrast_needs_no_training_and_shows_both_rings() -> None:
    at = _opened("when_zero_shot_fails")
    at.switch_page(TASK_OUTPUTS)
    at.run()
    assert errors_of(at) == []
    assert not [b for b in [*at.main.button, *at.sidebar.button] if b.label.startswith("Train the contrast")]
    live = _table(at.main, "task", "this model")
    assert [t.split()[0] for t in live["task"]] == ["fails", "works"]


def test_closing_the_lesson_or_opening_another_project_takes_it_away() -> None:
    at = _opened("few_shot")
    at.switch_page(TASK_OUTPUTS)
    at.run()
    assert at.radio(key="to_mode_many").value == "predicted class"  # three classes: the class map first
    _button(at, "Close the lesson").click().run()
    assert "Lesson:" not in _sidebar_text(at)
    assert not [d for d in at.main.dataframe if d.value.columns[0] == "seed"]
    open_sample(at.session_state[STATE_KEY], "few_shot")
    at.run()
    assert "**Lesson:** Few-shot tasks borrow from their neighbours" in _sidebar_text(at)


def test_a_generated_graph_closes_the_lesson_and_an_edit_keeps_it() -> None:
    at = _opened("zero_shot_ring")
    at.switch_page("pages/task_graph.py")
    at.run()
    assert "**Lesson:** Zero-shot tasks from relations" in _sidebar_text(at)
    state = at.session_state[STATE_KEY]
    first = state.project.graph.task_names()[0]
    state.selection = [first]
    at.run()
    next(c for c in at.checkbox if c.label.startswith("Also delete its")).check().run()
    _button(at, "Delete task", at.main).click().run()
    assert first not in state.project.graph.nx and "Lesson:" in _sidebar_text(at)  # an edit: still the lesson
    at.number_input(key=next(n.key for n in at.number_input if n.label == "Tasks")).set_value(5)
    _button(at, "Generate (replaces the graph)", at.main).click().run()
    assert not errors_of(at) and state.project.graph.number_of_tasks() == 5
    assert "Lesson:" not in _sidebar_text(at)  # its claim was about the graph that went


def test_go_there_opens_embeddings_on_the_failing_zero_shot_task() -> None:
    at = _opened("when_zero_shot_fails")
    _button(at, "Where it lands").click().run()
    assert errors_of(at) == []
    assert [t.value for t in at.title] == ["Embeddings"]
    assert at.selectbox(key="em_focus").value.startswith("fails")
