"""Checkpoints: a gallery of samples, saved and uploaded models; open, download, upload, compare."""

import streamlit as st

from ragviz.safety.safe_text import md_escape
from ragviz.ui.checkpoint_widgets import compare_panel, gallery, gallery_sections, upload_box
from ragviz.ui.projector import tucked
from ragviz.ui.routing import page_state
from ragviz.ui.state import show_notices

state = page_state()
st.title("Checkpoints")
st.caption("Every trained model is one .safetensors file: open one to explore it on every page, download "
           "it, upload your own, or compare two task by task.")
show_notices(state)
st.markdown(f"**Open now:** {md_escape(state.trained.source) if state.trained else 'no trained model yet'}")
with tucked("Upload a model"):
    upload_box(state)
sections = gallery_sections(state)
gallery_tab, compare_tab = st.tabs(["Gallery", "Compare two models"], key="ckpt_tabs", on_change="rerun")
with gallery_tab:
    gallery(state, sections)
with compare_tab:
    compare_panel(state, [entry for section in sections for entry in section.entries])
