"""Task outputs: every task's predictions as small multiples, its metric, and what-if edits without retraining."""

import streamlit as st

from ragviz.ui.inside_widgets import current_trace
from ragviz.ui.lesson_contrast import lesson_contrast_section
from ragviz.ui.output_widgets import HOW_TO, task_outputs_view
from ragviz.ui.routing import page_state
from ragviz.ui.state import show_notices

state = page_state()
st.title("Task outputs")
st.caption(HOW_TO)
show_notices(state)
trace = current_trace(state)
if trace is not None:
    lesson_contrast_section(state, trace)
    task_outputs_view(state, trace)
