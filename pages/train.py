"""Train: a running run's live curves at the top, then settings and Start/Stop, then the model, a replay
of its run, an optional baseline, and saving the model."""

import streamlit as st

from ragviz.ui.projector import tucked
from ragviz.ui.routing import page_state
from ragviz.ui.run_review import run_outcome
from ragviz.ui.state import show_notices
from ragviz.ui.train_widgets import (
    baseline_panel,
    live_panel,
    model_panel,
    run_active,
    save_panel,
    settings_form,
)

state = page_state()
st.title("Train")
st.caption("Pick settings, press **Start training**, and watch every task learn. Training runs in the "
           "background: other pages stay usable, and Stop keeps what was learned so far.")
show_notices(state)
active = run_active(state)
reported = False
if active:
    live_panel(state)  # on screen at once, above the settings
else:
    reported = run_outcome(state)
with tucked("Training settings and Start"):
    settings_form(state)
if not active:
    model_panel(state, watch=not reported)
    baseline_panel(state)
    save_panel(state)
