"""The Home page's parts: what RAG is (with its equations), samples to open, the open lesson."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.ui.routing import CHECKPOINTS, EMBEDDINGS, MESSAGE_PASSING, TASK_GRAPH, TASK_OUTPUTS, TRAIN, AppPage
from ragviz.ui.state import AppState, adopt_checkpoint, notify

EQUATIONS: tuple[tuple[str, str], ...] = (
    ("**Task input.** A task with training data starts from its own learned embedding. A task without "
     "(zero-shot, or a seen task dropped with probability p while training) starts where its relations put it: "
     "the weighted mean of its neighbours' states, repeated until the values settle. The weight of a relation, "
     "b_r, is computed from the relation's embedding z_r.",
     r"\begin{gathered} h^{0}_{v} = \begin{cases} E[v] & \text{task } v \text{ has training data} \\ "
     r"\sum_{u \to v} \alpha_{uv}\, h^{0}_{u} & \text{no data (or dropped)} \end{cases} \\ "
     r"\alpha_{uv} = \operatorname{softmax}_u\left(\log w_{uv} + a^{\top} z_r\right) \end{gathered}"),
    ("**Message** along an edge u → v of relation r with weight w_uv: the sender's state composed with the "
     "relation's embedding z_r (φ = h⊙z, h−z, a typed matrix W_r h, or just h when relation-blind).",
     r"m_{u \to v} = W^{l}_{\mathrm{msg}}\; \varphi\!\left(h^{l}_{u},\, z^{l}_{r}\right)\, w_{uv}"),
    ("**Aggregate and update**, L times: each task combines its incoming messages (mean, sum, max or "
     "attention) and updates its state with a residual step.",
     r"\begin{gathered} a_v = \operatorname*{AGG}_{u \to v} m_{u \to v} \\ "
     r"h^{l+1}_{v} = \mathrm{LayerNorm}\!\left(h^{l}_{v} + \sigma\!\left(W^{l}_{\mathrm{self}}\, h^{l}_{v} "
     r"+ a_v\right)\right) \end{gathered}"),
    ("**Task embedding.** A task with data: its last state, t_v = h^L_v. A task without: again where its "
     "relations put it, the weighted mean of its neighbours' last states, each moved by its relation's transform "
     "τ_r (computed from z_r: it keeps half the state and scales the other half by ρ_r, which can learn −1 for "
     "\"labels flipped\").",
     r"\begin{gathered} t_v = \begin{cases} h^{L}_{v} & \text{task } v \text{ has training data} \\ "
     r"\sum_{u \to v} \alpha_{uv}\, \tau_{r} \odot t_{u} & \text{no data} \end{cases} \\ "
     r"\tau_r = (1, \dots, 1, \rho_r, \dots, \rho_r), \quad \rho_r = 1 + c^{\top} z_r \end{gathered}"),
    ("**Generated decoder.** The task embedding t_v generates the task's linear head on top of an "
     "encoder s = f(x) shared by all tasks. Every task's head, a zero-shot task's too, comes from its own "
     "embedding alone.",
     r"\begin{gathered} W_v = G\, t_v + W_0, \qquad b_v = g^{\top} t_v + b_0 \\ "
     r"\hat{y} = W_v^{\top} s + b_v \end{gathered}"),
)

BUILD_HINT = "Build the samples with `python -m ragviz samples`."
NEXT_PAGES: tuple[tuple[AppPage, str], ...] = (
    (TASK_GRAPH, "draw tasks and relations"),
    (TRAIN, "live curves, a baseline"),
    (MESSAGE_PASSING, "layer by layer"),
    (EMBEDDINGS, "where tasks land"),
    (TASK_OUTPUTS, "every task's predictions"),
    (CHECKPOINTS, "open, save, compare"),
)


def samples() -> list[Any]:
    """The shipped samples, or none if ragviz.lessons.samples is not available."""
    try:
        from ragviz.lessons.samples import SAMPLES
    except ImportError:
        return []
    return list(SAMPLES)


def find_sample(key: str | None) -> Any | None:
    return next((s for s in samples() if s.key == key), None) if key else None


def open_sample(state: AppState, key: str) -> bool:
    """Load a shipped sample and make it the session's; if it cannot be read nothing changes."""
    try:
        from ragviz.lessons.samples import load_sample

        ckpt = load_sample(key)
    except (RagvizError, ImportError) as err:
        notify(state, "error", f"Could not open the sample: {err} The current project is unchanged.")
        return False
    adopt_checkpoint(state, ckpt, f"sample: {ckpt.project.name}", sample_key=key)
    sample = find_sample(key)
    title = sample.title if sample is not None else ckpt.project.name
    notify(state, "success", f"Opened the sample '{title}'. Its lesson is on this page under 'How "
                             "RAG works' and in the sidebar; 'Task outputs' shows what the model learned.")
    return True


def rag_explainer() -> None:
    st.markdown("### How RAG works")
    st.markdown(
        "Every **task** is a node of a **task graph**; typed edges say how tasks relate (rotated by 30°, "
        "same family, mirror image…). A relation-aware graph network turns the graph into one **embedding per "
        "task**, and that embedding **generates** the task's predictor. A task with no data at all still gets "
        "a predictor, from its relations alone: that is **zero-shot**."
    )
    for text, latex in EQUATIONS:
        st.markdown(text)
        st.latex(latex)


def sample_list(state: AppState) -> None:
    st.markdown("### Open a sample")
    found = samples()
    if not found:
        st.info("No sample models are shipped with this copy. Train one on the **Train** page, or open a "
                "checkpoint on the **Checkpoints** page.", icon=":material/info:")
        return
    st.caption("Each sample is a trained model with a claim and a short lesson. One click opens it.")
    for sample in found:
        current = state.sample_key == sample.key and state.trained
        built = Path(sample.path).is_file()
        with st.container(border=True):
            st.markdown(f"**{sample.title}**  \n:gray[{sample.claim}]")
            st.button("Open ✓ (open now)" if current else "Open", key=f"sample:{sample.key}", on_click=open_sample,
                      args=(state, sample.key), type="secondary" if current else "primary", disabled=not built,
                      help="Load this trained model and show its lesson." if built else BUILD_HINT)
            if not built:
                st.caption(f"Not built yet. {BUILD_HINT}")


def lesson(state: AppState) -> None:
    """The open sample's lesson (or the project's own), else a pointer to the samples.

    A shipped sample's lesson is markdown written with the code; a project's own lesson
    came with a checkpoint someone uploaded, so it is shown as plain text.
    """
    sample = find_sample(state.sample_key)
    text = sample.lesson if sample is not None else md_escape(state.project.lesson)
    if not text:
        st.caption("No lesson is open: open a sample to read its lesson here.")
        return
    title = md_escape(sample.title if sample is not None else state.project.name)
    with st.container(border=True):
        st.markdown(f"#### Lesson: {title}")
        st.markdown(text)


def next_steps() -> None:
    st.markdown("### Where to go next")
    cols = st.columns(3)
    for i, (page, what) in enumerate(NEXT_PAGES):
        with cols[i % 3], st.container(border=True):
            st.page_link(page.path, label=f"**{page.title}**", width="stretch")
            st.caption(what)
