"""Taking a finished training run's result into the session exactly once, and only if it still fits.

Whichever fragment notices first that the run is over (the sidebar on any page, or the
Train page's live panel) handles it; later polls see it was handled and leave the session's
model alone. What the user opened last is what they have: a run whose project was replaced
while it trained (a checkpoint or sample opened meanwhile) is offered, never imposed.
"""

from __future__ import annotations

import streamlit as st

from ragviz.runner import TrainingRun
from ragviz.ui.state import AppState, adopt_run, notify, set_project, start_run

HANDLED_KEY = "ragviz_handled_run"
ORIGIN_KEY = "ragviz_run_origin"  # (run, the project object it was started from)
OFFER_KEY = "ragviz_offered_run"  # a finished run whose model was not taken in


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

    Its model is taken in when the run still matches the session's project, else offered.
    """
    run = state.run
    if run is None or run_handled(run) or not run.snapshot().done:
        return False
    run.join(timeout=5.0)  # the worker has set its final status; let it return
    if run.result is not None:
        if run_matches_project(state, run):
            adopt_run(state, run)
        else:
            st.session_state[OFFER_KEY] = run
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
