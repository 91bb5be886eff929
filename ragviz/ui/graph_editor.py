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

from ragviz.errors import RagvizError
from ragviz.graph import (
    FAMILY_DEFAULTS,
    FAMILY_DOMAIN,
    PROJECT_NAME_MAX,
    RELATION_PALETTE,
    TaskGraph,
    check_name,
    make_task,
)
from ragviz.plots.colors import color_options, default_color_by, relation_colors
from ragviz.plots.graph import drawing_note, drawing_positions, graph_figure, node_positions, with_positions
from ragviz.safe_text import md_escape
from ragviz.selection import event_tasks, selected_tasks
from ragviz.ui.state import AppState, graph_key, notify, redo, set_graph, undo

COUNTER_KEY = "tg_edit_counter"
CHART_SEEN_KEY = "tg_chart_seen"
DRAWN_KEY = "tg_drawn_selection"
COLOR_CHOICE_KEY = "tg_color_choice"
ADD_OPEN_KEY = "tg_add_open"
HOW_TO = ("Click a task to select it; shift-click a second to connect them. Hover for details; drag to pan, "
          "zoom with the + and − buttons above the graph, double-click empty space to reset the view.")


# --------------------------------------------------------------------------- edits
def graph_version(state: AppState) -> str:
    """Changes whenever the graph does (here or on another page): part of widget keys."""
    return f"{graph_key(state.project.graph)[:10]}_{st.session_state.get(COUNTER_KEY, 0)}"


def _bump() -> None:
    st.session_state[COUNTER_KEY] = st.session_state.get(COUNTER_KEY, 0) + 1


def commit(state: AppState, graph: TaskGraph, message: str, select: list[str] | None = None,
           name: str | None = None) -> None:
    """Record a validated edit for undo, say what happened, and redraw the page.

    ``name`` renames the project when the edit makes a new graph (generated, imported, new),
    so the project is not still called after the graph it replaced.
    Raises RagvizError (and changes nothing) when the new graph is invalid.
    """
    graph = with_positions(graph)
    graph.validate(need_tasks=False)
    if name is not None:
        state.project.name = project_name(name)
    set_graph(state, graph)
    if select is not None:
        state.selection = [s for s in select if s in state.project.graph.nx]
    _bump()
    notify(state, "success", message)
    st.rerun()


def project_name(text: str) -> str:
    """A valid project name from ``text`` (a file name, say): shortened if long, "untitled" if unusable."""
    try:
        return check_name(" ".join(str(text).split())[:PROJECT_NAME_MAX], "project", PROJECT_NAME_MAX)
    except RagvizError:
        return "untitled"


def try_edit(state: AppState, edit: Any, message: str, select: list[str] | None = None) -> None:
    """Apply ``edit(copy)`` to a copy of the graph and commit it, or show why it was refused.

    The copy starts from the positions as drawn, so a chain drawn as a snake stays one.
    """
    graph = state.project.graph.copy()
    graph.set_positions(drawing_positions(graph))
    try:
        edit(graph)
        commit(state, graph, message, select)
    except RagvizError as err:
        st.error(md_escape(err))


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
    c_new, c_undo, c_redo, c_info, c_color = st.columns([1, 1, 1, 3, 2], vertical_alignment="bottom")
    if c_new.button("New graph", icon=":material/note_add:", key="tg_new", width="stretch",
                    help="Start again from an empty graph (Undo brings this one back)"):
        commit(state, TaskGraph(), "Started a new, empty graph (Undo brings the old one back).", select=[],
               name="New graph")
    if c_undo.button(f"Undo ({edits.undo_steps})", icon=":material/undo:", disabled=not edits.can_undo,
                     key="tg_undo", width="stretch", help="Go back one edit"):
        undo(state)
        _bump()
        notify(state, "info", "Undid the last edit.")
        st.rerun()
    if c_redo.button(f"Redo ({edits.redo_steps})", icon=":material/redo:", disabled=not edits.can_redo,
                     key="tg_redo", width="stretch", help="Repeat the edit you undid"):
        redo(state)
        _bump()
        notify(state, "info", "Redid the edit.")
        st.rerun()
    zero = sum(1 for t in graph.tasks() if t.zero_shot)
    c_info.markdown(
        f"**{graph.number_of_tasks()}** tasks ({zero} zero-shot ★) · **{graph.number_of_edges()}** edges · "
        f"**{len(graph.relations)}** relations · domain **{md_escape(graph.domain or '—')}**"
    )
    options = color_options(graph)
    wanted = st.session_state.get(COLOR_CHOICE_KEY) or default_color_by(graph)
    index = options.index(wanted) if wanted in options else options.index(default_color_by(graph))
    choice = c_color.selectbox("Colour tasks by", options, index=index, key=f"tg_color_{'|'.join(options)}")
    st.session_state[COLOR_CHOICE_KEY] = choice
    return choice


def model_note(state: AppState) -> None:
    """What editing means when the project already has a trained model."""
    if not state.trained:
        return
    if state.edited_since_training:
        st.info(
            "This project has a trained model and the graph has changed since training. The other pages show "
            "the trained model on the edited graph (inference only, nothing is retrained); tasks added since "
            "training are zero-shot. Train again on the Train page to learn from the changes.",
            icon=":material/info:",
        )
    else:
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
    drawn = [n for n in st.session_state.get(DRAWN_KEY, []) if n in graph.nx]
    key = _chart_key(state, color_by, drawn)
    shown = _follow_clicks(state, key, st.session_state.get(key), drawn)
    if set(shown) != set(state.selection):
        drawn = list(state.selection)
        key = _chart_key(state, color_by, drawn)
    st.session_state[DRAWN_KEY] = drawn
    fig = graph_figure(graph, color_by=color_by, selected=drawn)
    st.plotly_chart(fig, key=key, on_select="rerun", selection_mode=("points",),
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
    seen = st.session_state.get(CHART_SEEN_KEY)
    if seen is None or seen[0] != key:
        seen = (key, [])
    tasks = event_tasks(event) if event is not None else []
    clicked = tasks != seen[1]
    if clicked:
        state.selection = [n for n in selected_tasks(event, state.selection) if n in state.project.graph.nx]
        seen = (key, tasks)
    st.session_state[CHART_SEEN_KEY] = seen
    if not clicked and not seen[1]:
        return drawn  # no click on this drawing yet: it shows what was drawn into it
    return event_tasks(event, edges=False)


# --------------------------------------------------------------------------- panel
def _relation_label(graph: TaskGraph, name: str) -> str:
    rel = graph.relations.get(name)
    return f"{name} (directed →)" if rel is not None and rel.directed else f"{name} (undirected)"


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


def _edge_summary(graph: TaskGraph, name: str) -> str:
    counts: dict[str, int] = {}
    for *_, key in list(graph.nx.in_edges(name, keys=True)) + list(graph.nx.out_edges(name, keys=True)):
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "no edges"
    return ", ".join(f"{k} ×{n}" for k, n in counts.items())


def task_card(state: AppState, name: str, version: str) -> None:
    """One selected task: what it is, an edit form, and delete."""
    graph = state.project.graph
    task = graph.task(name)
    kind = "zero-shot ★ (no training data)" if task.zero_shot else f"train {task.train_size}"
    st.markdown(f"**{md_escape(name)}** · {task.family} · {kind} · test {task.test_size}")
    st.caption(f"Edges: {md_escape(_edge_summary(graph, name))}")
    with st.expander("Edit task", icon=":material/edit:", expanded=True):
        edit_task_form(state, name, version)
    degree = graph.nx.degree(name)
    with_edges = False
    if degree:
        with_edges = st.checkbox(f"Also delete its {degree} edge(s)", key=f"tg_del_edges_{version}_{name}")
    if st.button("Delete task", icon=":material/delete:", key=f"tg_delete_{version}_{name}"):
        try_edit(state, lambda g: g.remove_task(name, with_edges=with_edges), f"Deleted task '{name}'.")


def _param_inputs(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    """One input per parameter, typed by its current value: numbers first, then flags, then text.

    Laid out two per row, each row its own columns, so inputs of different heights stay aligned.
    """
    def rank(item: tuple[str, Any]) -> int:
        value = item[1]
        return 1 if isinstance(value, bool) else 0 if isinstance(value, (int, float)) else 2

    items = sorted(params.items(), key=rank)
    values: dict[str, Any] = {}
    for start in range(0, len(items), 2):
        for col, (key, value) in zip(st.columns(2), items[start:start + 2], strict=False):
            values[key] = _param_input(col, key, value, f"{prefix}_{key}")
    return values


def _param_input(col: Any, key: str, value: Any, widget_key: str) -> Any:
    if isinstance(value, bool):
        return col.checkbox(md_escape(key), value=value, key=widget_key)
    if isinstance(value, int):
        return int(col.number_input(md_escape(key), value=value, step=1, key=widget_key))
    if isinstance(value, float):
        return float(col.number_input(md_escape(key), value=value, step=0.05 if abs(value) < 5 else 5.0,
                                      format="%g", key=widget_key))
    return col.text_input(md_escape(key), value=str(value), key=widget_key)


def _changed_params(old: dict[str, Any], full: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The task's own params with the changed values written over: defaults are not copied in."""
    params = dict(old)
    for key, value in new.items():
        if value != full.get(key):
            params[key] = value
    return params


def _sizes(prefix: str, train: int, test: int, seed: int) -> tuple[int, int, int]:
    a, b, c = st.columns(3)
    return (int(a.number_input("Train", 0, 100_000, train, key=f"{prefix}_train",
                               help="Training points; 0 makes a zero-shot task, whose predictor comes from its "
                                    "relations alone")),
            int(b.number_input("Test", 0, 100_000, test, key=f"{prefix}_test", help="Test points")),
            int(c.number_input("Seed", 0, 2**31 - 1, seed, key=f"{prefix}_seed")))


def edit_task_form(state: AppState, name: str, version: str) -> None:
    graph = state.project.graph
    task = graph.task(name)
    prefix = f"tg_edit_{version}_{name}"
    families = [f for f, d in FAMILY_DOMAIN.items() if d == task.domain]
    with st.form(prefix, border=False):
        new_name = st.text_input("Name", value=name, key=f"{prefix}_name")
        family = st.selectbox("Family", families, index=families.index(task.family), key=f"{prefix}_family")
        full = task.full_params()
        values = _param_inputs(full, prefix)
        train, test, seed = _sizes(prefix, task.train_size, task.test_size, task.seed)
        submitted = st.form_submit_button("Save changes", icon=":material/save:")
    if submitted:
        params = _changed_params(task.params, full, values)

        def edit(g: TaskGraph) -> None:
            target = new_name.strip()
            g.rename_task(name, target)
            g.update_task(target, family=family, params=params, train_size=train, test_size=test, seed=seed)

        try_edit(state, edit, f"Saved task '{new_name.strip()}'.", select=[new_name.strip()])


def connect_panel(state: AppState, pair: list[str], version: str) -> None:
    """Two selected tasks: connect them, or remove an edge between them."""
    graph = state.project.graph
    source, target = pair
    st.markdown(f"**① {md_escape(source)}** → **② {md_escape(target)}**")
    if st.button("Swap direction", icon=":material/swap_horiz:", key=f"tg_swap_{version}"):
        state.selection = [target, source]
        st.rerun()
    _existing_edges(state, source, target, version)
    if not graph.relations:
        st.info("Declare a relation first (Relations, below), then connect the tasks with it.")
        return
    names = list(graph.relations)
    with st.form(f"tg_connect_{version}", border=True):
        relation = st.selectbox("Relation", names, format_func=lambda r: _relation_label(graph, r),
                                key=f"tg_connect_rel_{version}")
        weight = st.number_input("Weight", min_value=0.0, value=1.0, step=0.1, key=f"tg_connect_w_{version}",
                                 help="Scales the messages sent along this edge; must be above 0.")
        submitted = st.form_submit_button("Connect", icon=":material/add_link:", type="primary")
    if submitted:
        try_edit(state, lambda g: g.add_edge(source, target, relation, weight),
                 f"Connected '{source}' → '{target}' with '{relation}'.", select=[source, target])


def _existing_edges(state: AppState, a: str, b: str, version: str) -> None:
    graph = state.project.graph
    found = [e for e in graph.edges() if {e.source, e.target} == {a, b}]
    for i, edge in enumerate(found):
        arrow = "→" if graph.relations.get(edge.relation) and graph.relations[edge.relation].directed else "—"
        st.caption(f"Linked: {md_escape(edge.source)} {arrow} {md_escape(edge.target)} · "
                   f"{md_escape(edge.relation)} · weight {edge.weight:g}")
        others = [r for r in graph.relations if r != edge.relation]
        if others:  # only when there is another relation to change to
            new = st.selectbox("Change its relation to", others, key=f"tg_rel_to_{version}_{i}",
                               format_func=lambda r: _relation_label(graph, r))
        change, remove = st.columns(2)
        if others and change.button("Change", key=f"tg_rechange_{version}_{i}", icon=":material/sync_alt:",
                                    width="stretch"):
            try_edit(state, lambda g, e=edge, r=new: change_relation(g, e, r),
                     f"Changed the edge {edge.source} {arrow} {edge.target} from '{edge.relation}' to '{new}'.",
                     select=[a, b])
        if remove.button("Remove", key=f"tg_unlink_{version}_{i}", icon=":material/link_off:", width="stretch",
                         help="Remove this edge"):
            try_edit(state, lambda g, e=edge: g.remove_edge(e.source, e.target, e.relation),
                     f"Removed the '{edge.relation}' edge {edge.source} {arrow} {edge.target}.", select=[a, b])


def change_relation(graph: TaskGraph, edge: Any, relation: str) -> None:
    """Give an edge another relation, keeping its ends and weight (refused if that edge exists)."""
    graph.remove_edge(edge.source, edge.target, edge.relation)
    graph.add_edge(edge.source, edge.target, relation, edge.weight)


def _free_task_name(graph: TaskGraph, stem: str) -> str:
    k = graph.number_of_tasks() + 1
    while f"{stem} {k}" in graph.nx:
        k += 1
    return f"{stem} {k}"


def _keep_open(key: str) -> None:
    st.session_state[key] = True


def add_task_form(state: AppState, version: str) -> None:
    """A new task: family first (its parameters depend on it), then the form."""
    graph = state.project.graph
    domain = graph.domain
    families = [f for f, d in FAMILY_DOMAIN.items() if domain is None or d == domain]
    family = st.selectbox("Family", families, key=f"tg_add_family_{domain}",
                          help="One graph uses one domain, so only families of this graph's domain are offered.")
    prefix = f"tg_add_{version}_{family}"
    with st.form(prefix, border=False):
        name = st.text_input("Name", value=_free_task_name(graph, family), key=f"{prefix}_name")
        values = _param_inputs(dict(FAMILY_DEFAULTS.get(family, {})), prefix)
        train, test, seed = _sizes(prefix, 40, 100, graph.number_of_tasks())
        link = None
        if state.selection and graph.relations:
            options = ["(no edge)", *graph.relations]
            link = st.selectbox(f"Link it to '{md_escape(state.selection[0])}' with", options, key=f"{prefix}_link")
        # Runs before the rerun the press causes: the panel is still open for the next task.
        submitted = st.form_submit_button("Add task", icon=":material/add:", type="primary",
                                          on_click=_keep_open, args=(ADD_OPEN_KEY,))
    if submitted:
        params = {k: v for k, v in values.items() if v != FAMILY_DEFAULTS.get(family, {}).get(k)}
        anchor = state.selection[0] if state.selection else None
        _add_task(state, name, family, params, (train, test, seed), anchor, link)


def _add_task(state: AppState, name: str, family: str, params: dict[str, Any], sizes: tuple[int, int, int],
              anchor: str | None, link: str | None) -> None:
    graph = state.project.graph

    def edit(g: TaskGraph) -> None:
        g.set_positions(drawing_positions(g))  # place the new task beside the tasks as they are drawn
        task = g.add_task(make_task(name, family, params, *sizes))
        if anchor is not None and link not in (None, "(no edge)"):
            g.add_edge(anchor, task.name, link)
        placed = node_positions(g)  # next to the linked task, or beside the drawing
        g.set_positions({task.name: placed[task.name]})

    clean = name.strip()
    try_edit(state, edit, f"Added task '{clean}'" + ("." if graph.number_of_tasks() else " — add more, then "
                                                     "connect them."), select=[clean])


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
