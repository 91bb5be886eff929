"""Home: what RAG is, its equations, and one click to open a sample and read its lesson."""

import streamlit as st

from ragviz.ui.home_widgets import lesson, next_steps, rag_explainer, sample_list
from ragviz.ui.routing import page_state
from ragviz.ui.state import show_notices

state = page_state()
st.title("ragviz: the RAG lab")
st.markdown("Learn and explore **RAG, the Relation-Aware Generative model**: draw a graph of tasks, train, and "
            "look inside.  \n:gray[RAG here is not retrieval-augmented generation.]")
show_notices(state)
explain_col, samples_col = st.columns([3, 2], gap="large")
with explain_col:
    rag_explainer()
    lesson(state)  # under the explanation: the gallery beside it is long, and the lesson reads better wide
with samples_col:
    sample_list(state)
next_steps()
