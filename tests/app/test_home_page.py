"""Home: RAG explained with its equations, one click to open a sample, and the open sample's lesson."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest

from ragviz.safety.errors import RagvizError
from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint
from ragviz.training.runner import TrainingRun
from ragviz.ui.home_widgets import open_sample
from ragviz.ui.state import adopt_run
from tests.app.helpers import checkpoint_state, errors_of, open_page, plain, untrained_state

HOME = "pages/home.py"
LESSON = "Task **moons 120°** never saw a single training point."


@pytest.fixture
def fake_samples(monkeypatch, tmp_path: Path, trained_ring) -> types.ModuleType:
    """A ragviz.lessons.samples stand-in: one good sample and one whose file is missing."""
    project, result = trained_ring
    sample_project = project.copy()
    sample_project.name = "Ring sample"
    path = tmp_path / "ring.safetensors"
    path.write_bytes(checkpoint_bytes(sample_project, result.model, result.history, {"device": "CPU"}))
    module = types.ModuleType("ragviz.lessons.samples")
    module.SAMPLES = [
        SimpleNamespace(key="ring", title="A ring of rotated moons", claim="Zero-shot tasks learn from neighbours.",
                        lesson=LESSON, path=path),
        SimpleNamespace(key="gone", title="A missing sample", claim="Its file was deleted.", lesson="",
                        path=tmp_path / "gone.safetensors"),
    ]
    module.DEFAULT_SAMPLE = "ring"

    def load_sample(key: str):
        sample = next(s for s in module.SAMPLES if s.key == key)
        if not Path(sample.path).exists():
            raise RagvizError(f"The sample file {Path(sample.path).name} is missing.")
        return load_checkpoint(sample.path)

    module.load_sample = load_sample
    monkeypatch.setitem(sys.modules, "ragviz.lessons.samples", module)
    return module


@pytest.fixture
def no_samples(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ragviz.lessons.samples", None)  # import fails as if none were shipped


def _texts(at) -> str:
    parts = [*at.markdown, *at.caption, *at.info, *at.success, *at.title, *at.latex]
    return "\n".join(plain(str(p.value)) for p in parts)


def test_empty_home_explains_rag_with_equations_and_says_what_to_do(trained_ring, no_samples) -> None:
    project, _ = trained_ring
    at = open_page(HOME, untrained_state(project))
    assert errors_of(at) == []
    text = _texts(at)
    assert "not retrieval-augmented generation" in text
    latex = [e.value for e in at.latex]
    assert len(latex) == 5
    assert any("E[v]" in t and r"\alpha_{uv}" in t for t in latex)  # the start: own embedding, or the neighbours'
    assert any(r"\tau_{r} \odot t_{u}" in t and r"\rho_r" in t for t in latex)  # the close
    assert any(r"W^{l}_{\mathrm{msg}}" in t and "w_{uv}" in t for t in latex)
    assert any("LayerNorm" in t and r"W^{l}_{\mathrm{self}}" in t for t in latex)
    assert any(r"W_v = G\, t_v + W_0" in t for t in latex)  # the default decoder
    assert "No sample models are shipped" in text
    assert "No lesson is open" in text
    assert any("**Train**" in p.label for p in at.page_link) and len(at.page_link) == 6


def test_samples_are_listed_with_their_claims_and_open_in_one_click(trained_ring, fake_samples) -> None:
    project, _ = trained_ring
    state = untrained_state(project)
    at = open_page(HOME, state)
    assert "Zero-shot tasks learn from neighbours." in _texts(at)
    assert at.button(key="sample:ring").label == "Open"
    at.button(key="sample:ring").click().run()
    assert errors_of(at) == []
    assert state.trained and state.sample_key == "ring" and state.project.name == "Ring sample"
    assert state.trained.device == "CPU"
    assert any("Opened the sample" in s.value for s in at.success)
    assert "Lesson: A ring of rotated moons" in _texts(at) and LESSON in _texts(at)
    assert at.button(key="sample:ring").label == "Open ✓ (open now)"


def test_an_unbuilt_sample_says_how_to_build_it_and_changes_nothing(trained_ring, fake_samples) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    model, source = state.model, state.trained.source
    at = open_page(HOME, state)
    assert at.button(key="sample:gone").disabled and not at.button(key="sample:ring").disabled
    assert "Not built yet. Build the samples with `python -m ragviz samples`." in _texts(at)
    assert not open_sample(state, "gone")  # say the file vanished between drawing and clicking
    assert state.notices == [("error", "Could not open the sample: The sample file gone.safetensors is missing. "
                                       "The current project is unchanged.")]
    assert state.model is model and state.trained.source == source


def test_home_after_loading_a_checkpoint_shows_its_lesson_if_it_has_one(trained_ring, no_samples) -> None:
    project, result = trained_ring
    lesson_project = project.copy()
    lesson_project.lesson = "Compare the zero-shot task with its neighbours."
    at = open_page(HOME, checkpoint_state(lesson_project, result))
    assert errors_of(at) == []
    assert "Lesson: Test ring" in _texts(at) and "Compare the zero-shot task" in _texts(at)


def test_home_after_a_training_run(trained_ring, fake_samples) -> None:
    project, _ = trained_ring
    state = untrained_state(project)
    state.project.train_config.steps, state.project.train_config.eval_every = 5, 5
    run = TrainingRun(state.project).start()
    run.join(timeout=60)
    adopt_run(state, run)
    at = open_page(HOME, state)
    assert errors_of(at) == []
    assert "No lesson is open" in _texts(at)
    assert at.button(key="sample:ring").label == "Open"


def test_home_lists_the_shipped_samples(trained_ring) -> None:
    from ragviz.lessons.samples import SAMPLES

    at = open_page(HOME, untrained_state(trained_ring[0]))
    assert errors_of(at) == []
    for sample in SAMPLES:
        assert sample.title in _texts(at)
        assert at.button(key=f"sample:{sample.key}").disabled == (not sample.path.is_file())
