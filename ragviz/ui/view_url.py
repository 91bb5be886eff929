"""The view in the URL: a reload restores it, and "Copy link" hands it to anyone on any server.

:func:`open_view_link` runs before the sidebar on a session's first run: it reads the URL's
view (:mod:`ragviz.storage.view_link`, untrusted input) and makes it the session's state, or says why
the link cannot be opened and shows the home page. :func:`keep_view_link` runs after the page:
it writes the current view into the URL (only when it changed; the encoding is cached on the
graph objects, so a rerun of a big graph does not re-encode it) and draws "Copy link".

What it keeps between reruns is the session state's :class:`~ragviz.ui.state.LinkMemo`; the view's
focus task, layer, what-if and projector are the state's fields and widget keys the pages share.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from ragviz.graph.editing import EditHistory
from ragviz.graph.task_graph import TaskGraph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.errors import RagvizError
from ragviz.safety.limits import size_text
from ragviz.safety.safe_text import md_escape
from ragviz.storage.view_link import (
    LINK_BUDGET,
    EncodedView,
    View,
    ViewLinkError,
    build_view,
    encode_view,
    payload_sample,
    read_link,
)
from ragviz.training.project import Project
from ragviz.ui.lesson_state import close_lesson, open_lesson
from ragviz.ui.projector import SCREENS
from ragviz.ui.state import (
    LAYER_KEY,
    PROJECTOR_KEY,
    SCREEN_KEY,
    AppState,
    adopt_checkpoint,
    current_whatif,
    existing_state,
    get_state,
    graph_key,
    notify,
    replace_state,
    set_graph,
    set_project,
    set_widget_value,
    widget_value,
)

PARAM = "view"
RETRAIN_TEXT = ("Opened from a link: the task graph and its settings are back, but a link cannot carry a trained "
                "model. Train it again on the **Train** page to see the model's pages.")


# ------------------------------------------------------------------------------ reading a link
def open_view_link(page: StreamlitPage, home_path: str) -> None:
    """Before the page: on a session's first run, open the view its URL holds (a bad link gives a
    message and Home); then the view into the URL and "Copy link" at the top of the sidebar."""
    known = existing_state()
    if known is None or not known.link.opened:
        token, problem = st.query_params.get(PARAM), None
        if token:
            try:
                replace_state(_state_from_link(token))
            except RagvizError as err:
                problem = err
            finally:  # read once, whatever happened: a link that fails is not read again on every run
                get_state().link.opened = True
        state = get_state()
        state.link.opened = True
        if problem is not None:
            notify(state, "error", f"This link could not be opened: {problem} Here is the home page instead; "
                                   "nothing was changed.")
            if page.url_path:  # not already the home page (the default page's path is empty)
                st.switch_page(home_path)
    link = get_state().link
    link.slot = st.sidebar.empty()
    link.drawn = None  # a new run: the slot is empty
    keep_view_link()


def _state_from_link(token: str) -> AppState:
    """A new session state holding the link's view; raises RagvizError (a message) for a bad link."""
    payload = read_link(token)
    key = payload_sample(payload)
    ckpt, missing = None, ""
    if key is not None:
        from ragviz.lessons.samples import load_sample  # the samples' lessons are heavy: load them only when named

        try:
            ckpt = load_sample(key)
        except RagvizError as err:
            if "g" not in payload:
                raise ViewLinkError(f"The link opens the sample '{key}', which this server cannot open: "
                                    f"{err}") from None
            missing = f"The link's sample '{key}' is not on this server, so its trained model is not either. "
    view = build_view(payload, ckpt.project.graph if ckpt is not None else None)
    if ckpt is not None:
        state = AppState(project=ckpt.project, edits=EditHistory(ckpt.project.graph))
        adopt_checkpoint(state, ckpt, f"sample: {ckpt.project.name}", sample_key=key)
        if view.graph is not None and view.graph != ckpt.project.graph:  # a retrained sample's graph may be its own
            set_graph(state, view.graph)  # undo goes back to the sample's own graph
            notify(state, "info", f"Opened from a link: the sample '{ckpt.project.name}' with its trained model, "
                                  "and the task graph as it was edited (the model was trained on the sample's "
                                  "own graph, as before).")
        state.project.name = view.name
    else:
        graph = view.graph if view.graph is not None else TaskGraph()
        project = Project(graph, view.model_config or ModelConfig(), view.train_config or TrainConfig(),
                          name=view.name)
        state = AppState(project=project, edits=EditHistory(graph))
        set_project(state, project)
        if view.graph is not None:
            state.link.retrain = True
            notify(state, "warning", missing + RETRAIN_TEXT.replace("**", ""))
    if state.project.graph.domain == "csv":
        notify(state, "warning", "A link cannot carry data tables: upload this graph's CSV tables again on the "
                                 "Task graph page (or open a checkpoint, which keeps them).")
    if view.graph_omitted:
        notify(state, "warning", "The task graph was too big to keep in the link, so it is not here (the link kept "
                                 + ("the sample as shipped" if ckpt is not None else "its settings") + "): open it "
                                 "from a saved checkpoint (Checkpoints page) or a graph file (Task graph page).")
    _restore_lesson(state, view)
    _restore_widgets(state, view)
    return state


def _restore_lesson(state: AppState, view: View) -> None:
    """A lesson closed in the tab stays closed; a contrast trained there is named (a link cannot carry it)."""
    if state.sample_key is None:
        return
    if view.lesson_closed:
        close_lesson(state)
    elif view.contrast is not None:
        notify(state, "info", f"Opened from a link: the sample's own model and its lesson are back. The contrast "
                              f"trained in that tab ({view.contrast}) cannot travel in a link: one click on “Train "
                              "the contrast” trains it again on the same data and seed, with the same result.")


def _restore_widgets(state: AppState, view: View) -> None:
    if view.whatif is not None and state.model is not None:
        state.whatif = {"base": graph_key(state.project.graph), "model": id(state.model),
                        "graph": view.whatif, "edits": view.whatif_edits}
    elif view.whatif_edits:
        notify(state, "warning", "The link's what-if edits need a trained model, so they are not shown: "
                                 + "; ".join(view.whatif_edits) + ". Make them again once a model is trained.")
    if view.layer is not None:
        set_widget_value(LAYER_KEY, view.layer)
        state.link.layer = view.layer
    if view.focus is not None:
        state.focus = view.focus
    if view.projector is not None:
        set_widget_value(PROJECTOR_KEY, view.projector)
    if view.screen in SCREENS:  # an unknown size (an old or edited link) keeps the default
        set_widget_value(SCREEN_KEY, view.screen)


# ------------------------------------------------------------------------------ writing the link
def _small_fields(state: AppState) -> dict[str, Any]:
    """What changes often and costs nothing to read; the graph objects are compared by identity."""
    layer = widget_value(LAYER_KEY)
    if isinstance(layer, int):
        state.link.layer = layer
    projector = widget_value(PROJECTOR_KEY)
    graph = state.project.graph
    return {"name": state.project.name, "sample": state.sample_key, "lesson": open_lesson(state),
            "contrast": state.baseline.name if state.baseline is not None else None,
            "model": state.project.model_config.to_dict(),
            "train": state.project.train_config.to_dict(), "layer": state.link.layer,
            "focus": state.focus,
            "projector": projector if isinstance(projector, bool) else None,
            "screen": widget_value(SCREEN_KEY) if projector is True else None,
            "size": [graph.number_of_tasks(), graph.number_of_edges()], "trained": id(state.model)}


def current_link(state: AppState) -> EncodedView:
    """The session's view as link text, re-encoded only when something in it changed."""
    small = json.dumps(_small_fields(state), sort_keys=True, default=str)
    objects = (state.project.graph, state.trained.graph if state.trained else None, state.whatif)
    cached = state.link.cache
    if cached is not None and cached[1] == small and all(a is b for a, b in zip(cached[0], objects, strict=True)):
        return cached[2]
    fields = json.loads(small)
    pending = current_whatif(state)
    lesson = fields["lesson"]
    # A lesson kept open through a retrain ("Train the contrast") names its sample: a reload brings back the
    # sample's model and the lesson (the model trained in the tab cannot travel in a link).
    sample = state.sample_key or lesson
    unedited_sample = state.sample_key is not None and state.trained is not None and not state.edited_since_training
    view = View(name=state.project.name, sample=sample,
                graph=None if unedited_sample else state.project.graph,
                model_config=None if sample else state.project.model_config,
                train_config=None if sample else state.project.train_config,
                lesson_closed=sample is not None and lesson is None,
                contrast=fields["contrast"] if lesson is not None and state.sample_key is None else None,
                whatif=pending["graph"] if pending else None,
                whatif_edits=[str(e) for e in pending["edits"]] if pending else [],
                layer=fields["layer"] if isinstance(fields["layer"], int) else None,
                focus=fields["focus"] if isinstance(fields["focus"], str) else None,
                projector=fields["projector"],
                screen=fields["screen"] if isinstance(fields["screen"], str) else None)
    try:
        encoded = encode_view(view, base=state.project.graph)
    except RagvizError:  # a view that cannot be written (it should not happen): keep the last link
        encoded = cached[2] if cached is not None else EncodedView("", False, 0)
    state.link.cache = (objects, small, encoded)
    return encoded


def keep_view_link() -> None:
    """The current view into the URL and "Copy link" into its sidebar slot (again after the page,
    from ``app.py``, when the page changed the view: a click that moved the focus, say)."""
    state = get_state()
    encoded = current_link(state)
    if encoded.token and st.query_params.get(PARAM) != encoded.token:
        st.query_params[PARAM] = encoded.token
    slot = state.link.slot
    if slot is None or state.link.drawn == encoded.token:
        return
    state.link.drawn = encoded.token
    with slot.container():
        _link_controls(state, encoded)


def _link_controls(state: AppState, encoded: EncodedView) -> None:
    if state.trained is not None:
        state.link.retrain = False  # trained since: the link's missing model is history
    elif state.link.retrain:
        st.warning(RETRAIN_TEXT, icon=":material/model_training:")
    if not encoded.fits:
        st.warning(f"This task graph is too big for a link (about {size_text(encoded.full_chars)} of the "
                   f"{size_text(LINK_BUDGET)} a link holds): a reload or a copied link keeps the sample, page and "
                   "settings, not the graph. Save a checkpoint on the **Train** page to keep it.",
                   icon=":material/link_off:")
    with st.popover("Copy link", icon=":material/link:", width="stretch"):
        st.caption("This link opens this view on any ragviz server: the " + ("sample" if state.sample_key else
                   "task graph") + ", settings, page, layer, focus task and what-if edits. A trained model "
                   "cannot travel in a link: a shipped sample's comes from the server; any other is trained "
                   "again. Copy it with the button at the right of the box.")
        st.code(f"{st.context.url or ''}?{PARAM}={encoded.token}", language=None, wrap_lines=True, height=160)
        if state.sample_key is None and state.trained is not None:
            st.caption(f":material/info: The model ({md_escape(state.trained.source)}) is not in the link: save a "
                       "checkpoint on the **Train** page to keep it.")
