"""Per-session app state: one :class:`AppState` in ``st.session_state``, so tabs never mix.

Pages read and change the session's project, model and run only through these helpers.
Traces are cached per session, keyed by the model and the graph they were computed for.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from ragviz.checkpoint import Checkpoint, checkpoint_bytes
from ragviz.editing import EditHistory
from ragviz.errors import RagvizError
from ragviz.graph import TaskGraph
from ragviz.history import History
from ragviz.model import RAGModel
from ragviz.project import Project
from ragviz.runner import TrainingRun
from ragviz.safe_text import md_escape
from ragviz.trace import Trace, compute_trace

STATE_KEY = "ragviz_state"
TRACE_CACHE_SIZE = 6


@dataclass
class AppState:
    """Everything one browser session has made or loaded."""

    project: Project
    edits: EditHistory
    model: RAGModel | None = None
    history: History | None = None
    trained_graph: TaskGraph | None = None
    baseline_name: str | None = None
    baseline_model: RAGModel | None = None
    baseline_history: History | None = None
    source: str = "new project"
    sample_key: str | None = None
    device: str | None = None  # where the current model was trained, when known
    run: TrainingRun | None = None
    saved: dict[str, bytes] = field(default_factory=dict)
    selection: list[str] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)
    traces: OrderedDict[tuple[int, str], Trace] = field(default_factory=OrderedDict)

    @property
    def graph(self) -> TaskGraph:
        return self.project.graph

    @property
    def trained(self) -> bool:
        return self.model is not None

    @property
    def edited_since_training(self) -> bool:
        return self.trained_graph is not None and self.trained_graph != self.project.graph


def _default_project() -> tuple[Project, Checkpoint | None, str | None]:
    """The sample a new session opens on; falls back to an untrained ring if none is shipped."""
    try:
        from ragviz.samples import DEFAULT_SAMPLE, load_sample

        ckpt = load_sample(DEFAULT_SAMPLE)
        return ckpt.project, ckpt, DEFAULT_SAMPLE
    except (ImportError, RagvizError, OSError):
        from ragviz.generators import ring_of_moons

        return Project(ring_of_moons(), name="Ring of rotated moons"), None, None


def _stop_run_when_gone(state: AppState) -> None:
    """A session that ends stops its run (the heartbeat is the second line of defence)."""

    def stop(run_box: list[TrainingRun | None]) -> None:
        if run_box and run_box[0] is not None:
            run_box[0].stop()

    state._run_box = [None]  # type: ignore[attr-defined]
    weakref.finalize(state, stop, state._run_box)  # type: ignore[attr-defined]


def get_state() -> AppState:
    """This session's state, created on first use with the default sample loaded."""
    from ragviz.ui.routing import ensure_app_navigation  # routing draws the sidebar, which reads the state

    ensure_app_navigation()
    state = st.session_state.get(STATE_KEY)
    if state is None:
        project, ckpt, key = _default_project()
        state = AppState(project=project, edits=EditHistory(project.graph))
        _stop_run_when_gone(state)
        if ckpt is not None:
            adopt_checkpoint(state, ckpt, f"sample: {project.name}", sample_key=key)
        st.session_state[STATE_KEY] = state
    return state


def notify(state: AppState, kind: str, text: str) -> None:
    """Queue a message for the next render (kinds: success, info, warning, error).

    The text is shown as plain text (it usually quotes names a user chose), never as markdown.
    """
    state.notices.append((kind, text))


def show_notices(state: AppState) -> None:
    for kind, text in state.notices:
        getattr(st, kind, st.info)(md_escape(text))
    state.notices.clear()


def set_graph(state: AppState, graph: TaskGraph) -> None:
    """Make ``graph`` current after a successful edit, recording it for undo."""
    state.project.graph = state.edits.push(graph).copy()
    state.selection = [s for s in state.selection if s in state.project.graph.nx]


def undo(state: AppState) -> None:
    state.project.graph = state.edits.undo()
    state.selection = [s for s in state.selection if s in state.project.graph.nx]


def redo(state: AppState) -> None:
    state.project.graph = state.edits.redo()
    state.selection = [s for s in state.selection if s in state.project.graph.nx]


def set_project(state: AppState, project: Project, source: str, sample_key: str | None = None) -> None:
    """Replace the project (a new or imported graph); the trained model is dropped."""
    state.project = project
    state.edits.reset(project.graph)
    state.model = state.history = state.trained_graph = None
    state.baseline_name = state.baseline_model = state.baseline_history = None
    state.source, state.sample_key = source, sample_key
    state.device = None
    state.selection = []
    state.traces.clear()


def adopt_checkpoint(state: AppState, ckpt: Checkpoint, source: str, sample_key: str | None = None) -> None:
    """Open a loaded checkpoint: its project, model and history become the session's."""
    set_project(state, ckpt.project, source, sample_key)
    state.model = ckpt.model
    state.history = ckpt.history
    state.trained_graph = ckpt.project.graph.copy()
    state.device = str(ckpt.info.get("device") or "") or None


def adopt_run(state: AppState, run: TrainingRun) -> None:
    """Take a finished (or stopped) run's model; a diverged run keeps its last finite weights."""
    if run.result is None:
        return
    state.model = run.result.model
    state.history = run.result.history
    state.trained_graph = run.project.graph.copy()
    state.project.model_config = run.project.model_config
    state.project.train_config = run.project.train_config
    state.source = "trained in this session"
    state.sample_key = None
    state.device = run.result.device
    if run.baseline_result is not None:
        state.baseline_name = run.baseline
        state.baseline_model = run.baseline_result.model
        state.baseline_history = run.baseline_result.history
    else:
        state.baseline_name = state.baseline_model = state.baseline_history = None
    state.traces.clear()


def start_run(state: AppState, baseline: str | None) -> TrainingRun:
    if state.run is not None and state.run.alive:
        raise RagvizError("A training run is already going; stop it first.")
    run = TrainingRun(state.project, baseline).start()
    state.run = run
    state._run_box[0] = run  # type: ignore[attr-defined]
    return run


def graph_key(graph: TaskGraph, extra: Any = None) -> str:
    blob = json.dumps([graph.to_dict(), extra], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()


def get_trace(
    state: AppState,
    graph: TaskGraph | None = None,
    baseline: bool = False,
    edges: list[tuple[str, str, str, float]] | None = None,
) -> Trace | None:
    """The trace of the session's model (or baseline) on ``graph`` (default: the current graph)."""
    model = state.baseline_model if baseline else state.model
    if model is None:
        return None
    graph = graph if graph is not None else state.project.graph
    if graph.number_of_tasks() == 0:
        return None
    if graph.domain != model.spec.name:
        raise RagvizError(
            f"the trained model is for {model.spec.name} tasks but this graph's tasks are {graph.domain} tasks"
        )
    key = (id(model), graph_key(graph, edges))
    if key in state.traces:
        state.traces.move_to_end(key)
        return state.traces[key]
    trace = compute_trace(model, graph, state.project.tables, edges=edges)
    state.traces[key] = trace
    while len(state.traces) > TRACE_CACHE_SIZE:
        state.traces.popitem(last=False)
    return trace


def current_checkpoint_bytes(state: AppState) -> bytes:
    if state.model is None:
        raise RagvizError("There is no trained model to save yet: train one or open a checkpoint.")
    project = state.project.copy()
    if state.trained_graph is not None:
        project.graph = state.trained_graph.copy()
    extra = {"source": state.source, **({"device": state.device} if state.device else {})}
    return checkpoint_bytes(project, state.model, state.history, extra)
