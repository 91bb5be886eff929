"""Train: settings, Start/Stop, live per-task curves, an optional baseline, and saving the model."""

import streamlit as st

from ragviz.ui.projector import tucked
from ragviz.ui.routing import page_state
from ragviz.ui.state import show_notices
from ragviz.ui.train_widgets import (
    baseline_panel,
    live_panel,
    model_panel,
    run_active,
    run_outcome,
    save_panel,
    settings_form,
)

state = page_state()
st.title("Train")
st.caption("Pick settings, press **Start training**, and watch every task learn. Training runs in the "
           "background: other pages stay usable, and Stop keeps what was learned so far.")
show_notices(state)
with tucked("Training settings and Start"):
    settings_form(state)
if run_active(state):
    live_panel(state)
else:
    run_outcome(state)
    model_panel(state)
    baseline_panel(state)
    save_panel(state)
