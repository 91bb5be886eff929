"""The Task outputs page's parts: display controls, small multiples, the metrics table, what-ifs.

A what-if is an edited COPY of the project graph kept in session state with the graph
it was made from; the trained model runs on it (no retraining) and every figure and
table on the page shows it until the user keeps it (into the project, undoable) or
resets it. If the project graph or the model changes meanwhile, the what-if is dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ragviz.data.drawing import drawing_rotations
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import FAMILY_DEFAULTS, FAMILY_DOMAIN
from ragviz.inspection.counterfactual import metric_changes, with_edge, with_zero_shot_task, without_edge
from ragviz.inspection.model_fit import ZERO_SHOT_MEANING
from ragviz.inspection.trace import Trace
from ragviz.plots.graph import with_positions
from ragviz.plots.outputs import kind_of, metric_title, metrics_table, outputs_figure, sine_truth
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.training.runner import baseline_setup
from ragviz.ui.figure_cache import cached_figure
from ragviz.ui.lesson_state import marked_tasks
from ragviz.ui.projector import for_screen, table_height, table_slot
from ragviz.ui.speech_widgets import say_it_yourself, speech_class_names, speech_mistakes_section
from ragviz.ui.state import AppState, current_whatif, get_trace, graph_key, notify, set_graph
from ragviz.ui.text_widgets import text_class_names, text_outputs_section
from ragviz.ui.uncertainty_widgets import guess_banner, uncertainty_section

PAGE_SIZE = 24
KINDS = ("Add an edge", "Remove an edge", "Add a zero-shot task")
HOW_TO = (f"Every task's predictions at once, with its test metric ({ZERO_SHOT_MEANING}). "
          "Use **What if…?** to add or remove an edge or add a new zero-shot task "
          "and watch the outputs change without retraining.")
DRAWING_NOTE = ("Each task draws: top row, true test images; below, what its generated head drew for the same "
                "digit and style code. MSE is the pixel error (0 is perfect); *recognised* is the share of its "
                "drawings a frozen classifier reads as the digit asked for (nearest mean image of the ten digits "
                "turned by the task's angle; chance 10%).")


# --------------------------------------------------------------------------- what-if state
def pending_whatif(state: AppState) -> dict[str, Any] | None:
    """The session's what-if, if it was made from the current project graph and model."""
    whatif = current_whatif(state)
    if whatif is None:
        state.whatif = None
    return whatif


def try_whatif(state: AppState, base: TaskGraph, edit: Callable[[TaskGraph], TaskGraph], label: str) -> None:
    """Apply ``edit`` to a copy, check the model can run on it, and show it; or say why not."""
    try:
        edited = edit(base)
        get_trace(state, edited)
    except RagvizError as err:
        st.error(md_escape(err), icon=":material/error:")
        return
    old = pending_whatif(state)
    state.whatif = {"base": graph_key(state.project.graph), "model": id(state.model),
                    "graph": edited, "edits": [*(old["edits"] if old else []), label]}
    st.rerun()


def keep_whatif(state: AppState, whatif: dict[str, Any]) -> None:
    set_graph(state, with_positions(whatif["graph"]))
    state.whatif = None
    notify(state, "success", "Kept in the project graph: " + "; ".join(whatif["edits"]) + ". Undo it on the Task "
           "graph page; train again to learn from it.")
    st.rerun()


# --------------------------------------------------------------------------- traces
def baseline_trace(state: AppState, graph: TaskGraph) -> Trace | None:
    """The baseline on ``graph`` with the edges it was trained with (none, shuffled, or the graph's own)."""
    if state.baseline is None:
        return None
    try:
        _, edges = baseline_setup(state.baseline.name, state.project.model_config, graph,
                                  state.project.train_config.seed)
        return get_trace(state, graph, baseline=True, edges=edges)
    except RagvizError:
        return None


def shown_trace(state: AppState, base: Trace, whatif: dict[str, Any] | None) -> Trace:
    if whatif is None:
        return base
    try:
        trace = get_trace(state, whatif["graph"])
    except RagvizError as err:
        st.error(f"The what-if no longer runs: {md_escape(err)}")
        state.whatif = None
        return base
    return trace if trace is not None else base


# --------------------------------------------------------------------------- controls and figure
def display_controls(trace: Trace) -> dict[str, Any]:
    opts: dict[str, Any] = {"mode": "probability", "target_class": 1, "show_test": True}
    if kind_of(trace) != "boundary":
        return opts
    c_mode, c_class, c_test = st.columns([2, 1.2, 1.2], vertical_alignment="bottom")
    many = trace.spec.n_outputs > 2  # more than two classes: one class's probability hides the others
    choice = c_mode.radio("Heatmap", ("P(class)", "predicted class"), index=1 if many else 0,
                          key="to_mode_many" if many else "to_mode", horizontal=True,
                          help="P(class): the model's probability of one class at each point. Predicted class: "
                               "the most likely class (argmax).")
    opts["mode"] = "argmax" if choice == "predicted class" else "probability"
    if opts["mode"] == "probability" and trace.spec.n_outputs > 2:
        opts["target_class"] = int(c_class.selectbox("Class", range(trace.spec.n_outputs), index=1, key="to_class"))
    opts["show_test"] = c_test.checkbox("Test points", value=True, key="to_test",
                                        help="Filled dots: training points; crosses: test points.")
    return opts


def tasks_pick_key(names: list[str]) -> str:
    """The "Or pick tasks" widget's key: one per list of task names, the same in every server process."""
    return "to_pick_" + hashlib.sha1("\x1f".join(names).encode()).hexdigest()[:10]


def tasks_to_show(trace: Trace) -> list[str]:
    """All tasks, or a page of :data:`PAGE_SIZE` (or the user's pick) when there are more."""
    names = trace.task_names
    if len(names) <= PAGE_SIZE:
        return names
    c_page, c_pick = st.columns([1, 2])
    pages = [names[i:i + PAGE_SIZE] for i in range(0, len(names), PAGE_SIZE)]
    page = c_page.selectbox("Tasks", range(len(pages)), key=f"to_page_{len(names)}",
                            format_func=lambda p: f"{p * PAGE_SIZE + 1}–{p * PAGE_SIZE + len(pages[p])} "
                                                  f"of {len(names)}")
    picked = c_pick.multiselect("Or pick tasks", names, key=tasks_pick_key(names),
                                max_selections=PAGE_SIZE,
                                placeholder="Pick up to 24 tasks to compare")
    return list(picked) if picked else pages[page]


def outputs_panel(trace: Trace, base: Trace, whatif: dict[str, Any] | None, opts: dict[str, Any],
                  tasks: list[str], graph: TaskGraph, marked: set[str] | None = None,
                  class_names: dict[str, list[str]] | None = None) -> None:
    before = dict(zip(base.task_names, base.test_metric.astype(float).tolist(), strict=True)) if whatif else None
    kind = kind_of(trace)
    if kind == "drawing":
        st.caption(DRAWING_NOTE)

    def build() -> go.Figure:
        truth = sine_truth(graph, tasks, trace.grid[:, 0]) if kind == "curve" else None
        rotations = drawing_rotations(graph.tasks()) if kind == "drawing" else None
        return outputs_figure(trace, tasks, opts["mode"], opts["target_class"], before, opts["show_test"],
                              old=base if whatif else None, truth=truth, marked=marked, class_names=class_names,
                              rotations=rotations)

    # Kept per session: a rerun that changes none of these (a click elsewhere, the focus) redraws it as it was.
    names = tuple((k, tuple(v)) for k, v in sorted((class_names or {}).items()))
    values = (graph_key(graph), tuple(tasks), opts["mode"], opts["target_class"], opts["show_test"],
              whatif is not None, tuple(sorted(marked or ())), names)
    fig = cached_figure("task_outputs", (trace, base), values, build)
    st.plotly_chart(for_screen(fig), key="to_outputs", config={"displaylogo": False, "scrollZoom": False})


def metrics_panel(state: AppState, trace: Trace, base: Trace, whatif: dict[str, Any] | None, graph: TaskGraph) -> None:
    baseline = baseline_trace(state, graph)
    name = f"baseline ({state.baseline.name})" if baseline is not None else "baseline"
    table = metrics_table(trace, baseline, name, before=base if whatif else None)
    title = metric_title(trace.metric)
    st.markdown(f"**Test {title} per task** (★ zero-shot{'; lower is better' if trace.metric == 'mse' else ''})",
                help=f"{ZERO_SHOT_MEANING}.")
    numbers = {c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[2:]}
    with table_slot("to_metrics"):
        st.dataframe(table, hide_index=True, width="stretch", column_config=numbers, key="to_metrics",
                     placeholder="")
    if state.baseline is not None and baseline is None:
        st.caption("The baseline cannot run on this graph (it may use a relation it never saw).")


# --------------------------------------------------------------------------- what-if panel
def _seen_first(trace: Trace) -> list[str]:
    return sorted(trace.task_names, key=lambda n: bool(trace.zero_shot[trace.index(n)]))


def add_edge_form(state: AppState, graph: TaskGraph, trace: Trace) -> None:
    names = trace.task_names
    version = graph_key(graph)[:8]
    zero = [n for n in names if trace.zero_shot[trace.index(n)]]
    target_default = names.index(zero[0]) if zero else min(1, len(names) - 1)
    with st.form("to_wi_edge", border=False):
        c_src, c_dst, c_rel, c_w = st.columns([2, 2, 1.4, 1])
        source = c_src.selectbox("From", _seen_first(trace), key=f"to_wi_src_{version}")
        target = c_dst.selectbox("To", names, index=target_default, key=f"to_wi_dst_{version}")
        relation = c_rel.selectbox("Relation", list(graph.relations), key=f"to_wi_rel_{version}")
        weight = c_w.number_input("Weight", 0.01, 100.0, 1.0, key=f"to_wi_weight_{version}")
        if st.form_submit_button("Try this edge", icon=":material/add_link:", type="primary"):
            try_whatif(state, graph, lambda g: with_edge(g, source, target, relation, weight),
                       f"added {source} —{relation}→ {target}")


def remove_edge_form(state: AppState, graph: TaskGraph) -> None:
    edges = graph.edges()
    version = graph_key(graph)[:8]
    if not edges:
        st.caption("This graph has no edges to remove.")
        return
    with st.form("to_wi_remove", border=False):
        pick = st.selectbox("Edge", range(len(edges)), key=f"to_wi_edge_{version}",
                            format_func=lambda i: f"{edges[i].source} —{edges[i].relation}→ {edges[i].target}")
        if st.form_submit_button("Try without it", icon=":material/link_off:", type="primary"):
            e = edges[pick]
            try_whatif(state, graph, lambda g: without_edge(g, e.source, e.target, e.relation),
                       f"removed {e.source} —{e.relation}→ {e.target}")


def _param_input(container: Any, key: str, value: Any, widget_key: str) -> Any:
    if isinstance(value, bool):
        return container.checkbox(md_escape(key), value=value, key=widget_key)
    if isinstance(value, int):
        return int(container.number_input(md_escape(key), value=value, step=1, key=widget_key))
    if isinstance(value, float):
        return float(container.number_input(md_escape(key), value=value, key=widget_key, format="%g"))
    return container.text_input(md_escape(key), value=str(value), key=widget_key)


def _free_name(graph: TaskGraph, stem: str) -> str:
    name, k = stem, 2
    while name in graph.nx:
        name, k = f"{stem} {k}", k + 1
    return name


def add_task_form(state: AppState, graph: TaskGraph, focus: str | None) -> None:
    families = [f for f, d in FAMILY_DOMAIN.items() if d == graph.domain] or list(FAMILY_DOMAIN)
    common = max(families, key=lambda f: sum(t.family == f for t in graph.tasks()))
    c_family, c_name = st.columns(2)
    family = c_family.selectbox("Family", families, index=families.index(common), key="to_wi_family")
    model = next((t for t in graph.tasks() if t.family == family), None)
    params = {**FAMILY_DEFAULTS.get(family, {}), **(model.params if model else {})}
    version = f"{family}_{graph_key(graph)[:8]}"
    with st.form(f"to_wi_task_{version}", border=False):
        name = c_name.text_input("Name", _free_name(graph, f"new {family} task"), key=f"to_wi_name_{version}")
        cells = st.columns(4)
        values = {k: _param_input(cells[i % 4], k, v, f"to_wi_p_{version}_{k}") for i, (k, v) in
                  enumerate(params.items())}
        c_links, c_rel = st.columns([3, 1.2])
        neighbours = c_links.multiselect("Linked from", graph.task_names(), default=[focus] if focus in graph.nx
                                         else [], key=f"to_wi_links_{version}",
                                         help="Its predictor comes only from these relations: no training data.")
        relation = c_rel.selectbox("Relation", list(graph.relations), key=f"to_wi_trel_{version}")
        if st.form_submit_button("Try this task", icon=":material/add_circle:", type="primary"):
            try_whatif(state, graph, lambda g: with_zero_shot_task(g, name, family, values, neighbours, relation,
                                                                   test_size=model.test_size if model else 100),
                       f"added zero-shot task {name}")


def changes_panel(state: AppState, base: Trace, trace: Trace, whatif: dict[str, Any]) -> None:
    """What the what-if changed: the edits, each affected task's metric before and after, keep or reset."""
    st.markdown("**Not saved yet:** " + md_escape("; ".join(whatif["edits"])))
    changes = metric_changes(base, trace, only_affected=True)
    changes = changes.iloc[np.argsort(-np.nan_to_num(np.abs(changes["change"].to_numpy()), nan=np.inf),
                                      kind="stable")]
    title = "MSE" if trace.metric == "mse" else "acc."
    table = changes.assign(task=[f"{t} ★" if z else t for t, z in zip(changes["task"], changes["zero_shot"],
                                                                       strict=True)])[
        ["task", "before", "after", "change"]]
    with table_slot("to_changes"):
        st.dataframe(table, hide_index=True, width="stretch", key="to_changes", placeholder="",
                     height=table_height(len(table), 250),
                     column_config={"before": st.column_config.NumberColumn(f"{title} before", format="%.3f"),
                                    "after": st.column_config.NumberColumn(f"{title} after", format="%.3f"),
                                    "change": st.column_config.NumberColumn("change", format="%+.3f")})
    st.caption(f"{len(table)} task(s) affected (their embedding moved). With {trace.n_layers} layer(s) only "
               f"tasks within {max(trace.n_layers - 1, 0)} hop(s) of an edited edge's ends can change.")
    c_keep, c_reset = st.columns(2)
    if c_keep.button("Keep in project", icon=":material/check:", key="to_wi_keep", width="stretch",
                     help="Make this the project's graph (undoable on the Task graph page)."):
        keep_whatif(state, whatif)
    if c_reset.button("Reset", icon=":material/restart_alt:", key="to_wi_reset", width="stretch",
                      help="Forget the what-if and show the project's graph again."):
        state.whatif = None
        st.rerun()


def whatif_panel(state: AppState, base: Trace, trace: Trace, whatif: dict[str, Any] | None) -> None:
    """Edit forms on the left; what the current what-if changed, with Keep and Reset, on the right."""
    graph = whatif["graph"] if whatif else state.project.graph
    edit_col, changes_col = st.columns([1.5, 1], gap="large")
    with edit_col:
        kind = st.radio("Try", KINDS, key="to_wi_kind", horizontal=True, label_visibility="collapsed")
        if kind == KINDS[0]:
            add_edge_form(state, graph, trace)
        elif kind == KINDS[1]:
            remove_edge_form(state, graph)
        else:
            add_task_form(state, graph, state.focus)
    with changes_col:
        if whatif:
            changes_panel(state, base, trace, whatif)
        else:
            st.caption("The trained model runs on an edited copy of the graph: nothing is retrained, and the "
                       "project's graph is untouched until you keep the edit. Edits stack: try several, then keep "
                       "or reset them together.")


def task_outputs_view(state: AppState, base: Trace) -> None:
    whatif = pending_whatif(state)
    trace = shown_trace(state, base, whatif)
    whatif = pending_whatif(state)
    title = "What if…? " + ("**showing an edit, not saved yet**" if whatif else
                            "edit the graph and see the outputs change, without retraining")
    # Collapsed until used, so the outputs themselves fill the first screen; open while an edit is shown.
    with st.expander(title, expanded=whatif is not None, icon=":material/science:"):
        whatif_panel(state, base, trace, whatif)
    guess_banner(state, trace, whatif["graph"] if whatif else state.project.graph)
    opts = display_controls(trace)
    tasks = tasks_to_show(trace)
    shown_graph = whatif["graph"] if whatif else state.project.graph
    outputs_panel(trace, base, whatif, opts, tasks, shown_graph, marked_tasks(state),
                  text_class_names(state, trace, whatif["graph"] if whatif else None, tasks)
                  or speech_class_names(shown_graph, trace, tasks, short=True))
    table_col, _ = st.columns([3, 1])
    with table_col:
        metrics_panel(state, trace, base, whatif, whatif["graph"] if whatif else state.project.graph)
    uncertainty_section(state, trace, tasks, whatif["graph"] if whatif else state.project.graph)
    speech_mistakes_section(trace, whatif["graph"] if whatif else state.project.graph)
    text_outputs_section(state, trace, whatif["graph"] if whatif else None)
    say_it_yourself(state, trace, whatif["graph"] if whatif else None)
