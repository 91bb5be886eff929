"""The Task graph page's tabs beyond editing: generate, lay out, import/export, data preview.

Generating or importing replaces the project's graph through :func:`commit` (so undo
brings the old one back); a file that cannot be read changes nothing and says why.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import streamlit as st

from ragviz.graph.generators import GENERATORS, LAYOUTS, generate_graph, layout_positions, ring_of_moons
from ragviz.graph.io import EXTENSIONS, export_graph, import_graph
from ragviz.graph.tasks import FAMILY_DEFAULTS, FAMILY_DOMAIN
from ragviz.inspection.model_fit import ZERO_SHOT_MEANING
from ragviz.plots.data_preview import data_preview_figure
from ragviz.safety.errors import RagvizError
from ragviz.safety.limits import size_text
from ragviz.safety.safe_text import md_escape
from ragviz.ui.figure_cache import cached_figure
from ragviz.ui.graph_edits import commit
from ragviz.ui.projector import for_screen
from ragviz.ui.speech_widgets import speech_preview
from ragviz.ui.state import AppState, graph_key
from ragviz.ui.text_widgets import text_preview, text_table_import
from ragviz.ui.upload_widgets import file_uploader, read_uploaded, real_limit, release_upload, uploader_key

LAYOUT_LABELS = {"spring": "Spring", "circular": "Circular", "kamada_kawai": "Kamada-Kawai", "shell": "Shell",
                 "spectral": "Spectral"}
PATTERNS = {"chain": "chain: each task linked to the next", "ring": "ring: a chain closed into a loop",
            "star": "star: the first task linked to all others", "grid": "grid: rows × columns, linked to neighbours",
            "complete": "complete: every pair linked", "random": "random: each pair linked with probability p"}
MAX_GENERATE = 2000
#: format -> (button label, file extension, mime type); CSV is a zip of nodes.csv and edges.csv.
EXPORTS = {"json": ("JSON", "json", "application/json"), "graphml": ("GraphML", "graphml", "application/xml"),
           "csv": ("CSV (zip)", "zip", "application/zip")}
PREVIEW_DEFAULT = 8
#: The file name pasted JSON is read as; a paste keeps the project's name (a file renames it).
PASTED = "pasted.json"
GRAPH_UPLOAD = "tg_upload"  # the graph file uploader (its widget key adds a round: see upload_widgets)


# --------------------------------------------------------------------------- generate
def _kind_label(kind: str) -> str:
    return PATTERNS.get(kind, kind)


def spread_indices(count: int, n: int) -> list[int]:
    """``count`` task indices spread evenly over ``n`` tasks (which tasks get no training data)."""
    count = max(0, min(int(count), n))
    return sorted({int((k + 0.5) * n / count) for k in range(count)}) if count else []


def _numeric_params(family: str) -> list[str]:
    return [k for k, v in FAMILY_DEFAULTS.get(family, {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)]


def generate_tab(state: AppState, version: str) -> None:
    """Make a whole graph from a recipe; it replaces the current one (undo brings it back)."""
    st.caption("Make a whole graph: n tasks of one family whose parameter varies from start to stop, linked by "
               "the chosen pattern. It replaces the current graph; Undo brings the old one back.")
    if state.trained:
        st.caption("The trained model stays: if the new graph's domain differs, train again before looking inside.")
    family = st.columns(3)[0].selectbox("Family", list(FAMILY_DOMAIN), key="tg_gen_family",
                                        index=list(FAMILY_DOMAIN).index("moons"))
    numeric = _numeric_params(family) or ["(none)"]
    with st.form(f"tg_gen_{family}", border=True):
        a, b, c = st.columns(3)
        kind = a.selectbox("Pattern", list(GENERATORS), index=list(GENERATORS).index("ring"), format_func=_kind_label,
                           key=f"tg_gen_kind_{family}")
        n = int(b.number_input("Tasks", min_value=1, max_value=MAX_GENERATE, value=12, step=1,
                               key=f"tg_gen_n_{family}"))
        seed = int(c.number_input("Seed", min_value=0, value=0, step=1, key=f"tg_gen_seed_{family}"))
        a, b, c = st.columns(3)
        default_vary = "rotate" if "rotate" in numeric else numeric[0]
        vary = a.selectbox("Vary parameter", numeric, index=numeric.index(default_vary), key=f"tg_gen_vary_{family}")
        start = b.number_input("from", value=0.0, key=f"tg_gen_start_{family}")
        stop = c.number_input("to", value=360.0 if vary == "rotate" else 1.0, key=f"tg_gen_stop_{family}")
        a, b, c = st.columns(3)
        relation = a.text_input("Relation", value="near", key=f"tg_gen_rel_{family}")
        directed = b.checkbox("Directed", key=f"tg_gen_dir_{family}")
        p = c.number_input("Edge probability (random)", min_value=0.0, max_value=1.0, value=0.2, step=0.05,
                           key=f"tg_gen_p_{family}")
        a, b, c = st.columns(3)
        train = int(a.number_input("Train size", 0, 100_000, 40, key=f"tg_gen_train_{family}"))
        test = int(b.number_input("Test size", 0, 100_000, 100, key=f"tg_gen_test_{family}"))
        zero = int(c.number_input("Zero-shot tasks", 0, MAX_GENERATE, 2, key=f"tg_gen_zero_{family}",
                                  help="How many tasks get no training data (spread evenly)"))
        submitted = st.form_submit_button("Generate (replaces the graph)", icon=":material/auto_awesome:",
                                          type="primary")
    if submitted:
        recipe = {"base_params": {}, "vary": None if vary == "(none)" else vary, "start": start, "stop": stop,
                  "relation": relation, "directed": directed, "train_size": train, "test_size": test,
                  "zero_shot": spread_indices(zero, n), "seed": seed, "p": p}
        _generate(state, kind, n, family, recipe)
    if st.button("Load the ring of rotated moons", icon=":material/donut_large:", key="tg_gen_ring"):
        _replace(state, ring_of_moons, "Loaded the ring of rotated moons.", "Ring of rotated moons")
    if st.button("Load the grid of speakers (spoken digits)", icon=":material/record_voice_over:", key="tg_gen_speech",
                 help="Fifteen speaker variants (three voices × five vocal-tract sizes), linked to their neighbours; "
                      "one speaker has no training data."):
        from ragviz.lessons.graphs import speaker_grid

        _replace(state, speaker_grid, "Loaded the grid of speakers: gb-high is the unseen speaker ★.",
                 "Grid of speakers")
    if st.button("Load the ring of drawn digits (generation)", icon=":material/draw:", key="tg_gen_drawing",
                 help="Twelve tasks, 'draw digit d rotated by θ' in 30° steps, linked to their neighbours; the 90° "
                      "and 240° tasks have no training data, so they draw from their relations alone."):
        from ragviz.lessons.graphs import rotated_drawings

        _replace(state, rotated_drawings, "Loaded the ring of drawn digits: the 90° and 240° tasks are zero-shot ★.",
                 "Ring of drawn digits")


def _generate(state: AppState, kind: str, n: int, family: str, recipe: dict[str, Any]) -> None:
    accepted = inspect.signature(generate_graph).parameters
    kwargs = {k: v for k, v in recipe.items() if k in accepted}
    _replace(state, lambda: generate_graph(kind, n, family, **kwargs),
             f"Generated a {kind} graph of {n} {family} tasks (Undo brings the old graph back).",
             f"A {kind} of {n} {family} tasks")


def _replace(state: AppState, make: Any, message: str, name: str) -> None:
    try:
        graph = make()
        commit(state, graph, message, select=[], name=name)
    except RagvizError as err:
        st.error(f"Could not make that graph: {md_escape(err)}")


# --------------------------------------------------------------------------- layout
def layout_tab(state: AppState, version: str) -> None:
    """Recompute every task's position with a networkx layout; positions are kept afterwards."""
    graph = state.project.graph
    st.caption("Positions are stored with the graph, so a layout stays until you choose another "
               "(or edit x and y in the task table). Large graphs fall back to faster layouts: Kamada-Kawai above "
               "300 tasks becomes spring, spring and spectral above 1,000 become circular.")
    a, b, c = st.columns([2, 1, 1], vertical_alignment="bottom")
    layout = a.radio("Layout", list(LAYOUTS), format_func=lambda k: LAYOUT_LABELS.get(k, k), horizontal=True,
                     key="tg_layout")
    seed = int(b.number_input("Seed", min_value=0, value=0, step=1, key="tg_layout_seed",
                              help="Spring layouts are random; the seed makes them repeatable"))
    if c.button("Apply layout", icon=":material/scatter_plot:", key=f"tg_layout_apply_{version}",
                disabled=graph.number_of_tasks() == 0):
        try:
            new = graph.copy()
            with st.spinner(f"Laying out {graph.number_of_tasks():,} tasks…"):
                new.set_positions(layout_positions(graph, layout, seed))
            commit(state, new, f"Laid the graph out with the {LAYOUT_LABELS.get(layout, layout).lower()} layout.")
        except RagvizError as err:
            st.error(md_escape(err))


# --------------------------------------------------------------------------- import / export
def io_tab(state: AppState, version: str) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        export_panel(state, version)
    with right:
        import_panel(state, version)
        text_table_import(state)


def export_panel(state: AppState, version: str) -> None:
    graph = state.project.graph
    st.markdown("**Export**")
    st.caption("JSON keeps everything (networkx node-link data plus relations); GraphML opens in Gephi and yEd; "
               "CSV is a zip of nodes.csv (one row per task) and edges.csv (one row per edge).")
    stem = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in state.project.name).strip("_") or "task_graph"
    for fmt, (label, extension, mime) in EXPORTS.items():
        # A callable: the file is written only when the button is pressed, not on every rerun.
        st.download_button(f"Download {label}", data=lambda g=graph, f=fmt: export_graph(g, f),
                           file_name=f"{stem}.{extension}", mime=mime, key=f"tg_export_{fmt}",
                           icon=":material/download:", on_click="ignore")


def import_panel(state: AppState, version: str) -> None:
    limit = real_limit("graph")
    st.markdown("**Import**")
    st.caption(f"A graph file (.json, .graphml, a nodes .csv, or a .zip of nodes.csv and edges.csv; at most "
               f"{size_text(limit)}) replaces the current graph; Undo brings the old one back. A file that cannot "
               "be read changes nothing.")
    upload = file_uploader("Graph file", "graph", type=[e.lstrip(".") for e in EXTENSIONS],
                           key=uploader_key(state, GRAPH_UPLOAD))
    if upload is not None and st.button(f"Replace the graph with {md_escape(upload.name)}",
                                        icon=":material/upload_file:", key=f"tg_import_{version}", type="primary"):
        try:
            data = read_uploaded(upload, "graph")
        except RagvizError as err:
            st.error(f"Could not import {md_escape(upload.name)}: {md_escape(err)} Your graph was not changed.")
        else:
            import_bytes(state, data, upload.name)
        release_upload(state, GRAPH_UPLOAD, upload)  # read: Streamlit need not hold it any longer
    with st.expander("…or paste a graph as JSON"):
        text = st.text_area("Graph JSON", key=f"tg_paste_{version}", height=140,
                            placeholder='{"relations": [...], "graph": {"nodes": [...], "edges": [...]}}')
        if st.button("Import pasted JSON", key=f"tg_paste_go_{version}", disabled=not text.strip()):
            import_bytes(state, text.encode("utf-8"), PASTED)


def import_bytes(state: AppState, data: bytes, filename: str) -> None:
    """Read a graph file; on any problem say so and keep the user's graph as it was."""
    try:
        graph = import_graph(data, filename)
    except RagvizError as err:
        st.error(f"Could not import {md_escape(filename)}: {md_escape(err)} Your graph was not changed.")
        return
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as err:  # a reader slipped: still refuse cleanly
        st.error(f"Could not import {md_escape(filename)}: {md_escape(err)}. Your graph was not changed.")
        return
    try:
        commit(state, graph, f"Imported {filename}: {graph.number_of_tasks()} tasks, {graph.number_of_edges()} "
                             "edges (Undo brings the old graph back).", select=[],
               name=Path(filename).stem if filename != PASTED else None)
    except RagvizError as err:
        st.error(f"Could not import {md_escape(filename)}: {md_escape(err)} Your graph was not changed.")


# --------------------------------------------------------------------------- preview
def preview_tab(state: AppState, version: str) -> None:
    """Small plots of the chosen tasks' data (selected tasks first)."""
    graph = state.project.graph
    if graph.number_of_tasks() == 0:
        st.caption("No tasks to preview yet.")
        return
    names = graph.task_names()
    default = list(dict.fromkeys([*state.selection, *names[:PREVIEW_DEFAULT]]))[:PREVIEW_DEFAULT]
    chosen = st.multiselect("Tasks to preview", names, default=default, max_selections=12,
                            key=f"tg_preview_{version}")
    if graph.domain == "text":
        text_preview(state, chosen)
        return
    if graph.domain == "speech":
        speech_preview(state, chosen)
        return
    st.caption(f"Training points (test points for zero-shot tasks), coloured by class. {ZERO_SHOT_MEANING}.")
    tables = state.project.tables
    fig = cached_figure("data_preview", (tables,), (graph_key(graph), tuple(chosen)),
                        lambda: data_preview_figure(graph, chosen, tables))
    st.plotly_chart(for_screen(fig),
                    key=f"tg_preview_fig_{version}", config={"displayModeBar": False})
