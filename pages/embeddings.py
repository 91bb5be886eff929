"""Embeddings: the tasks in 2-D, layer by layer and over training, and each task's nearest neighbours."""

import streamlit as st

from ragviz.ui.embedding_widgets import HOW_TO, embeddings_view
from ragviz.ui.inside_widgets import blend_note, current_trace
from ragviz.ui.routing import page_state
from ragviz.ui.state import show_notices
from ragviz.ui.text_widgets import sentence_vectors_section

state = page_state()
st.title("Embeddings")
st.caption(HOW_TO)
show_notices(state)
trace = current_trace(state)
if trace is not None:
    blend_note(state)
    embeddings_view(state, trace)
    sentence_vectors_section(state, trace)
