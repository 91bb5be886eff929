"""Message passing: layer by layer, which task tells which what, and how each task updates."""

import streamlit as st

from ragviz.ui.inside_widgets import blend_note, current_trace
from ragviz.ui.message_widgets import HOW_TO, message_passing_view
from ragviz.ui.routing import page_state
from ragviz.ui.state import show_notices

state = page_state()
st.title("Message passing")
st.caption(HOW_TO)
show_notices(state)
trace = current_trace(state)
if trace is not None:
    blend_note(state)
    message_passing_view(state, trace)
