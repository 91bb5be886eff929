"""Taking a finished training run's result into the session exactly once.

Whichever fragment notices first that the run is over (the sidebar on any page, or the
Train page's live panel) adopts it; later polls see it was handled and leave the session's
model alone, so opening a checkpoint after a run is never overwritten by that run.
"""

from __future__ import annotations

import streamlit as st

from ragviz.runner import TrainingRun
from ragviz.ui.state import AppState, adopt_run

HANDLED_KEY = "ragviz_handled_run"


def run_handled(run: TrainingRun | None) -> bool:
    return run is not None and st.session_state.get(HANDLED_KEY) is run


def adopt_finished_run(state: AppState) -> bool:
    """Adopt ``state.run`` if it has ended and was not handled yet; True when it just was."""
    run = state.run
    if run is None or run_handled(run) or not run.snapshot().done:
        return False
    run.join(timeout=5.0)  # the worker has set its final status; let it return
    if run.result is not None:
        adopt_run(state, run)
    st.session_state[HANDLED_KEY] = run
    return True


def run_from_current_model(state: AppState) -> bool:
    """Whether the session's model is the one the last run produced (nothing opened since)."""
    run = state.run
    return run is not None and run.result is not None and state.history is run.result.history
