"""The app shell's one watcher: a finished run is taken in once, by the shell, and shown by a whole redraw."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext

from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.errors import RagvizError
from ragviz.training.lifecycle import Phase
from ragviz.training.project import Project
from ragviz.ui.runs import begin_ensemble, drop_ensemble, take_in_ended
from ragviz.ui.state import start_run
from tests.app.helpers import errors_of, open_page, plain, start_button, untrained_state
from tests.helpers import small_ring

ROOT = Path(__file__).resolve().parents[2]
TRAIN = "pages/train.py"
OUTPUTS = "pages/task_outputs.py"


def _project(steps: int) -> Project:
    return Project(small_ring(4, zero_shot=(1,), train_size=10), ModelConfig(embed_dim=8, hidden=16),
                   TrainConfig(steps=steps, eval_every=steps), name="watched")


def test_a_finished_run_is_taken_in_by_the_shell_and_shown_after_one_whole_redraw() -> None:
    state = untrained_state(_project(10))
    at = open_page(TRAIN, state)
    run = start_run(state, None)
    record = state.runs.train
    assert record.phase == Phase.QUEUED
    run.join(timeout=120)
    at.run()  # the whole redraw after the run ended: the shell takes it in before the page draws
    assert errors_of(at) == []
    assert record.phase == Phase.SHOWN and record.outcome == "adopted"
    assert state.model is run.result.model
    assert any("Training finished" in s.value for s in at.success)  # on this very redraw, not a later one
    model = state.model
    at.run()
    assert state.model is model and record.phase == Phase.SHOWN  # never taken in twice


def test_a_lost_redraw_is_made_up_by_the_next_whole_run() -> None:
    """Taken in, but the redraw that should show it never completed (a busy server, a reconnect)."""
    state = untrained_state(_project(10))
    at = open_page(TRAIN, state)
    run = start_run(state, None)
    run.join(timeout=120)
    assert take_in_ended(state)  # as a watcher tick would, before its redraw is lost
    record = state.runs.train
    assert record.phase == Phase.TAKEN_IN and state.runs.awaiting_redraw()
    at.run()
    assert errors_of(at) == [] and record.phase == Phase.SHOWN
    assert any("Training finished" in s.value for s in at.success)


def test_the_watcher_shows_a_queued_or_running_run_in_the_sidebar() -> None:
    state = untrained_state(_project(1_000_000))
    at = open_page(TRAIN, state)
    run = start_run(state, None)
    at.run()
    assert errors_of(at) == []
    side = [c.value for c in at.sidebar.caption] + [p.proto.text for p in at.sidebar.get("progress")]
    assert any(t.startswith(("Training model", "Queued: number")) for t in side), side
    run.stop()
    run.join(timeout=60)
    at.run()
    assert state.runs.train.phase == Phase.SHOWN
    assert not at.sidebar.get("progress")


def test_one_run_per_session_the_ensemble_counts() -> None:
    state = untrained_state(_project(1_000_000))
    at = open_page(TRAIN, state)
    begin_ensemble(state, "made for this graph", 2)
    at.run()
    start_button(at).click().run()
    refusal = [plain(e.value) for e in at.error]
    assert state.runs.train is None
    drop_ensemble(state)
    assert refusal == ["Training did not start: This session is already training the models of “How sure is "
                       "the model?”: one run at a time per session, so that everyone gets a turn. Stop it or "
                       "wait for it to finish."]
    run = start_run(state, None)
    with pytest.raises(RagvizError, match="already training a model: one run at a time per session"):
        begin_ensemble(state, "made for this graph", 2)
    run.stop()
    run.join(timeout=60)
    assert state.runs.ensemble is None


def test_the_script_context_still_says_which_runs_are_fragment_reruns() -> None:
    """run_watcher.in_fragment_rerun reads this Streamlit internal; an upgrade that renames it fails here."""
    assert "fragment_ids_this_run" in ScriptRunContext.__dataclass_fields__


def test_only_the_watcher_takes_runs_in() -> None:
    """No page or fragment adopts a run: take_in_ended is called in run_watcher.py alone."""
    callers = []
    for path in [*ROOT.glob("ragviz/ui/*.py"), *ROOT.glob("pages/*.py"), ROOT / "app.py"]:
        tree = ast.parse(path.read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        if "take_in_ended" in names or "adopt_finished_run" in names:
            callers.append(path.name)
    assert callers == ["run_watcher.py"]
