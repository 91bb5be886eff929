"""Train page: settings with help, clear errors, Start/Stop, live and final curves, baseline, saving."""

from __future__ import annotations

import pytest
import torch

import ragviz.training.runner as runner_module
from ragviz.graph.task_graph import TaskGraph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint
from ragviz.training.project import Project
from ragviz.training.runner import RunSlots, TrainingRun
from ragviz.ui.state import adopt_checkpoint, start_run
from ragviz.ui.train_widgets import SETTINGS, WIDGET
from tests.app.helpers import (
    all_element_text,
    checkpoint_state,
    errors_of,
    open_page,
    plain,
    set_setting,
    start_button,
    untrained_state,
)
from tests.helpers import small_ring

TRAIN = "pages/train.py"


def small_project(steps: int) -> Project:
    return Project(small_ring(4, zero_shot=(), train_size=10), ModelConfig(embed_dim=8, hidden=16),
                   TrainConfig(steps=steps, eval_every=steps), name="another student's")


def _train(at, state, **fields):
    """Fill in settings, press Start, wait for the worker, and redraw once it is done."""
    for field, value in fields.items():
        set_setting(at, field.replace("__", "."), value)
    start_button(at).click().run()
    assert errors_of(at) == [], errors_of(at)
    assert state.run is not None
    state.run.join(timeout=120)
    at.run()
    return at


def _texts(at) -> str:
    parts = [*at.markdown, *at.caption, *at.info, *at.success, *at.warning, *at.subheader]
    return "\n".join(plain(str(p.value)) for p in parts)


@pytest.fixture
def models(monkeypatch, tmp_path):
    monkeypatch.setenv("RAGVIZ_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def test_empty_page_shows_every_setting_with_help_and_what_to_do(trained_ring) -> None:
    project, _ = trained_ring
    state = untrained_state(project)
    at = open_page(TRAIN, state)
    assert errors_of(at) == []
    widgets = {w.key: w for w in [*at.number_input, *at.selectbox, *at.checkbox]}
    for setting in SETTINGS:
        widget = widgets[f"{WIDGET}{setting.group}.{setting.name}"]
        assert widget.help, setting.name
        config = project.model_config if setting.group == "model" else project.train_config
        assert widget.value == getattr(config, setting.name)
    assert widgets[WIDGET + "model.composition"].options == ["mult", "sub", "rgcn", "none"]
    assert widgets[WIDGET + "train.device"].options == ["auto", "cpu", "cuda"]
    assert "No trained model yet" in _texts(at)
    assert not start_button(at).disabled
    assert len(at.download_button) == 0


def test_invalid_settings_give_the_config_error_and_lose_nothing(trained_ring) -> None:
    project, _ = trained_ring
    state = untrained_state(project)
    at = open_page(TRAIN, state)
    set_setting(at, "train.lr", 0.0)
    start_button(at).click().run()
    assert [plain(e.value) for e in at.error] == [
        "Training did not start: Learning rate must be above 0.0 and at most 1000000.0, got 0.0."]
    assert state.run is None and state.project.train_config.lr == project.train_config.lr
    assert at.number_input(key=WIDGET + "train.lr").value == 0.0  # what the user typed is still there
    set_setting(at, "train.lr", 0.01)
    set_setting(at, "model.layers", 9)
    start_button(at).click().run()
    assert [plain(e.value) for e in at.error] == [
        "Training did not start: Number of layers must be between 0 and 6, got 9."]
    assert state.run is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_cuda_without_one_is_refused_up_front(trained_ring) -> None:
    state = untrained_state(trained_ring[0])
    at = open_page(TRAIN, state)
    set_setting(at, "train.device", "cuda")
    start_button(at).click().run()
    assert "CUDA was requested" in plain(at.error[0].value) and state.run is None


@pytest.mark.parametrize("graph, reason", [
    (TaskGraph(), "The graph has no tasks"),
    (small_ring(3, zero_shot=(0, 1, 2)), "Every task has train size 0"),
])
def test_a_graph_that_cannot_train_says_why_and_start_is_off(graph, reason) -> None:
    at = open_page(TRAIN, untrained_state(Project(graph)))
    assert errors_of(at) == []
    assert reason in plain(at.warning[0].value) and "Task graph" in plain(at.warning[0].value)
    assert start_button(at).disabled


def test_a_short_run_from_start_shows_results_and_saves(trained_ring, models) -> None:
    state = untrained_state(trained_ring[0])
    at = open_page(TRAIN, state)
    _train(at, state, train__steps=20, train__eval_every=10, train__seed=3)
    assert errors_of(at) == []
    assert plain(at.success[0].value) == "Training finished. Trained 20 steps."
    assert state.trained and state.trained.source == "trained in this session" and state.trained.device == "CPU"
    assert state.project.train_config.steps == 20 and state.project.train_config.seed == 3
    assert at.subheader[0].value == "Current model"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Steps trained"] == "20"
    assert metrics["Test accuracy, seen"].endswith("%")
    assert metrics["Test accuracy, zero-shot"].endswith("%")
    assert [c.key for c in at.get("plotly_chart")] == ["model_loss", "model_metric", "replay_embedding", "replay_bars"]
    assert [b.label for b in at.download_button] == ["Download"]
    at.text_input[0].set_value("my run").run()
    next(b for b in at.button if b.label == "Save to models folder").click().run()
    assert (models / "my run.safetensors").is_file()
    assert "my run.safetensors" in state.saved
    assert at.success[-1].value == "Saved as `my run.safetensors`. The Checkpoints page lists it."
    assert load_checkpoint(models / "my run.safetensors").info["device"] == "CPU"


def test_saving_under_a_name_someone_else_holds_keeps_their_file(trained_ring, models) -> None:
    models.mkdir()
    (models / "my run.safetensors").write_bytes(b"another student's checkpoint")
    state = checkpoint_state(*trained_ring)
    at = open_page(TRAIN, state)
    at.text_input[0].set_value("my run").run()
    next(b for b in at.button if b.label == "Save to models folder").click().run()
    assert errors_of(at) == []
    assert (models / "my run.safetensors").read_bytes() == b"another student's checkpoint"
    assert load_checkpoint(models / "my run-2.safetensors").project.graph == trained_ring[0].graph
    assert list(state.saved) == ["my run-2.safetensors"]
    assert at.success[-1].value == ("The models folder already has a checkpoint named `my run.safetensors` that this "
                                    "session did not save, so this one was saved as `my run-2.safetensors`. The "
                                    "Checkpoints page lists it.")
    shown = all_element_text(at)
    assert "Save to models folder" in shown and str(models) not in shown and str(models.parent) not in shown


def test_live_panel_stop_keeps_the_model_trained_so_far(trained_ring) -> None:
    state = untrained_state(trained_ring[0])
    state.project.train_config.steps, state.project.train_config.eval_every = 100_000, 5
    start_run(state, None)
    at = open_page(TRAIN, state)
    assert errors_of(at) == []
    assert "Training RAG: step" in at.get("progress")[0].proto.text
    assert start_button(at).disabled
    at.button(key="train_stop").click().run()
    state.run.join(timeout=60)
    at.run()
    assert "Stopped by the user" in plain(at.info[0].value) and "kept" in plain(at.info[0].value)
    assert state.trained and state.history.steps[-1] == state.run.result.steps_done


def test_learning_rate_1000_diverges_and_the_page_says_so(trained_ring) -> None:
    state = untrained_state(trained_ring[0])
    at = open_page(TRAIN, state)
    _train(at, state, train__lr=1000.0, train__steps=200, train__eval_every=50)
    warning = plain(at.warning[0].value)
    assert warning.startswith("Training diverged.") and "learning rate 1000" in warning
    assert "kept the last finite weights" in warning and "never adopted on its own" in warning
    assert state.trained is None  # a diverged run is held back, not taken in
    at.button(key="train_use_held").click().run()
    assert errors_of(at) == []
    assert state.trained and state.model is state.run.result.model
    assert all(torch.isfinite(p).all() for p in state.model.parameters())


def test_a_baseline_trains_beside_it_and_results_sit_side_by_side(trained_ring) -> None:
    state = untrained_state(trained_ring[0])
    at = open_page(TRAIN, state)
    at.selectbox(key=WIDGET + "baseline").set_value("independent")
    _train(at, state, train__steps=10, train__eval_every=10)
    assert errors_of(at) == []
    assert "Baseline (independent)" in plain(at.success[0].value)
    assert state.baseline.name == "independent" and state.baseline.model.config.decoder == "independent"
    assert any(s.value == "RAG vs baseline (independent)" for s in at.subheader)
    table = at.dataframe[0].value
    assert list(table.columns) == ["task", "zero-shot", "RAG", "baseline", "Δ"]
    assert "Mean (seen tasks)" in set(table["task"]) and "Mean (zero-shot tasks)" in set(table["task"])
    assert set(table.loc[table["task"] == "moons 120°", "zero-shot"]) == {"★"}
    assert [c.key for c in at.get("plotly_chart")] == [
        "model_loss", "model_metric", "replay_embedding", "replay_bars", "baseline_bars", "baseline_loss",
        "baseline_metric"]


def test_from_a_checkpoint_without_training(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    at = open_page(TRAIN, state)
    assert errors_of(at) == []
    assert "Source: uploaded: test.safetensors" in _texts(at)
    assert {m.label: m.value for m in at.metric}["Steps trained"] == "60"
    assert at.number_input(key=WIDGET + "train.steps").value == 60
    assert at.number_input(key=WIDGET + "model.layers").value == 2
    assert [c.key for c in at.get("plotly_chart")] == ["model_loss", "model_metric", "replay_embedding",
                                                       "replay_bars"]
    assert len(at.download_button) == 1
    assert not at.success and not [w for w in at.warning if w.value.startswith("Training")]  # no run outcome


def test_from_a_sample_and_from_a_checkpoint_without_history(trained_ring) -> None:
    project, result = trained_ring
    state = untrained_state(project)
    adopt_checkpoint(state, load_checkpoint(checkpoint_bytes(project, result.model, None)), "sample: Test ring",
                     sample_key="ring")
    at = open_page(TRAIN, state)
    assert errors_of(at) == []
    assert "stores no training history" in _texts(at)
    assert len(at.download_button) == 1


def test_a_failed_run_says_why_and_keeps_the_previous_model(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    model = state.model
    state.project.train_config.steps = 3
    start_run(state, "nonsense").join(timeout=60)
    at = open_page(TRAIN, state)
    assert plain(at.error[0].value).startswith("The model trained, but then: Unknown baseline 'nonsense'")
    assert state.model is not model  # the model itself trained fine and was taken in


def test_a_run_that_fails_outright_keeps_the_previous_model(trained_ring, monkeypatch) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    model = state.model
    monkeypatch.setattr("ragviz.training.runner.train", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    start_run(state, None).join(timeout=60)
    at = open_page(TRAIN, state)
    assert plain(at.error[0].value) == ("The last training run failed: Training failed unexpectedly: "
                                        "RuntimeError: boom Your previous model is unchanged.")
    assert state.model is model


def test_over_the_server_cap_the_run_is_queued_with_its_place_then_starts(trained_ring, monkeypatch) -> None:
    slots = RunSlots(capacity=1)
    monkeypatch.setattr(runner_module, "SLOTS", slots)
    other = TrainingRun(small_project(steps=100_000)).start()  # another student's run holds the only slot
    try:
        state = untrained_state(trained_ring[0])
        state.project.train_config.steps, state.project.train_config.eval_every = 10, 5
        at = open_page(TRAIN, state)
        start_button(at).click().run()
        assert errors_of(at) == []
        text = at.info[0].value
        assert "The server is busy: 1 training run(s) are going" in text and "number 1 in the queue" in text
        assert "you are next" in text
        at.run()  # the next redraw (the fragment's poll) keeps the place and Start stays off
        assert "number 1 in the queue" in at.info[0].value and start_button(at).disabled
        assert any(b.label == "Leave queue" for b in at.button)
    finally:
        other.stop()
    state.run.join(timeout=60)
    at.run()
    assert errors_of(at) == [] and "Training finished." in at.success[0].value
    assert state.trained and state.history.steps[-1] == 10


def test_leaving_the_queue_keeps_the_previous_model(trained_ring, monkeypatch) -> None:
    project, result = trained_ring
    slots = RunSlots(capacity=1)
    monkeypatch.setattr(runner_module, "SLOTS", slots)
    other = TrainingRun(small_project(steps=100_000)).start()
    try:
        state = checkpoint_state(project, result)
        model = state.model
        at = open_page(TRAIN, state)
        start_button(at).click().run()
        next(b for b in at.button if b.label == "Leave queue").click().run()
        state.run.join(timeout=30)
        at.run()
        assert errors_of(at) == []
        assert "Left the queue before training began" in at.info[0].value and "unchanged" in at.info[0].value
        assert state.model is model
    finally:
        other.stop()
