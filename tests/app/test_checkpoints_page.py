"""Checkpoints page: gallery cards from headers only, open, upload (good and bad), compare two models."""

from __future__ import annotations

import sys

import pytest

from ragviz.storage.checkpoint import checkpoint_bytes
from ragviz.training.runner import TrainingRun
from ragviz.ui import checkpoint_widgets
from ragviz.ui.checkpoint_widgets import accept_upload
from ragviz.ui.state import adopt_run
from ragviz.ui.train_widgets import save_current
from tests.app import test_home_page as home
from tests.app.helpers import all_element_text, checkpoint_state, errors_of, open_page, plain, untrained_state

fake_samples = home.fake_samples  # the same fixture as the Home page tests


@pytest.fixture
def no_samples(monkeypatch, tmp_path) -> None:
    """No samples module and an empty sample_models/ folder, as on a checkout without samples."""
    monkeypatch.setitem(sys.modules, "ragviz.lessons.samples", None)
    empty = tmp_path / "no_samples"
    empty.mkdir()
    monkeypatch.setattr(checkpoint_widgets, "SAMPLE_DIR", empty)

PAGE = "pages/checkpoints.py"


@pytest.fixture
def models(monkeypatch, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("RAGVIZ_MODELS_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def ring_bytes(trained_ring) -> bytes:
    project, result = trained_ring
    return checkpoint_bytes(project, result.model, result.history, {"device": "CPU"})


def assert_no_server_path(at, folder) -> None:
    """No element (text, label, help, caption) names the server's folder, absolute or as configured."""
    shown = all_element_text(at)
    assert "Models folder (" in shown  # the walk reaches the page's elements
    for path in {str(folder.resolve()), str(folder), str(folder.parent)}:
        assert path not in shown


def _texts(at) -> str:
    parts = [*at.markdown, *at.caption, *at.info, *at.success, *at.warning, *at.subheader]
    return "\n".join(plain(str(p.value)) for p in parts)


def _no_loading(monkeypatch) -> None:
    """Fail if drawing the gallery loads any model's weights."""
    def refuse(*_a, **_k):
        raise AssertionError("the gallery loaded a model")
    monkeypatch.setattr(checkpoint_widgets, "load_checkpoint", refuse)


def test_empty_gallery_says_what_to_do(trained_ring, models, no_samples) -> None:
    at = open_page(PAGE, untrained_state(trained_ring[0]))
    assert errors_of(at) == []
    text = _texts(at)
    assert "**Open now:** no trained model yet" in text
    assert "No sample models are shipped" in text
    assert "Nothing saved in this session yet" in text
    assert "No checkpoints in the server's models folder yet" in text
    assert_no_server_path(at, models)
    assert "Comparing needs two models" in text
    assert len(at.file_uploader) == 1


def test_folder_cards_come_from_headers_and_a_broken_file_gets_a_reason(
        trained_ring, models, no_samples, ring_bytes, monkeypatch) -> None:
    (models / "ring a.safetensors").write_bytes(ring_bytes)
    (models / "ring b.safetensors").write_bytes(ring_bytes)
    (models / "broken.safetensors").write_bytes(b"\x80\x04 a pickle")
    _no_loading(monkeypatch)
    at = open_page(PAGE, untrained_state(trained_ring[0]))
    assert errors_of(at) == []
    assert any(plain(s.value).startswith("Models folder") and plain(s.value).endswith("(3)") for s in at.subheader)
    text = _texts(at)
    assert "**ring a**" in text and "**ring b**" in text
    assert "6 tasks (1 zero-shot) · 6 edges · toy2d" in text
    assert f"decoder {trained_ring[0].model_config.decoder} · mult/mean · 2 layers · lr 0.01 · 60 steps" in text
    assert "Project: Test ring" in text
    assert "Test accuracy: seen **" in text and "CPU" in text
    assert "pickle" in plain(at.warning[0].value)
    assert [b.label for b in at.button if b.key and b.key.startswith("open:")] == ["Open", "Open"]
    assert len(at.download_button) == 2
    charts = [c.key for c in at.get("plotly_chart")]
    assert charts == ["thumb:folder:ring a.safetensors", "thumb:folder:ring b.safetensors", "compare_bars"]
    # Thumbnails are SVG: Chromium keeps about 16 WebGL contexts and dropped the first card's in a
    # ten-card gallery (seen in a screenshot); the cards must still draw the whole graph.
    thumbs = [c.proto.spec for c in at.get("plotly_chart") if c.key.startswith("thumb:")]
    assert thumbs and all('"scattergl"' not in spec and '"scatter"' in spec for spec in thumbs)


def test_opening_a_card_loads_it_and_marks_it_open(trained_ring, models, no_samples, ring_bytes) -> None:
    (models / "ring a.safetensors").write_bytes(ring_bytes)
    state = untrained_state(trained_ring[0])
    at = open_page(PAGE, state)
    at.button(key="open:folder:ring a.safetensors").click().run()
    assert errors_of(at) == []
    assert state.trained and state.trained.source == "file: ring a" and state.trained.device == "CPU"
    assert plain(at.success[0].value).startswith("Opened 'ring a' (Test ring)")
    assert at.button(key="open:folder:ring a.safetensors").label == "Open ✓"


def test_a_file_that_goes_bad_after_listing_gives_a_message_and_changes_nothing(
        trained_ring, models, no_samples, ring_bytes) -> None:
    path = models / "ring a.safetensors"
    path.write_bytes(ring_bytes)
    state = checkpoint_state(*trained_ring)
    model = state.model
    at = open_page(PAGE, state)
    path.write_bytes(ring_bytes[:200])  # truncated behind the page's back
    at.button(key="open:folder:ring a.safetensors").click().run()
    assert "Could not open 'ring a'" in plain(at.error[0].value) and "unchanged" in plain(at.error[0].value)
    assert state.model is model


def test_samples_are_listed_and_open_by_key(trained_ring, models, fake_samples) -> None:
    state = untrained_state(trained_ring[0])
    at = open_page(PAGE, state)
    assert "**A ring of rotated moons**" in _texts(at)
    at.button(key="open:sample:ring").click().run()
    assert state.sample_key == "ring" and state.trained.source == "sample: Ring sample"
    assert at.button(key="open:sample:ring").label == "Open ✓"


def test_upload_handler_refuses_bad_bytes_and_leaves_the_project_alone(trained_ring) -> None:
    state = checkpoint_state(*trained_ring)
    project, model, source = state.project, state.model, state.trained.source
    files: dict[str, bytes] = {}
    assert not accept_upload(state, files, "evil.pt", b"\x80\x04\x95 pickle")
    assert not accept_upload(state, files, "junk.safetensors", b"not a checkpoint at all")
    assert state.project is project and state.model is model and state.trained.source == source and files == {}
    kinds = [kind for kind, _ in state.notices]
    assert kinds == ["error", "error"]
    assert "never unpickles" in state.notices[0][1] or "pickle" in state.notices[0][1]
    assert "The current project is unchanged." in state.notices[1][1]


def test_upload_handler_enforces_the_size_limit(trained_ring, ring_bytes) -> None:
    state = untrained_state(trained_ring[0])
    assert not accept_upload(state, {}, "big.safetensors", ring_bytes, max_bytes=1000)
    assert "limit" in state.notices[-1][1] and not state.trained


def test_uploading_through_the_page_opens_and_lists_it(trained_ring, models, no_samples, ring_bytes,
                                                        monkeypatch) -> None:
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    released: list[str] = []
    remove_file = MemoryUploadedFileManager.remove_file
    monkeypatch.setattr(MemoryUploadedFileManager, "remove_file",
                        lambda self, session_id, file_id: (released.append(file_id),
                                                           remove_file(self, session_id, file_id)))
    state = untrained_state(trained_ring[0])
    at = open_page(PAGE, state)
    assert at.file_uploader[0].proto.type == [".safetensors"]  # the browser offers and sends nothing else
    at.file_uploader[0].upload("shared ring.safetensors", ring_bytes).run()
    assert errors_of(at) == []
    assert state.trained and state.trained.source == "uploaded: shared ring"
    # Read once, then Streamlit holds it no longer and the uploader starts empty under a new key.
    assert len(released) == 1 and at.file_uploader[0].key == "ckpt_upload#1" and at.file_uploader[0].value is None
    assert plain(at.success[0].value).startswith("Uploaded and opened 'shared ring.safetensors'")
    assert any(plain(s.value) == "Uploaded (1)" for s in at.subheader)
    at.file_uploader[0].set_value(("bad.safetensors", b"garbage!!", "application/octet-stream")).run()
    assert "'bad.safetensors' was not opened" in plain(at.error[0].value)
    assert state.trained.source == "uploaded: shared ring"
    assert len(released) == 2 and at.file_uploader[0].key == "ckpt_upload#2"  # a refused file is released too


def test_after_training_the_saved_model_is_listed_and_compared(trained_ring, models, no_samples, ring_bytes) -> None:
    state = untrained_state(trained_ring[0])
    state.project.train_config.steps, state.project.train_config.eval_every = 10, 10
    run = TrainingRun(state.project).start()
    run.join(timeout=60)
    adopt_run(state, run)
    save_current(state, "fresh run")
    (models / "older.safetensors").write_bytes(ring_bytes)
    at = open_page(PAGE, state)
    assert errors_of(at) == []
    assert any(plain(s.value) == "Saved in this session (1)" for s in at.subheader)
    assert any(plain(s.value).startswith("Models folder") and plain(s.value).endswith("(1)")
               for s in at.subheader)  # no duplicate
    assert at.selectbox(key="compare_a").value == "Current model (trained in this session)"
    assert at.selectbox(key="compare_b").value == "fresh run · saved in this session"
    at.selectbox(key="compare_b").set_value("older · models folder").run()
    table = at.dataframe[0].value
    assert list(table.columns) == ["task", "zero-shot", "Current model", "older", "Δ"]
    assert list(table["task"])[-2:] == ["Mean (seen tasks)", "Mean (zero-shot tasks)"]
    assert table.loc[table["task"] == "moons 120°", "zero-shot"].item() == "★"
    assert "compare_bars" in [c.key for c in at.get("plotly_chart")]


def test_from_a_checkpoint_the_current_model_can_be_compared(trained_ring, models, no_samples, ring_bytes) -> None:
    (models / "same.safetensors").write_bytes(ring_bytes)
    at = open_page(PAGE, checkpoint_state(*trained_ring))
    assert errors_of(at) == []
    assert "**Open now:** uploaded: test.safetensors" in _texts(at)
    table = at.dataframe[0].value
    assert (table["Δ"].dropna().abs() < 1e-9).all()  # the same model twice: no difference


def test_long_folders_get_a_filter_and_pages(trained_ring, models, no_samples, ring_bytes) -> None:
    for k in range(12):
        (models / f"ring {k:02d}.safetensors").write_bytes(ring_bytes)
    at = open_page(PAGE, untrained_state(trained_ring[0]))
    assert errors_of(at) == []
    assert len([b for b in at.button if b.key and b.key.startswith("open:")]) == 9
    at.selectbox(key="page:folder").set_value(2).run()
    assert len([b for b in at.button if b.key and b.key.startswith("open:")]) == 3
    at.text_input(key="filter:folder").set_value("ring 11").run()
    assert [b.key for b in at.button if b.key and b.key.startswith("open:")] == ["open:folder:ring 11.safetensors"]


def test_no_element_shows_the_servers_folder(trained_ring, models, no_samples, ring_bytes) -> None:
    (models / "ring a.safetensors").write_bytes(ring_bytes)
    (models / "unreadable.safetensors").mkdir()  # a card whose file cannot be read says why, not where
    state = untrained_state(trained_ring[0])
    at = open_page(PAGE, state)
    assert errors_of(at) == []
    assert any(s.value == "Models folder (1)" for s in at.subheader)
    at.button(key="open:folder:ring a.safetensors").click().run()
    assert errors_of(at) == [] and state.trained
    assert_no_server_path(at, models)


def test_a_name_another_session_saved_is_kept_and_this_save_gets_a_unique_name(
        trained_ring, models, no_samples, ring_bytes) -> None:
    theirs = models / "ring.safetensors"
    theirs.write_bytes(ring_bytes)  # another student's save
    state = checkpoint_state(*trained_ring)
    _, message = checkpoint_widgets.save_for_session(state, "ring", ring_bytes + b"")
    assert theirs.read_bytes() == ring_bytes and (models / "ring-2.safetensors").is_file()
    assert "already has a checkpoint named `ring.safetensors`" in message and "`ring-2.safetensors`" in message
    _, again = checkpoint_widgets.save_for_session(state, "ring-2", ring_bytes)
    assert again == "Saved as `ring-2.safetensors` (replacing this session's earlier save). The Checkpoints page " \
                    "lists it."
    at = open_page(PAGE, state)
    assert errors_of(at) == []
    assert any(s.value == "Saved in this session (1)" for s in at.subheader)
    assert any(s.value == "Models folder (1)" for s in at.subheader)  # the other student's file, still listed
    assert_no_server_path(at, models)


def test_the_uploader_states_and_holds_the_configured_checkpoint_limit(trained_ring, models, no_samples, ring_bytes,
                                                                       monkeypatch) -> None:
    monkeypatch.setenv("RAGVIZ_MAX_CHECKPOINT_MB", "0.01")  # 10 kB: smaller than the ring's checkpoint
    state = untrained_state(trained_ring[0])
    at = open_page(PAGE, state)
    uploader = at.file_uploader[0]
    assert uploader.proto.max_upload_size_mb == 1  # the widget's own "… per file" limit, in whole MB
    assert "A checkpoint may be at most 10.0 kB." in uploader.help
    uploader.upload("big ring.safetensors", ring_bytes).run()
    size = f"{len(ring_bytes) / 1000:.1f} kB"
    assert plain(at.error[0].value) == (f"'big ring.safetensors' was not opened: The checkpoint is {size}; the limit "
                                        "is "
                                 "10.0 kB. Use a smaller file, or ask the server's administrator to raise the limit. "
                                 "The current project is unchanged.")
    assert not state.trained and "big ring.safetensors" not in state.uploads


def test_samples_open_whatever_the_upload_limit(trained_ring, monkeypatch) -> None:
    from ragviz.lessons.samples import DEFAULT_SAMPLE, load_sample

    monkeypatch.setenv("RAGVIZ_MAX_CHECKPOINT_MB", "0.00001")  # 10 bytes: no upload could pass
    assert load_sample(DEFAULT_SAMPLE).project.graph.number_of_tasks() > 0


def test_compare_defaults_to_a_pair_that_can_be_compared() -> None:
    from ragviz.storage.gallery import MetricSet
    from ragviz.ui.checkpoint_widgets import comparable_pair, comparable_partner

    sets = {
        "digits": MetricSet("digits", "accuracy", {"digits 0°": 0.9}),
        "regression": MetricSet("regression", "mse", {"sine 1": 0.1}),
        "ring a": MetricSet("ring a", "accuracy", {"moons 0°": 0.8, "moons 60°": 0.7}),
        "ring b": MetricSet("ring b", "accuracy", {"moons 60°": 0.9}),
    }
    assert comparable_pair(sets) == ("ring a", "ring b")  # the first two share no metric or task
    assert comparable_partner(sets, "ring b") == "ring a"
    assert comparable_partner(sets, "regression") is None
    assert comparable_pair({k: sets[k] for k in ("digits", "regression")}) == ("digits", "regression")
