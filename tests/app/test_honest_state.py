"""Every page says when the graph no longer fits the trained model; a worse run never hides a better model."""

from __future__ import annotations

import pytest

from ragviz.ui.routing import PAGES, TRAIN
from ragviz.ui.state import set_graph
from tests.app.helpers import checkpoint_state, errors_of, open_page, plain, set_setting, start_button

NEW_GRAPH = "This is not the graph the model was trained on"
INSIDE = ("pages/message_passing.py", "pages/embeddings.py", "pages/task_outputs.py")


def _renamed(graph):
    """The same ring under names the model has never seen: a graph it knows nothing of."""
    new = graph.copy()
    for name in graph.task_names():
        new.rename_task(name, f"new {name}")
    return new


def _banner(at) -> str:
    return " ".join(plain(w.value) for w in at.warning)


def _train_links(at) -> list:
    return [link for link in at.get("page_link") if link.label == "Train on this graph"]


@pytest.mark.parametrize("page", [p.path for p in PAGES])
def test_a_graph_the_model_does_not_know_is_flagged_on_every_page(trained_ring, page) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    set_graph(state, _renamed(state.graph))
    at = open_page(page, state)
    assert errors_of(at) == []
    assert NEW_GRAPH in _banner(at) and "Train on this graph" in _banner(at)
    assert len(_train_links(at)) == (0 if page == TRAIN.path else 1)  # on Train, Start is right below
    if page in INSIDE:  # no quiet chance-level figures: the page says why it shows nothing
        assert not at.get("plotly_chart")
        assert any("Nothing to show here until a model is trained on this graph" in i.value for i in at.info)


@pytest.mark.parametrize("page", ["pages/home.py", "pages/task_outputs.py", "pages/checkpoints.py"])
def test_the_trained_graph_gives_no_banner(trained_ring, page) -> None:
    at = open_page(page, checkpoint_state(*trained_ring))
    assert errors_of(at) == [] and "trained" not in _banner(at) and not _train_links(at)


def test_an_edited_graph_is_flagged_and_still_shown(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    graph = state.graph.copy()
    names = graph.task_names()
    graph.add_edge(names[0], names[3], "near")
    set_graph(state, graph)
    at = open_page("pages/task_outputs.py", state)
    assert errors_of(at) == []
    assert "The graph changed since the model was trained (1 edge or relation changed)" in _banner(at)
    assert at.get("plotly_chart")  # inference on the edited graph is still worth seeing


def _retrain(at, state, **fields):
    for field, value in fields.items():
        set_setting(at, field.replace("__", "."), value)
    start_button(at).click().run()
    assert errors_of(at) == []
    state.run.join(timeout=120)
    at.run()
    assert errors_of(at) == []


def test_a_worse_run_says_so_and_the_previous_model_is_one_click_away(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    good = state.model
    at = open_page(TRAIN.path, state)
    _retrain(at, state, train__steps=1, train__eval_every=1, train__lr=1e-6)  # barely trained: worse
    run_model = state.model
    assert run_model is not good and state.trained.source == "trained in this session"
    warning = _banner(at)
    assert "This model is worse than the one it replaced on seen" in warning
    restore = at.button(key="train_restore_previous")
    assert restore.proto.type == "primary"
    restore.click().run()
    assert errors_of(at) == []
    assert state.model is good and state.trained.source == "uploaded: test.safetensors"
    assert any("Restored the previous model" in s.value for s in at.success)
    at.button(key="train_restore_previous").click().run()  # and back again
    assert state.model is run_model


def test_a_better_or_equal_run_still_keeps_the_previous_model_restorable(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    good = state.model
    at = open_page(TRAIN.path, state)
    _retrain(at, state, train__steps=60, train__eval_every=20)  # the same settings and seed: the same model
    assert "worse than the one it replaced" not in _banner(at)
    assert any("is kept for this session" in plain(c.value) for c in at.caption)
    at.button(key="train_restore_previous").click().run()
    assert state.model is good


def test_opening_another_model_forgets_the_previous_one(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    at = open_page(TRAIN.path, state)
    _retrain(at, state, train__steps=2, train__eval_every=1)
    assert any(b.key == "train_restore_previous" for b in at.button)
    other = checkpoint_state(project, result)
    state.trained = other.trained  # as if a checkpoint was opened
    at.run()
    assert not any(b.key == "train_restore_previous" for b in at.button)


def test_the_train_page_reports_best_beside_last_and_a_falling_zero_shot_metric(trained_ring) -> None:
    from ragviz.training.watch import best_and_last, best_line, zero_shot_decline

    project, result = trained_ring
    at = open_page(TRAIN.path, checkpoint_state(project, result))
    captions = " ".join(plain(c.value) for c in at.caption)
    for zero_shot in (False, True):
        assert best_line(best_and_last(result.history, zero_shot)) in captions
    falling = zero_shot_decline(result.history)
    flagged = [w for w in at.warning if "Zero-shot accuracy is getting worse" in w.value]
    assert len(flagged) == (falling is not None)


def test_a_diverged_run_never_replaces_the_model_unless_asked(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    good = state.model
    at = open_page(TRAIN.path, state)
    _retrain(at, state, train__lr=1000.0, train__steps=200, train__eval_every=50)
    assert state.run.result.status == "diverged"
    assert state.model is good  # held back
    assert "Your previous model is kept: a diverged run never replaces it on its own" in _banner(at)
    at.button(key="train_use_held").click().run()
    assert errors_of(at) == [] and state.model is state.run.result.model
    at.button(key="train_restore_previous").click().run()
    assert errors_of(at) == [] and state.model is good


def test_while_a_run_trains_the_new_graph_the_banner_says_to_wait(trained_ring) -> None:
    from ragviz.ui.state import start_run

    project, result = trained_ring
    state = checkpoint_state(project, result)
    set_graph(state, _renamed(state.graph))
    state.project.train_config.steps, state.project.train_config.eval_every = 100_000, 50
    start_run(state, None)
    try:
        at = open_page("pages/embeddings.py", state)
        waiting = [i.value for i in at.info if "A model is training on this graph now" in i.value]
        assert errors_of(at) == [] and len(waiting) == 1 and not _train_links(at)
    finally:
        state.run.stop()
        state.run.join(timeout=60)
