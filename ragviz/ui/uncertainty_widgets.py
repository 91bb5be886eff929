"""Task outputs' "How sure is the model?" section: train 5 models in the background, show where they disagree.

The ensemble is the session's run while it trains (``state.runs.ensemble``, one run per session),
recorded with the project graph, configs and model it was made for; when any of them changes it
is dropped and the button comes back. The app shell's watcher takes it in and redraws the page
when it ends; this section only draws. While a what-if is shown, the ensemble runs on the edited
graph too (no retraining), so a new zero-shot task gets its verdict at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.trace import Trace
from ragviz.plots.uncertainty import needs_grid, trust_table, uncertainty_figure
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.training.ensemble import DEFAULT_K, Ensemble
from ragviz.training.guess import CLASS_RULE, REGRESSION_RULE, rule_sentence
from ragviz.training.lifecycle import RunRecord
from ragviz.ui.projector import for_screen, table_slot
from ragviz.ui.runs import begin_ensemble, drop_ensemble
from ragviz.ui.state import AppState, graph_key

BUTTON = f"Check how sure the model is: train {DEFAULT_K} models"
EXPLAIN = (f"Train {DEFAULT_K} copies of this model from different random starts, on the same data with the same "
           "settings. Where they agree, the prediction does not hinge on luck; where they disagree, it does — on a "
           "zero-shot task that means the prediction is a guess.")


def ensemble_key(state: AppState) -> str:
    project = state.project
    return graph_key(project.graph, [id(state.model), project.model_config.to_dict(), project.train_config.to_dict()])


def current_entry(state: AppState) -> RunRecord | None:
    """The session's ensemble run, if it was started for the current graph, configs and model."""
    entry = state.runs.ensemble
    if entry is not None and entry.key == ensemble_key(state):
        return entry
    drop_ensemble(state)
    return None


def start_ensemble(state: AppState) -> bool:
    """Queue the ensemble as the session's run; False after saying why it could not start."""
    try:
        begin_ensemble(state, ensemble_key(state), DEFAULT_K)
    except RagvizError as err:
        st.error(md_escape(err), icon=":material/error:")
        return False
    return True


@st.fragment(run_every=0.5)
def ensemble_progress(entry: RunRecord) -> None:
    """Progress and Stop while the models train (the shell's watcher redraws the page when they are done)."""
    snap = entry.run.snapshot()
    if snap.done:
        st.caption(f"The {DEFAULT_K} models {snap.status}: showing the result…")
        return
    bar_col, stop_col = st.columns([6, 1], vertical_alignment="bottom")
    if snap.queue_place:
        bar_col.info(f"The server is busy ({snap.runs_going} training run(s) going): the {DEFAULT_K} models are "
                     f"number {snap.queue_place} in the queue and start by themselves.", icon=":material/schedule:")
    else:
        bar_col.progress(snap.fraction, text=f"Training {DEFAULT_K} models at once: step {snap.step:,} of "
                                             f"{snap.total:,} · {snap.elapsed:.0f} s")
    stop_col.button("Stop", on_click=entry.run.stop, key="to_ens_stop", icon=":material/stop:", width="stretch")


def ensemble_view(entry: RunRecord, ensemble: Ensemble, graph: TaskGraph, tables: Any) -> dict[str, Any]:
    """Disagreement, verdicts and test outputs of the ensemble on ``graph``, computed once per graph."""
    key = graph_key(graph)
    if key not in entry.views:
        on = None if graph == ensemble.graph else graph
        test = ensemble.predict_tasks(on, "test", tables) if on is not None else ensemble.predict_tasks()
        reasons = ensemble.guess_reasons(on, tables)
        entry.views = {key: {
            "scores": ensemble.disagreement(on, tables),
            "classes": None if ensemble.regression else ensemble.class_disagreement(on, tables),
            "reasons": reasons,
            "guesses": {name: bool(why) for name, why in reasons.items()},
            "test": test, "grid": {}, "graph": on,
        }}
    return entry.views[key]


def grid_outputs(ensemble: Ensemble, view: dict[str, Any], trace: Trace, tasks: list[str],
                 tables: Any) -> dict[str, np.ndarray]:
    missing = [t for t in tasks if t not in view["grid"]]
    if missing:
        view["grid"].update(ensemble.predict_grid(trace.grid, missing, view["graph"], tables))
    return {t: view["grid"][t] for t in tasks}


def finished_ensemble(state: AppState) -> tuple[RunRecord, Ensemble] | None:
    entry = current_entry(state)
    if entry is None or not entry.run.snapshot().done or entry.run.ensemble is None \
            or entry.run.ensemble.status != "finished":
        return None
    return entry, entry.run.ensemble


def guess_banner(state: AppState, trace: Trace, graph: TaskGraph) -> None:
    """At the top of the page, once the models are trained: one warning per zero-shot task that is a guess."""
    found = finished_ensemble(state)
    if found is None:
        return
    try:
        view = ensemble_view(found[0], found[1], graph, state.project.tables)
    except RagvizError:
        return  # the section below says why
    flagged = [name for name in trace.task_names if view["guesses"].get(name, False)]
    for name in flagged[:6]:
        rule = REGRESSION_RULE if found[1].regression else CLASS_RULE
        st.warning(guess_message(name, view["reasons"].get(name, ""), rule.max_hops), icon=":material/warning:")
    if len(flagged) > 6:
        st.warning(f"⚠ …and {len(flagged) - 6} more zero-shot task(s) whose predictions are guesses: see "
                   "*How sure is the model?* below.", icon=":material/warning:")


def guess_message(name: str, reason: str, max_hops: float) -> str:
    """The warning for one flagged zero-shot task, saying why (``reason``: see
    :func:`ragviz.training.guess.guess_reasons`)."""
    task = f"**{md_escape(name)}**"
    why = {
        "far": f"{task} is more than {max_hops:g} relation(s) from any task with data, off the end of the data "
               f"rather than between tasks with data: that far, the {DEFAULT_K} models tend to agree on the same "
               "wrong extrapolation, so their agreement proves nothing",
        "spread": f"The {DEFAULT_K} models disagree on {task}",
        "no seen tasks": f"No task has data to show how well the {DEFAULT_K} models agree, so {task}",
        "no points": f"{task} has no test points to compare the {DEFAULT_K} models on",
    }.get(reason, f"The {DEFAULT_K} models disagree on {task}")
    return (f"⚠ {why}: this prediction is a guess. Do not trust it; give the task data, or link it to tasks "
            "that have some. (See *How sure is the model?* below.)")


def results_panel(state: AppState, entry: RunRecord, trace: Trace, tasks: list[str],
                  graph: TaskGraph) -> None:
    ensemble = entry.run.ensemble
    tables = state.project.tables
    try:
        view = ensemble_view(entry, ensemble, graph, tables)
        zero = [n for n in trace.task_names if trace.zero_shot[trace.index(n)]]
        flagged = [n for n in zero if view["guesses"].get(n, False)]
        if flagged:
            st.markdown(f"**{len(flagged)} zero-shot task(s) flagged as a guess** (warnings at the top of the page).")
        if zero and not any(view["guesses"].get(n, False) for n in zero):
            st.success(f"No zero-shot task is a guess: on each, the {DEFAULT_K} models mostly agree. They agree "
                       "less than on tasks with data: darker on the map means more disagreement.",
                       icon=":material/check_circle:")
        outputs = grid_outputs(ensemble, view, trace, tasks, tables) if needs_grid(trace) else view["test"]
    except RagvizError as err:
        st.error(f"The {DEFAULT_K} models cannot run on this graph: {md_escape(err)}", icon=":material/error:")
        return
    scores = view["scores"] if ensemble.regression else view["classes"]
    fig = uncertainty_figure(trace, outputs, tasks, scores, view["guesses"])
    st.plotly_chart(for_screen(fig), key="to_uncertainty", config={"displaylogo": False, "scrollZoom": False})
    table = trust_table(view["scores"], zero, view["guesses"], view["classes"])
    numbers = {c: st.column_config.NumberColumn(format="%.3f") for c in table.columns
               if c not in ("task", "zero-shot", "verdict")}
    with table_slot("to_trust"):
        st.dataframe(table, hide_index=True, width="stretch", column_config=numbers, key="to_trust")
    rule = rule_sentence(REGRESSION_RULE if ensemble.regression else CLASS_RULE, ensemble.regression, DEFAULT_K)
    maps = ("" if ensemble.regression or not needs_grid(trace) else
            " The maps cover the whole plane: far from the test points (crosses), where the scores are measured, "
            "the models often disagree even on tasks with data.")
    st.caption(f"Disagreement: how far the {DEFAULT_K} models' outputs spread (std across models, averaged over "
               f"the task's test points). {rule} The thresholds were calibrated on tuning runs "
               f"(benchmarks/GENERALISATION.md).{maps} Agreement is not proof: all five can be wrong together, "
               "for example when the relations are wrong.")


def uncertainty_section(state: AppState, trace: Trace, tasks: list[str], graph: TaskGraph) -> None:
    """The whole section: the button, the progress, or the maps and verdicts."""
    st.subheader("How sure is the model?")
    if trace.spec.kind == "regression" and trace.spec.n_outputs > 1:
        st.caption("Training several models to see where they disagree is not offered for drawing tasks yet: "
                   "their outputs are whole images, and the disagreement maps are drawn for one number or one "
                   "class per point.")
        return
    entry = current_entry(state)
    if entry is None:
        st.caption(EXPLAIN)
        if st.button(BUTTON, key="to_ens_start", icon=":material/stacks:", type="primary") \
                and start_ensemble(state):
            st.rerun()
        return
    snap = entry.run.snapshot()
    if not snap.done:
        ensemble_progress(entry)
        return
    if snap.status != "finished" or entry.run.ensemble is None:
        st.warning(f"The {DEFAULT_K} models were not trained to the end: {md_escape(snap.message)}",
                   icon=":material/warning:")
        if st.button(BUTTON, key="to_ens_again", icon=":material/stacks:") and start_ensemble(state):
            st.rerun()
        return
    results_panel(state, entry, trace, tasks, graph)
