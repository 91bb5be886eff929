"""Taking a finished training run's result into the session exactly once, and only if it still fits.

Whichever fragment notices first that the run is over (the sidebar on any page, or the
Train page's live panel) handles it; later polls see it was handled and leave the session's
model alone. What the user opened last is what they have: a run whose project was replaced
while it trained (a checkpoint or sample opened meanwhile) is offered, never imposed.

A run's model never silently replaces a better one: the model it replaces is kept
(:func:`previous_model`, one click to restore), and a diverged run is held back until the
user chooses to use its last finite weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ragviz.model.config import ModelConfig
from ragviz.training.runner import TrainingRun
from ragviz.ui.state import AppState, Baseline, TrainedModel, adopt_run, notify, set_project, start_run

HANDLED_KEY = "ragviz_handled_run"
ORIGIN_KEY = "ragviz_run_origin"  # (run, the project object it was started from)
OFFER_KEY = "ragviz_offered_run"  # a finished run whose model was not taken in
HELD_KEY = "ragviz_held_run"  # a diverged run whose model was not taken in
PREVIOUS_KEY = "ragviz_previous_model"  # the model the last adopted run replaced


@dataclass
class KeptModel:
    """A model the session had before another replaced it, with what it needs to be restored."""

    trained: TrainedModel
    baseline: Baseline | None
    model_config: ModelConfig
    sample_key: str | None
    replaced_by: TrainedModel | None = None  # valid only while this one is the session's model


def _current(state: AppState) -> KeptModel | None:
    if state.trained is None:
        return None
    config = getattr(state.trained.model, "config", None) or state.project.model_config
    return KeptModel(state.trained, state.baseline, config, state.sample_key)


def _replace_keeping(state: AppState, replace) -> None:
    """Run ``replace()`` (which changes the session's model) and keep the model it replaced."""
    kept = _current(state)
    replace()
    if kept is None or state.trained is None:
        st.session_state.pop(PREVIOUS_KEY, None)
        return
    kept.replaced_by = state.trained
    st.session_state[PREVIOUS_KEY] = kept


def previous_model(state: AppState) -> KeptModel | None:
    """The model the session's model replaced (by a run, or by a restore), while nothing else was opened."""
    kept = st.session_state.get(PREVIOUS_KEY)
    if kept is None or state.trained is None or kept.replaced_by is not state.trained:
        return None
    return kept


def restore_previous(state: AppState) -> None:
    """Swap back to the model the last run replaced; the run's model is kept in turn (one click back)."""
    kept = previous_model(state)
    if kept is None:
        return

    def restore() -> None:
        state.trained, state.baseline, state.sample_key = kept.trained, kept.baseline, kept.sample_key
        state.project.model_config = kept.model_config
        state.traces.clear()

    _replace_keeping(state, restore)
    notify(state, "success", f"Restored the previous model ({kept.trained.source}): every page shows it now. "
                             "The other one is one click away (Restore previous model).")


def held_run(state: AppState) -> TrainingRun | None:
    """The diverged run whose model was not taken in, if it is still the session's last run."""
    run = st.session_state.get(HELD_KEY)
    if run is None or run is not state.run or run.result is None:
        return None
    return run


def use_held_run(state: AppState) -> None:
    """Take the diverged run's last finite weights after all; the model before it stays restorable."""
    run = held_run(state)
    st.session_state.pop(HELD_KEY, None)
    if run is None:
        return
    _replace_keeping(state, lambda: adopt_run(state, run))
    notify(state, "info", "Now using the diverged run's last finite weights.")


def begin_run(state: AppState, baseline: str | None) -> TrainingRun:
    """Start a run and remember which project it belongs to."""
    run = start_run(state, baseline)
    st.session_state[ORIGIN_KEY] = (run, state.project)
    return run


def run_handled(run: TrainingRun | None) -> bool:
    return run is not None and st.session_state.get(HANDLED_KEY) is run


def run_matches_project(state: AppState, run: TrainingRun) -> bool:
    """Whether the session still has the project the run was started from (edits allowed, nothing opened)."""
    origin = st.session_state.get(ORIGIN_KEY)
    if origin is None or origin[0] is not run:
        return True  # started elsewhere: nothing was recorded to contradict it
    return state.project is origin[1]


def adopt_finished_run(state: AppState) -> bool:
    """Handle ``state.run`` if it has ended and was not handled yet; True when it just was.

    Its model is taken in when the run still matches the session's project (offered when it does not,
    held back when it diverged); the model it replaces stays restorable.
    """
    run = state.run
    if run is None or run_handled(run) or not run.snapshot().done:
        return False
    run.join(timeout=5.0)  # the worker has set its final status; let it return
    if run.result is not None:
        if not run_matches_project(state, run):
            st.session_state[OFFER_KEY] = run
        elif run.result.status == "diverged":
            st.session_state[HELD_KEY] = run  # a diverged run is never taken in on its own
        else:
            _replace_keeping(state, lambda: adopt_run(state, run))
    st.session_state[HANDLED_KEY] = run
    return True


def offered_run(state: AppState) -> TrainingRun | None:
    """The finished run waiting for the user to take or leave its model, if any."""
    run = st.session_state.get(OFFER_KEY)
    if run is None or run is not state.run or run.result is None:
        return None
    return run


def take_offered_run(state: AppState) -> None:
    """Use the offered run's model, with the project it was trained on (the opened one goes)."""
    run = offered_run(state)
    st.session_state.pop(OFFER_KEY, None)
    if run is None:
        return
    st.session_state.pop(PREVIOUS_KEY, None)
    set_project(state, run.project.copy())
    adopt_run(state, run)
    notify(state, "success", "Now using the model the training run produced, with the task graph it was trained on.")


def keep_opened_model() -> None:
    st.session_state.pop(OFFER_KEY, None)


def run_offer(state: AppState) -> None:
    """'A training run finished: use its model?' with a choice; nothing changes until one is made."""
    if offered_run(state) is None:
        return
    st.info("A training run finished: use its model? You opened another model while it trained, so the opened "
            "model is kept until you choose.", icon=":material/model_training:")
    take_col, keep_col = st.columns(2)
    take_col.button("Use the run's model", key="run_offer_take", on_click=take_offered_run, args=(state,),
                    type="primary", width="stretch")
    keep_col.button("Keep the opened model", key="run_offer_keep", on_click=keep_opened_model, width="stretch")


def run_from_current_model(state: AppState) -> bool:
    """Whether the session's model is the one the last run produced (nothing opened since)."""
    run = state.run
    return run is not None and run.result is not None and state.history is run.result.history
