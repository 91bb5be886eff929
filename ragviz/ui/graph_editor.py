"""The Task graph page's editing widgets: toolbar, figure with click selection, action panel.

Every edit is made on a copy and validated, then handed to :func:`set_graph` (so it can
be undone); a refused edit shows its message where the user acted and changes nothing.
Widget keys carry a graph version, so after any edit (or undo) widgets whose defaults
come from the graph start fresh instead of keeping stale values.
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from ragviz.graph.selection import event_tasks, selected_tasks
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import RELATION_PALETTE
from ragviz.plots.colors import color_options, default_color_by, relation_colors
from ragviz.plots.graph import drawing_note, graph_figure
from ragviz.safety.safe_text import md_escape
from ragviz.ui.figure_cache import cached_figure
from ragviz.ui.graph_edits import bump_version, commit, graph_version, project_name, try_edit
from ragviz.ui.lesson_state import marked_tasks
from ragviz.ui.model_banner import session_fit
from ragviz.ui.projector import for_screen
from ragviz.ui.state import AppState, graph_key, notify, redo, undo, widget_value
from ragviz.ui.task_forms import ADD_OPEN_KEY, add_task_form, change_relation, connect_panel, task_card

__all__ = ["action_panel", "change_relation", "commit", "graph_version", "graph_view", "model_note", "notice_toasts",
           "project_name", "toolbar", "try_edit"]

HOW_TO = ("Click a task to select it; shift-click a second to connect them. Hover for details; drag to pan, "
          "zoom with the + and − buttons above the graph, double-click empty space to reset the view.")


# --------------------------------------------------------------------------- notices
TOAST_ICONS = {"success": ":material/check_circle:", "info": ":material/info:", "warning": ":material/warning:",
               "error": ":material/error:"}


def notice_toasts(state: AppState) -> None:
    """Show queued notices as toasts, which float over the page instead of taking a place in it.

    A notice above the chart that is there on one rerun and gone on the next moves the chart
    and makes the browser draw it afresh, forgetting the task a user just clicked (so a
    shift-click then selects one task, not two). Toasts leave the page's layout unchanged;
    warnings and errors stay until closed.
    """
    for kind, text in state.notices:
        lasting = kind in ("warning", "error")
        st.toast(md_escape(text), icon=TOAST_ICONS.get(kind, TOAST_ICONS["info"]),
                 duration="infinite" if lasting else "long")
    state.notices.clear()


# --------------------------------------------------------------------------- toolbar
def toolbar(state: AppState) -> str:
    """Undo/redo with step counts, a one-line summary, and the colour choice (returned)."""
    graph = state.project.graph
    edits = state.edits
    c_new, c_undo, c_redo, c_info, c_color = st.columns([1.25, 1.15, 1.15, 2.2, 1.6], vertical_alignment="bottom")
    if c_new.button("New graph", icon=":material/note_add:", key="tg_new", width="stretch",
                    help="Start again from an empty graph (Undo brings this one back)"):
        commit(state, TaskGraph(), "Started a new, empty graph (Undo brings the old one back).", select=[],
               name="New graph")
    for col, label, steps, able, step, key, tip, said in (
            (c_undo, "Undo", edits.undo_steps, edits.can_undo, undo, "tg_undo", "Go back one edit",
             "Undid the last edit."),
            (c_redo, "Redo", edits.redo_steps, edits.can_redo, redo, "tg_redo", "Repeat the edit you undid",
             "Redid the edit.")):
        if col.button(f"{label} ({steps})", icon=f":material/{label.lower()}:", disabled=not able, key=key,
                      width="stretch", help=tip):
            step(state)
            bump_version(state)
            notify(state, "info", said)
            st.rerun()
    zero = sum(1 for t in graph.tasks() if t.zero_shot)
    c_info.markdown(
        f"**{graph.number_of_tasks()}** tasks ({zero} zero-shot ★) · **{graph.number_of_edges()}** edges · "
        f"**{len(graph.relations)}** relations · domain **{md_escape(graph.domain or '—')}**"
    )
    options = color_options(graph)
    wanted = state.color_choice or default_color_by(graph)
    index = options.index(wanted) if wanted in options else options.index(default_color_by(graph))
    choice = c_color.selectbox("Colour tasks by", options, index=index, key=f"tg_color_{'|'.join(options)}")
    state.color_choice = choice
    return choice


def model_note(state: AppState) -> None:
    """What editing means when the project already has a trained model."""
    if not state.trained:
        return
    if session_fit(state).matches:  # otherwise the banner at the top of the page says what changed
        st.caption("This project has a trained model. Edits keep it: the other pages then show it on the edited "
                   "graph (inference only), and new tasks are zero-shot.")


# --------------------------------------------------------------------------- figure
def _chart_key(state: AppState, color_by: str, drawn: list[str]) -> str:
    """Depends on exactly what the figure shows, so a new drawing is a new chart widget."""
    blob = "|".join([graph_key(state.project.graph), color_by, *drawn])
    return "tg_chart_" + hashlib.sha1(blob.encode()).hexdigest()[:12]


def graph_view(state: AppState, color_by: str) -> None:
    """The figure; a click (or shift-click) on it changes the selection.

    Plotly remembers a click selection only while the figure stays the same, and a
    shift-click extends it; so a click does not redraw the figure (Plotly already shows
    it). Only a selection made elsewhere (the picker, an edit) is drawn into the figure.
    """
    graph = state.project.graph
    if graph.number_of_tasks() == 0:
        st.info("This graph has no tasks yet. Add one with **Add a task** on the right, make a whole graph in "
                "the **Generate** tab, or import a file in **Import / export**.", icon=":material/hub:")
        return
    drawn = [n for n in state.drawn_selection if n in graph.nx]
    key = _chart_key(state, color_by, drawn)
    shown = _follow_clicks(state, key, widget_value(key), drawn)
    if set(shown) != set(state.selection):
        drawn = list(state.selection)
        key = _chart_key(state, color_by, drawn)
    state.drawn_selection = drawn
    marked = marked_tasks(state)
    # The chart's key names the graph's content, the colouring and the selection drawn: a rerun that changes
    # none of them (a click elsewhere, a tab opened) redraws the kept figure instead of building it again.
    fig = cached_figure("task_graph", (), (key, tuple(sorted(marked or ()))),
                        lambda: graph_figure(graph, color_by=color_by, selected=drawn, marked=marked))
    st.plotly_chart(for_screen(fig), key=key, on_select="rerun", selection_mode=("points",),
                    config={"displaylogo": False, "scrollZoom": False,
                            "modeBarButtonsToRemove": ["select2d", "lasso2d"]})
    note = drawing_note(graph)
    if note:  # below the chart: a note that comes and goes above it would move (and reset) the chart
        st.caption(md_escape(note))


def _follow_clicks(state: AppState, key: str, event: Any, drawn: list[str]) -> list[str]:
    """Apply a new chart click (once) to the selection; return the tasks the chart shows selected.

    A chart widget starts with an empty selection (its default, not a click), so for a new
    key the baseline is "nothing clicked"; only a change from what was last seen is a click.
    """
    seen = state.chart_seen
    if seen is None or seen[0] != key:
        seen = (key, [])
    tasks = event_tasks(event) if event is not None else []
    clicked = tasks != seen[1]
    if clicked:
        state.selection = [n for n in selected_tasks(event, state.selection) if n in state.project.graph.nx]
        seen = (key, tasks)
    state.chart_seen = seen
    if not clicked and not seen[1]:
        return drawn  # no click on this drawing yet: it shows what was drawn into it
    return event_tasks(event, edges=False)


# --------------------------------------------------------------------------- panel
def selection_picker(state: AppState, version: str) -> None:
    """The selection as a list of names: shows what is selected and lets one pick by name."""
    graph = state.project.graph
    key = f"tg_pick_{version}_{hashlib.sha1('|'.join(state.selection).encode()).hexdigest()[:8]}"
    picked = st.multiselect("Selected tasks", graph.task_names(), default=state.selection, max_selections=2,
                            key=key, placeholder="Click tasks, or pick them here")
    if picked != state.selection:
        state.selection = list(picked)
        st.rerun()


def action_panel(state: AppState, version: str) -> None:
    """What can be done with the selection, plus adding tasks and relations."""
    selection_picker(state, version)
    graph = state.project.graph
    if len(state.selection) == 1:
        task_card(state, state.selection[0], version)
    elif len(state.selection) == 2:
        connect_panel(state, state.selection, version)
    elif graph.number_of_tasks():
        st.caption("Select one task to edit or delete it; select two to connect them.")
    # Keyed and tracked: an expander a user opened stays open after the edit it was opened for.
    with st.expander("Add a task", icon=":material/add_circle:", expanded=graph.number_of_tasks() == 0,
                     key=ADD_OPEN_KEY, on_change="rerun"):
        add_task_form(state, version)
    with st.expander(f"Relations ({len(graph.relations)})", icon=":material/timeline:",
                     expanded=not graph.relations, key="tg_relations_open", on_change="rerun"):
        relations_panel(state, version)


def relations_panel(state: AppState, version: str) -> None:
    """Declared relations (colour, direction, use) with remove, and a form to add one."""
    graph = state.project.graph
    colors = relation_colors(graph)
    used: dict[str, int] = {}
    for *_, key in graph.nx.edges(keys=True):
        used[key] = used.get(key, 0) + 1
    for name, rel in graph.relations.items():
        swatch, left, right = st.columns([1, 8, 2], vertical_alignment="center")
        kind = "directed →" if rel.directed else "undirected"
        # The colour is shown by a disabled colour picker: no user text ever goes into HTML.
        swatch.color_picker("colour", colors[name], key=f"tg_relcolor_{version}_{name}", disabled=True,
                            label_visibility="collapsed")
        left.markdown(f"**{md_escape(name)}** · {kind} · {used.get(name, 0)} edge(s)")
        if right.button("", icon=":material/delete:", key=f"tg_delrel_{version}_{name}",
                        help=f"Remove '{md_escape(name)}'"):
            try_edit(state, lambda g, n=name: g.remove_relation(n), f"Removed relation '{name}'.")
    prefix = f"tg_addrel_{version}"
    with st.form(prefix, border=False):
        name = st.text_input("New relation", placeholder="e.g. similar, rotated-by-60", key=f"{prefix}_name")
        a, b = st.columns(2, vertical_alignment="bottom")
        directed = a.checkbox("Directed", key=f"{prefix}_dir",
                              help="A directed relation also sends messages backwards, with its own inverse.")
        color = b.color_picker("Colour", RELATION_PALETTE[len(graph.relations) % len(RELATION_PALETTE)],
                               key=f"{prefix}_color")
        submitted = st.form_submit_button("Add relation", icon=":material/add:")
    if submitted:
        try_edit(state, lambda g: g.add_relation(name, directed, color), f"Added relation '{name.strip()}'.")
