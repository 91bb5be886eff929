"""A session's runs in the ui: starting one, taking a finished one in exactly once, and its aftermath.

Where a run is in its life is :class:`ragviz.training.lifecycle.RunRecord`'s phase, kept in the
session's :class:`ragviz.ui.state.AppState` (``state.runs``); nothing here keeps a session key.
Only the app shell's watcher (:mod:`ragviz.ui.run_watcher`) calls :func:`take_in_ended`; pages and
fragments only draw. What the user opened last is what they have: a run whose project was replaced
while it trained (a checkpoint or sample opened meanwhile) is offered, never imposed.

A run's model never silently replaces a better one: the model it replaces is kept
(:func:`previous_model`, one click to restore), and a diverged run is held back until the
user chooses to use its last finite weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from ragviz.model.config import ModelConfig
from ragviz.training.ensemble_run import EnsembleRun
from ragviz.training.lifecycle import Event, RunRecord
from ragviz.training.runner import TrainingRun
from ragviz.ui.state import (
    AppState,
    Baseline,
    TrainedModel,
    adopt_run,
    notify,
    refuse_second_run,
    session_probe,
    set_project,
    start_run,
)
from ragviz.ui.timeline import record as record_event


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
        state.runs.previous = None
        return
    kept.replaced_by = state.trained
    state.runs.previous = kept


def previous_model(state: AppState) -> KeptModel | None:
    """The model the session's model replaced (by a run, or by a restore), while nothing else was opened."""
    kept = state.runs.previous
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


def _train_record(state: AppState, outcome: str) -> RunRecord | None:
    record = state.runs.train
    if record is None or record.outcome != outcome or record.run.result is None:
        return None
    return record


def held_run(state: AppState) -> TrainingRun | None:
    """The diverged run whose model was not taken in, if it is still the session's last run."""
    record = _train_record(state, "held")
    return record.run if record is not None else None


def use_held_run(state: AppState) -> None:
    """Take the diverged run's last finite weights after all; the model before it stays restorable."""
    run = held_run(state)
    if run is None:
        return
    state.runs.train.outcome = "adopted"
    _replace_keeping(state, lambda: adopt_run(state, run))
    notify(state, "info", "Now using the diverged run's last finite weights.")


def begin_run(state: AppState, baseline: str | None) -> TrainingRun:
    """Start a training run (one per session); its record remembers which project it belongs to."""
    return start_run(state, baseline)


def begin_ensemble(state: AppState, key: str, k: int) -> EnsembleRun:
    """Start the ensemble's run; it is the session's one run while it trains."""
    refuse_second_run(state)
    run = EnsembleRun(state.project, k, probe=session_probe()).start()
    state.runs.ensemble = RunRecord(run, "ensemble", origin=state.project, key=key)
    return run


def drop_ensemble(state: AppState) -> None:
    """Forget the ensemble (its graph, configs or model changed), stopping it if it still trains."""
    if state.runs.ensemble is not None:
        state.runs.ensemble.run.stop()
        state.runs.ensemble = None


def run_handled(state: AppState) -> bool:
    """The session's training run has been taken in (its result dealt with)."""
    record = state.runs.train
    return record is not None and record.taken_in


def run_matches_project(state: AppState, record: RunRecord) -> bool:
    """Whether the session still has the project the run was started from (edits allowed, nothing opened)."""
    return record.origin is None or state.project is record.origin


def _take_in(state: AppState, record: RunRecord) -> None:
    """Deal with an ended run's result, once: adopt its model, offer it, or hold it back."""
    run = record.run
    run.join(timeout=5.0)  # the worker has set its final status; let it return
    outcome = "nothing"
    if record.kind == "train" and run.result is not None:
        if not run_matches_project(state, record):
            outcome = "offered"
        elif run.result.status == "diverged":
            outcome = "held"  # a diverged run is never taken in on its own
        else:
            outcome = "adopted"
            _replace_keeping(state, lambda: adopt_run(state, run))
    record.outcome = outcome
    record.apply(Event.TAKE_IN)
    record_event("taken in", kind=record.kind, outcome=outcome, status=str(getattr(run.result, "status", None)))


def take_in_ended(state: AppState) -> bool:
    """Take in every run of the session that has ended and was not taken in yet; True when one just was.

    Only the app shell's watcher calls this (:mod:`ragviz.ui.run_watcher`).
    """
    ended = [record for record in state.runs.records() if record.ended]
    for record in ended:
        _take_in(state, record)
    return bool(ended)


def offered_run(state: AppState) -> TrainingRun | None:
    """The finished run waiting for the user to take or leave its model, if any."""
    record = _train_record(state, "offered")
    return record.run if record is not None else None


def take_offered_run(state: AppState) -> None:
    """Use the offered run's model, with the project it was trained on (the opened one goes)."""
    run = offered_run(state)
    if run is None:
        return
    state.runs.train.outcome = "adopted"
    state.runs.previous = None
    set_project(state, run.project.copy())
    adopt_run(state, run)
    notify(state, "success", "Now using the model the training run produced, with the task graph it was trained on.")


def keep_opened_model(state: AppState) -> None:
    if offered_run(state) is not None:
        state.runs.train.outcome = "kept"


def run_offer(state: AppState) -> None:
    """'A training run finished: use its model?' with a choice; nothing changes until one is made."""
    if offered_run(state) is None:
        return
    st.info("A training run finished: use its model? You opened another model while it trained, so the opened "
            "model is kept until you choose.", icon=":material/model_training:")
    take_col, keep_col = st.columns(2)
    take_col.button("Use the run's model", key="run_offer_take", on_click=take_offered_run, args=(state,),
                    type="primary", width="stretch")
    keep_col.button("Keep the opened model", key="run_offer_keep", on_click=keep_opened_model, args=(state,),
                    width="stretch")


def run_from_current_model(state: AppState) -> bool:
    """Whether the session's model is the one the last run produced (nothing opened since)."""
    run = state.run
    return run is not None and run.result is not None and state.history is run.result.history
