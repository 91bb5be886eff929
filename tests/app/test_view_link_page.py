"""The view in the URL, in the app: a link's view opens, a bad link gives a message and Home,
and the session's view is written back into the URL."""

from __future__ import annotations

from types import SimpleNamespace

from streamlit.testing.v1 import AppTest

from ragviz.graph.generators import generate_graph
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import make_task
from ragviz.inspection.counterfactual import with_edge
from ragviz.lessons.samples import load_sample
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.safe_text import md_escape
from ragviz.storage.view_link import View, build_view, encode_view, read_link
from ragviz.training.project import Project
from ragviz.ui import message_widgets, projector, view_url
from ragviz.ui.state import LAYER_KEY, STATE_KEY, TRAINED_HERE, adopt_run
from tests.app.helpers import APP, open_page, plain, untrained_state
from tests.app.hostile import PROJECT, RELATIONS, TASKS, hostile_project
from tests.helpers import small_ring

SAMPLE = "zero_shot_ring"


def open_link(token: str, page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params[view_url.PARAM] = token
    if page is not None:
        at.switch_page(page)
    at.run()
    return at


def texts(at: AppTest) -> str:
    return "\n".join(plain(str(e.value)) for e in [*at.error, *at.warning, *at.info, *at.markdown, *at.caption])


def url_token(at: AppTest) -> str:
    """The view the app wrote into the URL."""
    value = at.query_params[view_url.PARAM]
    return value if isinstance(value, str) else value[-1]


def url_view(at: AppTest, sample_graph=None) -> View:
    return build_view(read_link(url_token(at)), sample_graph)


def test_a_link_to_an_edited_graph_restores_it_and_says_plainly_the_model_must_be_trained() -> None:
    graph = small_ring(5)
    view = View(name="My five moons", graph=graph, model_config=ModelConfig(layers=3),
                train_config=TrainConfig(steps=77), focus="moons 144°")
    at = open_link(encode_view(view).token)
    state = at.session_state[STATE_KEY]
    assert [e.value for e in at.exception] == [] and list(at.error) == []
    assert state.project.graph == graph and state.project.name == "My five moons"
    assert state.project.model_config == ModelConfig(layers=3) and state.project.train_config.steps == 77
    assert state.trained is None and state.sample_key is None
    assert "a link cannot carry a trained model" in texts(at) and "Train it again" in texts(at)
    assert any("cannot carry a trained model" in w.value for w in at.sidebar.warning)
    assert url_view(at).graph == graph  # the URL keeps holding the view
    link = at.sidebar.code[0].value
    assert link.startswith("?view=") and link.endswith(url_token(at))


def test_a_sample_link_brings_back_the_samples_model_layer_and_focus() -> None:
    focus = "moons 90°"
    at = open_link(encode_view(View(name="Zero-shot", sample=SAMPLE, layer=1, focus=focus)).token)
    state = at.session_state[STATE_KEY]
    assert state.sample_key == SAMPLE and state.trained is not None and not state.edited_since_training
    at.switch_page("pages/message_passing.py")
    at.run()
    assert [e.value for e in at.exception] == []
    assert next(r for r in at.radio if r.key == message_widgets.LAYER_KEY).value == 1
    assert next(s for s in at.selectbox if s.key == "mp_focus").value == focus
    payload = read_link(url_token(at))
    assert payload["s"] == SAMPLE and "g" not in payload and payload["f"] == focus


def test_projector_mode_and_its_screen_size_survive_a_reload() -> None:
    at = open_link(encode_view(View(name="Zero-shot", sample=SAMPLE, projector=True)).token)
    assert [e.value for e in at.exception] == []
    assert at.sidebar.toggle(key=projector.PROJECTOR_KEY).value is True
    assert at.sidebar.radio(key=projector.SCREEN_KEY).value == projector.DEFAULT_SCREEN
    at.sidebar.radio(key=projector.SCREEN_KEY).set_value("1280×720").run()
    payload = read_link(url_token(at))
    assert payload["p"] is True and payload["r"] == "1280×720"
    again = open_link(url_token(at))  # the reload: a new session from the URL alone
    assert again.sidebar.toggle(key=projector.PROJECTOR_KEY).value is True
    assert again.sidebar.radio(key=projector.SCREEN_KEY).value == "1280×720"
    odd = open_link(encode_view(View(name="x", sample=SAMPLE, projector=True, screen="99×99")).token)
    assert [e.value for e in odd.exception] == []
    assert odd.sidebar.radio(key=projector.SCREEN_KEY).value == projector.DEFAULT_SCREEN


def test_an_edited_sample_keeps_its_model_its_edits_and_its_what_if() -> None:
    ckpt = load_sample(SAMPLE)
    names = ckpt.project.graph.task_names()
    edited = with_edge(ckpt.project.graph, names[0], names[6], "near")
    whatif = with_edge(edited, names[1], names[7], "near")
    view = View(name="Edited ring", sample=SAMPLE, graph=edited, whatif=whatif, whatif_edits=["one more edge"])
    at = open_link(encode_view(view).token, "pages/task_outputs.py")
    state = at.session_state[STATE_KEY]
    assert [e.value for e in at.exception] == [] and list(at.error) == []
    assert state.trained.source.startswith("sample:") and state.project.graph == edited
    assert state.trained.graph == ckpt.project.graph and state.edited_since_training
    assert state.edits.can_undo  # undo goes back to the sample's own graph
    assert state.whatif["graph"] == whatif
    assert "Not saved yet:** one more edge" in texts(at)
    back = url_view(at, ckpt.project.graph)
    assert back.graph == edited and back.whatif == whatif


def test_a_damaged_link_shows_the_message_and_the_home_page_and_loses_nothing() -> None:
    token = encode_view(View(name="x", graph=small_ring())).token
    at = open_link(token[: len(token) // 2], "pages/train.py")
    assert [e.value for e in at.exception] == []
    assert at.title[0].value.startswith("ragviz")  # the home page
    assert "This link could not be opened: The link is damaged" in plain(at.error[0].value)
    state = at.session_state[STATE_KEY]
    assert state.sample_key == SAMPLE and state.trained is not None  # the usual first view, fully working


def test_a_link_naming_a_sample_this_server_lacks_says_so() -> None:
    at = open_link(encode_view(View(name="x", sample="no_such_sample")).token)
    assert "which this server cannot open" in plain(at.error[0].value)
    assert at.session_state[STATE_KEY].sample_key == SAMPLE


def test_a_graph_too_big_for_a_link_says_so_and_keeps_the_rest() -> None:
    project = Project(generate_graph("chain", 400, zero_shot=[3]), name="Long chain")
    at = open_page(state=untrained_state(project))
    assert any("too big for a link" in w.value and "checkpoint" in w.value for w in at.sidebar.warning)
    back = url_view(at)
    assert back.graph is None and back.graph_omitted and back.name == "Long chain"
    reopened = open_link(url_token(at))
    assert "too big to keep in the link" in texts(reopened)


def test_a_rerun_with_nothing_changed_does_not_encode_the_graph_again() -> None:
    at = open_page()
    link = at.session_state[STATE_KEY].link
    first = link.cache[2]
    at.run()
    assert link.cache[2] is first
    at.session_state[LAYER_KEY] = 1
    at.run()
    assert link.cache[2] is not first and url_view(at).layer == 1


def test_a_link_full_of_hostile_names_opens_them_as_plain_text() -> None:
    project = hostile_project()
    whatif = with_edge(project.graph, TASKS[0], TASKS[2], RELATIONS[1])
    view = View(name=PROJECT, graph=project.graph, whatif=whatif, whatif_edits=[TASKS[1]], focus=TASKS[3])
    at = open_link(encode_view(view).token)
    state = at.session_state[STATE_KEY]
    assert [e.value for e in at.exception] == [] and list(at.error) == []
    assert state.project.graph == project.graph and state.focus == TASKS[3]
    assert f"**Project:** {md_escape(PROJECT)}" in [m.value for m in at.sidebar.markdown]
    # the what-if needs a model: its edit is named, escaped, in the warning
    assert any(md_escape(TASKS[1]) in w.value for w in at.warning)
    assert not any(TASKS[1] in w.value for w in at.warning)


def test_a_link_to_a_graph_of_table_tasks_says_the_tables_must_be_uploaded_again() -> None:
    graph = TaskGraph()
    graph.add_task(make_task("from my table", "csv", {"table": "data", "task": ""}, 10, 10, 0))
    at = open_link(encode_view(View(name="tables", graph=graph)).token)
    assert [e.value for e in at.exception] == []
    assert at.session_state[STATE_KEY].project.graph == graph
    assert "A link cannot carry data tables" in texts(at)


def _sidebar_lesson(at: AppTest) -> bool:
    return any("Lesson:" in plain(str(m.value)) for m in at.sidebar.markdown)


def test_a_lesson_closed_by_generate_stays_closed_after_a_reload() -> None:
    at = open_page("pages/task_graph.py")
    state = at.session_state[STATE_KEY]
    assert state.sample_key == SAMPLE and _sidebar_lesson(at)
    at.number_input(key=next(n.key for n in at.number_input if n.label == "Tasks")).set_value(5)
    next(b for b in at.main.button if b.label.startswith("Generate (replaces the graph)")).click().run()
    assert [e.value for e in at.exception] == [] and not _sidebar_lesson(at)
    payload = read_link(url_token(at))
    assert payload["s"] == SAMPLE and payload["c"] == 1  # the sample's model is still the session's
    again = open_link(url_token(at), "pages/task_graph.py")  # the reload: a new session from the URL alone
    reloaded = again.session_state[STATE_KEY]
    assert [e.value for e in again.exception] == [] and list(again.error) == []
    assert reloaded.project.graph == state.project.graph and reloaded.sample_key == SAMPLE
    assert not _sidebar_lesson(again) and reloaded.lesson_closed is reloaded.project
    assert read_link(url_token(again))["c"] == 1  # and the reloaded tab's own link keeps it closed


def test_a_lesson_closed_by_its_button_stays_closed_after_a_reload_and_an_open_one_stays_open() -> None:
    at = open_page()
    assert _sidebar_lesson(open_link(url_token(at)))
    next(b for b in at.sidebar.button if b.label == "Close the lesson").click().run()
    assert not _sidebar_lesson(at)
    again = open_link(url_token(at))
    assert again.session_state[STATE_KEY].trained is not None and not _sidebar_lesson(again)


def test_after_training_the_contrast_a_reload_brings_back_the_samples_model_and_its_lesson() -> None:
    at = open_page("pages/task_outputs.py")
    state = at.session_state[STATE_KEY]
    # What "Train the contrast" leaves when its run is taken in (lesson_panel.train_contrast, runs.adopt_run):
    result = SimpleNamespace(model=state.model, history=state.history, device="cpu")
    run = SimpleNamespace(result=result, project=state.project.copy(), baseline="no edges",
                          baseline_result=SimpleNamespace(model=state.model, history=state.history))
    state.lesson_kept = (SAMPLE, state.project)
    adopt_run(state, run)
    at.run()
    assert state.sample_key is None and state.trained.source == TRAINED_HERE and _sidebar_lesson(at)
    payload = read_link(url_token(at))
    assert payload["s"] == SAMPLE and payload["b"] == "no edges" and "c" not in payload
    again = open_link(url_token(at), "pages/task_outputs.py")
    reloaded = again.session_state[STATE_KEY]
    assert [e.value for e in again.exception] == [] and list(again.error) == []
    assert reloaded.sample_key == SAMPLE and reloaded.trained is not None
    assert reloaded.trained.source.startswith("sample:") and not reloaded.edited_since_training
    assert not reloaded.edits.can_undo  # the graph was the sample's: not replayed as an edit
    assert _sidebar_lesson(again) and reloaded.lesson_closed is None
    shown = texts(again)
    assert "no trained model yet" not in shown.lower() and "cannot carry a trained model" not in shown
    assert "The contrast trained in that tab (no edges) cannot travel in a link" in shown
