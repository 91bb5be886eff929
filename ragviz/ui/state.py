"""Per-session app state: one :class:`AppState` in ``st.session_state``, so tabs never mix.

This is the only module that touches ``st.session_state`` (``tests/test_structure.py`` holds every
other module to that): everything a session keeps between reruns is a declared field of
:class:`AppState`, and a widget's value, which Streamlit itself keeps under the widget's key, is read
and set through :func:`widget_value` and :func:`set_widget_value`. Widget keys more than one module
uses are declared here once.

Pages read and change the session's project, model and run only through these helpers.
Traces are cached per session, keyed by the model and the graph they were computed for.
This module draws nothing and imports no other ``ragviz.ui`` module: pages reach it through
:func:`ragviz.ui.routing.page_state`, which sets up navigation first.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from ragviz.graph.editing import EditHistory
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Edges
from ragviz.inspection.trace import Trace, compute_trace
from ragviz.model.rag import RAGModel
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.storage.checkpoint import Checkpoint, checkpoint_bytes
from ragviz.training.history import History
from ragviz.training.lifecycle import RunRecord, SessionRuns
from ragviz.training.liveness import Probe
from ragviz.training.project import Project
from ragviz.training.runner import TrainingRun

STATE_KEY = "ragviz_state"
TRACE_CACHE_SIZE = 6
TRAINED_HERE = "trained in this session"  # the source of a model this session trained

#: Widget keys that more than one module reads or sets (Streamlit keeps a widget's value under its key).
PROJECTOR_KEY = "projector"  # the sidebar's projector-mode toggle
SCREEN_KEY = "projector_screen"  # the projector's screen size (a radio)
LAYER_KEY = "mp_layer"  # Message passing's layer (a radio)
FOCUS_PICKERS = ("mp_focus", "em_focus")  # the focus selectboxes of Message passing and Embeddings


@dataclass
class TrainedModel:
    """A trained model with what belongs to it: its history, the graph it was trained on, where it ran
    and where it came from (a sample, an upload, this session)."""

    model: RAGModel
    history: History | None
    graph: TaskGraph
    source: str
    device: str | None = None  # where it was trained, when known


@dataclass
class Baseline:
    """The ablation trained after the model on the same data, to compare against."""

    name: str
    model: RAGModel
    history: History | None


@dataclass
class LinkMemo:
    """What the view's link keeps between reruns (:mod:`ragviz.ui.view_url`)."""

    opened: bool = False  # the session has read its URL
    layer: int | None = None  # the layer last picked (the radio's own key goes when its page is left)
    cache: tuple[Any, ...] | None = None  # (graph objects, small fields' JSON, their EncodedView)
    slot: Any = None  # this run's place for "Copy link" at the top of the sidebar
    drawn: str | None = None  # the link drawn in this run's slot: redrawn only for a new link
    retrain: bool = False  # the session came from a link that could not carry its model


@dataclass
class AppState:
    """Everything one browser session has made or loaded, and what its pages keep between reruns."""

    project: Project
    edits: EditHistory
    trained: TrainedModel | None = None
    baseline: Baseline | None = None
    sample_key: str | None = None  # the shipped sample that is open, if one is
    saved: dict[str, bytes] = field(default_factory=dict)
    selection: list[str] = field(default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)
    traces: OrderedDict[tuple[int, str], Trace] = field(default_factory=OrderedDict)
    #: uploader key -> how many uploads it has released (its widget key changes, so it starts empty)
    upload_rounds: dict[str, int] = field(default_factory=dict)
    #: The session's runs and where each is in its lifecycle (:mod:`ragviz.training.lifecycle`); a session
    #: that ends stops them (the finaliser holds this object, not the state; liveness is the second line).
    runs: SessionRuns = field(default_factory=SessionRuns, repr=False)
    # ---- what the pages keep between reruns
    focus: str | None = None  # the focus task the three "inside" pages share
    whatif: dict[str, Any] | None = None  # Task outputs' what-if: base graph key, model id, edited graph, edits
    lesson_kept: tuple[str, Project] | None = None  # (lesson key, the project object it is kept open for)
    lesson_closed: Project | None = None  # the project object whose lesson the user closed
    goto: str | None = None  # the page path a lesson's go-there link asked for, followed on the next run
    edit_counter: int = 0  # Task graph's widget version: bumped so widgets keyed by it start fresh
    table_nonce: int = 0  # Task graph's tables: bumped to discard their edits
    chart_seen: tuple[str, list[str]] | None = None  # (graph chart key, the tasks it last reported clicked)
    drawn_selection: list[str] = field(default_factory=list)  # the selection drawn into the graph chart
    color_choice: str | None = None  # Task graph's "Colour tasks by"
    uploads: dict[str, bytes] = field(default_factory=dict, repr=False)  # checkpoints uploaded, by file name
    compared_a: str | None = None  # Checkpoints' model A when model B was last chosen for it
    settings_token: str | None = None  # the project settings the Train page's widgets were last filled from
    table_screen: str | None = None  # the projector screen the tables were drawn for (None: the desk)
    live_figures: tuple[Any, ...] | None = field(default=None, repr=False)  # (history key, loss fig, metric fig)
    figures: OrderedDict[Any, Any] = field(default_factory=OrderedDict, repr=False)  # :mod:`ragviz.ui.figure_cache`
    link: LinkMemo = field(default_factory=LinkMemo, repr=False)

    def __post_init__(self) -> None:
        weakref.finalize(self, self.runs.stop_all)

    @property
    def run(self) -> TrainingRun | None:
        """The session's last training run (not the ensemble's)."""
        return self.runs.train.run if self.runs.train is not None else None

    @property
    def graph(self) -> TaskGraph:
        return self.project.graph

    @property
    def model(self) -> RAGModel | None:
        return self.trained.model if self.trained is not None else None

    @property
    def history(self) -> History | None:
        return self.trained.history if self.trained is not None else None

    @property
    def edited_since_training(self) -> bool:
        return self.trained is not None and self.trained.graph != self.project.graph


def _default_project() -> tuple[Project, Checkpoint | None, str | None]:
    """The sample a new session opens on; falls back to an untrained ring if none is shipped."""
    try:
        from ragviz.lessons.samples import DEFAULT_SAMPLE, load_sample

        ckpt = load_sample(DEFAULT_SAMPLE)
        return ckpt.project, ckpt, DEFAULT_SAMPLE
    except (ImportError, RagvizError, OSError):
        from ragviz.graph.generators import ring_of_moons

        return Project(ring_of_moons(), name="Ring of rotated moons"), None, None


def existing_state() -> AppState | None:
    """This session's state if it has one yet (creating the default one loads a sample)."""
    return st.session_state.get(STATE_KEY)


def replace_state(state: AppState) -> None:
    """Make ``state`` the session's (a view opened from a link)."""
    st.session_state[STATE_KEY] = state


def get_state() -> AppState:
    """This session's state, created on first use with the default sample loaded."""
    state = st.session_state.get(STATE_KEY)
    if state is None:
        project, ckpt, key = _default_project()
        state = AppState(project=project, edits=EditHistory(project.graph))
        if ckpt is not None:
            adopt_checkpoint(state, ckpt, f"sample: {project.name}", sample_key=key)
        st.session_state[STATE_KEY] = state
    return state


def widget_value(key: str, default: Any = None) -> Any:
    """The value of the widget keyed ``key`` (``default`` before it was first drawn, or after its page was left)."""
    return st.session_state.get(key, default)


def set_widget_value(key: str, value: Any) -> None:
    """Make the widget keyed ``key`` show ``value`` (before it is drawn in this run, or from a callback)."""
    st.session_state[key] = value


def has_widget_value(key: str) -> bool:
    return key in st.session_state


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


def set_project(state: AppState, project: Project, sample_key: str | None = None) -> None:
    """Replace the project (a new or imported graph); the trained model is dropped."""
    state.project = project
    state.edits.reset(project.graph)
    state.trained = state.baseline = None
    state.sample_key = sample_key
    state.selection = []
    state.traces.clear()


def adopt_checkpoint(state: AppState, ckpt: Checkpoint, source: str, sample_key: str | None = None) -> None:
    """Open a loaded checkpoint: its project, model and history become the session's."""
    set_project(state, ckpt.project, sample_key)
    device = str(ckpt.info.get("device") or "") or None
    state.trained = TrainedModel(ckpt.model, ckpt.history, ckpt.project.graph.copy(), source, device)


def adopt_run(state: AppState, run: TrainingRun) -> None:
    """Take a finished (or stopped) run's model; a diverged run keeps its last finite weights."""
    if run.result is None:
        return
    result = run.result
    state.trained = TrainedModel(result.model, result.history, run.project.graph.copy(), TRAINED_HERE,
                                 result.device)
    state.project.model_config = run.project.model_config
    state.project.train_config = run.project.train_config
    state.sample_key = None
    base = run.baseline_result
    state.baseline = Baseline(run.baseline, base.model, base.history) if base is not None and run.baseline else None
    state.traces.clear()


def session_probe() -> Probe | None:
    """'Is this session still connected?', for a run's liveness; None outside a served app (AppTest, scripts).

    Uses the runtime's public, thread-safe ``Runtime.is_active_session``: a tab that closes or loses
    its connection is no longer active; one that reconnects in time is again.
    """
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return None
    instance, session_id = runtime.get_instance(), ctx.session_id
    if not instance.is_active_session(session_id):
        return None  # not a served session (AppTest): polls decide
    return lambda: instance.is_active_session(session_id)


def refuse_second_run(state: AppState) -> None:
    """One run per session (an ensemble counts): a second one would take a slot another student waits for."""
    busy = state.runs.busy()
    if busy is not None:
        what = "the models of “How sure is the model?”" if busy.kind == "ensemble" else "a model"
        raise RagvizError(f"This session is already training {what}: one run at a time per session, so that "
                          "everyone gets a turn. Stop it or wait for it to finish.")


def start_run(state: AppState, baseline: str | None) -> TrainingRun:
    """Queue a training run for the session's project; its lifecycle starts at *queued*."""
    refuse_second_run(state)
    run = TrainingRun(state.project, baseline, probe=session_probe()).start()
    state.runs.train = RunRecord(run, "train", origin=state.project)
    return run


def graph_key(graph: TaskGraph, extra: Any = None) -> str:
    """A hash of the graph's content (and ``extra``), for caches and widget keys within this process.

    Pickled, not JSON with sorted keys: pages ask for it several times a rerun, and on a 1,000-task
    graph that was 9 ms each against 2 ms. Two equal graphs built in different orders may get two keys
    (a cache miss, never a wrong hit); nothing outside this process sees a key.
    """
    blob = pickle.dumps(graph.to_dict(), protocol=pickle.HIGHEST_PROTOCOL)
    if extra is not None:
        blob += json.dumps(extra, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()


def current_whatif(state: AppState) -> dict[str, Any] | None:
    """The session's what-if if it was made from the current project graph and model; None when it is stale."""
    whatif = state.whatif
    if (isinstance(whatif, dict) and state.model is not None and whatif.get("model") == id(state.model)
            and whatif.get("base") == graph_key(state.project.graph)):
        return whatif
    return None


def get_trace(
    state: AppState,
    graph: TaskGraph | None = None,
    baseline: bool = False,
    edges: Edges | None = None,
) -> Trace | None:
    """The trace of the session's model (or baseline) on ``graph`` (default: the current graph)."""
    model = (state.baseline.model if state.baseline is not None else None) if baseline else state.model
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
    trained = state.trained
    if trained is None:
        raise RagvizError("There is no trained model to save yet: train one or open a checkpoint.")
    project = state.project.copy()
    project.graph = trained.graph.copy()
    extra = {"source": trained.source, **({"device": trained.device} if trained.device else {})}
    return checkpoint_bytes(project, trained.model, trained.history, extra)
