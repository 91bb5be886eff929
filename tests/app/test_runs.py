"""A run and an opened checkpoint: what the user opened last is what they have; the run is offered."""

from __future__ import annotations

import time

import pytest

from ragviz.storage.checkpoint import checkpoint_bytes
from tests.app.helpers import errors_of, open_page, set_setting, start_button, untrained_state

TRAIN = "pages/train.py"
CHECKPOINTS = "pages/checkpoints.py"


@pytest.fixture
def other_checkpoint(monkeypatch, tmp_path, trained_ring) -> str:
    """A checkpoint in the models folder, to open while a run trains."""
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("RAGVIZ_MODELS_DIR", str(folder))
    project, result = trained_ring
    (folder / "other.safetensors").write_bytes(checkpoint_bytes(project, result.model, result.history))
    return "open:folder:other.safetensors"


def _wait_for_a_step(run, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while run.snapshot().step < 1:
        assert run.alive and time.monotonic() < deadline, f"the run took no step: {run.snapshot()}"
        time.sleep(0.05)


def _open_during_a_run(trained_ring, open_key: str):
    state = untrained_state(trained_ring[0])
    at = open_page(TRAIN, state)
    set_setting(at, "train.steps", 100_000)
    set_setting(at, "train.eval_every", 50)
    start_button(at).click().run()
    assert errors_of(at) == [] and state.run is not None and state.run.alive
    at.switch_page(CHECKPOINTS).run()
    at.button(key=open_key).click().run()
    assert errors_of(at) == [] and state.trained.source == "file: other"
    opened_model = state.model
    _wait_for_a_step(state.run)  # stopped before its first evaluation, a run keeps nothing to offer
    state.run.stop()
    state.run.join(timeout=60)
    at.run()  # the sidebar notices the run has ended
    assert errors_of(at) == []
    return at, state, opened_model


def test_a_checkpoint_opened_during_a_run_is_kept_and_the_run_is_offered(trained_ring, other_checkpoint) -> None:
    at, state, opened_model = _open_during_a_run(trained_ring, other_checkpoint)
    assert state.trained.source == "file: other" and state.model is opened_model  # not replaced by the run
    assert any(i.value.startswith("A training run finished: use its model?") for i in at.sidebar.info)
    at.sidebar.button(key="run_offer_take").click().run()
    assert errors_of(at) == []
    run = state.run
    assert state.trained.source == "trained in this session" and state.model is run.result.model
    assert state.history is run.result.history and state.project.graph == run.project.graph
    assert not any(i.value.startswith("A training run finished") for i in at.sidebar.info)


def test_keeping_the_opened_model_dismisses_the_offer(trained_ring, other_checkpoint) -> None:
    at, state, opened_model = _open_during_a_run(trained_ring, other_checkpoint)
    at.sidebar.button(key="run_offer_keep").click().run()
    assert errors_of(at) == []
    assert state.trained.source == "file: other" and state.model is opened_model
    assert not any(i.value.startswith("A training run finished") for i in at.sidebar.info)
    at.run()
    assert state.model is opened_model  # later redraws never bring the run back
