"""The Task graph page's forms for one or two tasks: a task's card and edit form, connecting two
tasks or changing their relation, and adding a task."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ragviz.data.registry import param_choices
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import FAMILY_DEFAULTS, FAMILY_DOMAIN, make_task
from ragviz.plots.graph import drawing_positions, node_positions
from ragviz.safety.safe_text import md_escape
from ragviz.ui.graph_edits import try_edit
from ragviz.ui.state import AppState, set_widget_value

ADD_OPEN_KEY = "tg_add_open"


def relation_label(graph: TaskGraph, name: str) -> str:
    """A relation's name with its direction, for pickers."""
    rel = graph.relations.get(name)
    return f"{name} (directed →)" if rel is not None and rel.directed else f"{name} (undirected)"


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


def _param_inputs(params: dict[str, Any], prefix: str, family: str = "") -> dict[str, Any]:
    """One input per parameter, typed by its current value: numbers first, then flags, then text
    (a list to choose from when the family names the values, :func:`ragviz.data.registry.param_choices`).

    Laid out two per row, each row its own columns, so inputs of different heights stay aligned.
    """
    def rank(item: tuple[str, Any]) -> int:
        value = item[1]
        return 1 if isinstance(value, bool) else 0 if isinstance(value, (int, float)) else 2

    items = sorted(params.items(), key=rank)
    choices = param_choices(family)
    values: dict[str, Any] = {}
    for start in range(0, len(items), 2):
        for col, (key, value) in zip(st.columns(2), items[start:start + 2], strict=False):
            options = choices.get(key)
            if options and value in options:
                values[key] = col.selectbox(md_escape(key), options, index=options.index(value),
                                            key=f"{prefix}_{key}")
            else:
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
        values = _param_inputs(full, prefix, task.family)
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
        relation = st.selectbox("Relation", names, format_func=lambda r: relation_label(graph, r),
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
                               format_func=lambda r: relation_label(graph, r))
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
        values = _param_inputs(dict(FAMILY_DEFAULTS.get(family, {})), prefix, family)
        train, test, seed = _sizes(prefix, 40, 100, graph.number_of_tasks())
        link = None
        if state.selection and graph.relations:
            options = ["(no edge)", *graph.relations]
            link = st.selectbox(f"Link it to '{md_escape(state.selection[0])}' with", options, key=f"{prefix}_link")
        # Runs before the rerun the press causes: the panel is still open for the next task.
        submitted = st.form_submit_button("Add task", icon=":material/add:", type="primary",
                                          on_click=set_widget_value, args=(ADD_OPEN_KEY, True))
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
