"""The Train page around a run: how it ended, best step against last, zero-shot getting worse,
the model it replaced one click away, and a replay of the finished run.

The verdicts come from :mod:`ragviz.training.watch` (pure); this module only draws them.
"""

from __future__ import annotations

import streamlit as st

from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.model_fit import ZERO_SHOT_MEANING, model_fit
from ragviz.plots.colors import curve_colors
from ragviz.plots.replay import replay_curves, replay_embedding, snapshot_index
from ragviz.plots.training import comparison_figure
from ragviz.safety.safe_text import md_escape
from ragviz.storage.gallery import MetricSet
from ragviz.training.history import History
from ragviz.training.runner import RunStatus
from ragviz.training.watch import (
    best_and_last,
    best_line,
    format_value,
    history_until,
    worse_groups,
    zero_shot_decline,
)
from ragviz.ui.figure_cache import cached_figure
from ragviz.ui.projector import figure_columns, for_screen
from ragviz.ui.runs import held_run, previous_model, restore_previous, run_from_current_model, run_handled, use_held_run
from ragviz.ui.state import AppState

REPLAY_KEY = "train_replay_step"


# ------------------------------------------------------------------------- watching
def watch_lines(history: History | None) -> None:
    """Best step beside the last for seen and zero-shot tasks; a warning when zero-shot is getting worse."""
    if history is None or len(history.steps) < 2:
        return
    reports = [r for r in (best_and_last(history, False), best_and_last(history, True)) if r is not None]
    if reports:
        st.caption(" · ".join(f"**{best_line(r)}**" if not r.best_is_last else best_line(r) for r in reports))
    decline = zero_shot_decline(history)
    if decline is not None:
        name = "accuracy" if decline.metric == "accuracy" else "MSE"
        st.warning(f"Zero-shot {name} is getting worse while training continues: "
                   f"{format_value(decline.best, decline.metric)} at step {decline.best_step:,}, "
                   f"{format_value(decline.last, decline.metric)} now (step {decline.last_step:,}). Training "
                   "longer fits the seen tasks at the zero-shot tasks' cost: fewer steps, more task dropout or "
                   "a smaller learning rate may do better.", icon=":material/trending_down:")


# -------------------------------------------------------------------------- outcome
def run_outcome(state: AppState) -> bool:
    """How the last run ended (finished, stopped, diverged, failed) and what it did to the session's model.

    True when it reported the session's model's best and last steps (so the model panel need not).
    """
    run = state.run
    if run is None or not run_handled(state):
        return False
    snap = run.snapshot()
    if snap.status == RunStatus.ERROR:
        if run_from_current_model(state):
            st.error(f"The model trained, but then: {md_escape(snap.message)}")
        else:
            st.error(f"The last training run failed: {md_escape(snap.message)} Your previous model is unchanged.")
        return False
    if snap.status == RunStatus.STOPPED and run.result is None:
        st.info(f"{md_escape(snap.message)} Your previous model is unchanged.", icon=":material/stop:")
        return False
    if held_run(state) is run:
        _held_outcome(state, snap.message)
        return False
    if not run_from_current_model(state):
        restore_control(state)  # after a restore: the run's model is one click back
        return False
    if snap.status == RunStatus.FINISHED:
        st.success(f"Training finished. {md_escape(snap.message)}", icon=":material/check_circle:")
    elif snap.status == RunStatus.STOPPED:
        st.info(f"{md_escape(snap.message)} The model trained so far is kept: every page shows it.",
                icon=":material/stop:")
    elif snap.status == RunStatus.DIVERGED:
        st.warning(f"Training diverged. {md_escape(snap.message)}", icon=":material/warning:")
    watch_lines(state.history)
    restore_control(state)
    return True


def _held_outcome(state: AppState, message: str) -> None:
    kept = ("Your previous model is kept: a diverged run never replaces it on its own."
            if state.trained else "It was not taken in: a diverged run is never adopted on its own.")
    text_col, use_col = st.columns([4, 1.3], vertical_alignment="center")
    text_col.warning(f"Training diverged. {md_escape(message)} {kept}", icon=":material/warning:")
    use_col.button("Use its last weights anyway", key="train_use_held", on_click=use_held_run, args=(state,),
                   icon=":material/call_merge:", width="stretch",
                   help="Take the diverged run's last finite weights as the session's model (the current one "
                        "stays one click away).")


def restore_control(state: AppState) -> None:
    """'Restore previous model', loud when the new model is worse than the one it replaced."""
    kept = previous_model(state)
    if kept is None:
        return
    worse: list[str] = []
    if state.history is not None and kept.trained.history is not None and state.trained is not None \
            and model_fit(state.trained.graph, kept.trained.graph).matches:
        worse = worse_groups(kept.trained.history, state.history)
    text_col, button_col = st.columns([4, 1.3], vertical_alignment="center")
    if worse:
        before, after = kept.trained.history.summary(), state.history.summary()
        metric = state.history.metric
        numbers = "; ".join(
            f"{g}: {format_value(after[k], metric)} now, {format_value(before[k], metric)} before"
            for g, k in (("seen", "seen"), ("zero-shot", "zero_shot")) if g in worse)
        text_col.warning(f"This model is worse than the one it replaced on {' and '.join(worse)} tasks "
                         f"({numbers}). The previous model is one click away.", icon=":material/compare_arrows:")
    else:
        text_col.caption(f"The model this one replaced ({md_escape(kept.trained.source)}) is kept for this "
                         "session: restore it if you liked it better.")
    button_col.button("Restore previous model", key="train_restore_previous", on_click=restore_previous,
                      args=(state,), icon=":material/undo:", width="stretch", type="primary" if worse else "secondary",
                      help="Swap back to the model before this run; the run's model is then one click away.")


# --------------------------------------------------------------------------- replay
def replay_panel(history: History, graph: TaskGraph, split: str, key: str = "model") -> None:
    """The run's curves with a slider over its evaluations: drag it back to see the run as it stood then,
    with the task embeddings and each task's metric at that step.

    A finished run's history and graph never change, so each figure is kept per session for its
    (history, graph, step, split): a rerun that changes none of them draws them again without rebuilding.
    """
    colors = cached_figure("replay_colors", (graph,), (), lambda: curve_colors(graph))
    steps = list(history.steps)
    step = steps[-1]
    if len(steps) > 1:
        chosen = st.select_slider("Replay the run: step", options=steps, value=steps[-1], key=REPLAY_KEY,
                                  format_func=lambda s: f"{s:,}",
                                  help="Drag back to see the curves, the task embeddings and every task's "
                                       "metric as they were at that step of training.")
        step = int(chosen) if chosen in steps else steps[-1]
    loss_col, metric_col = figure_columns(2)
    loss = cached_figure(f"{key}_replay_loss", (history, graph), (step, split), lambda: replay_curves(
        history, step, "loss", split, colors, title=f"{split} loss per task"))
    metric = cached_figure(f"{key}_replay_metric", (history, graph), (step, split),
                           lambda: replay_curves(history, step, "metric", split, colors))
    loss_col.plotly_chart(for_screen(loss), key=f"{key}_loss")
    metric_col.plotly_chart(for_screen(metric), key=f"{key}_metric", width="stretch")
    st.caption("One line per task in its own colour; the bold line is the mean over seen tasks; dashed lines are "
               f"zero-shot tasks. {ZERO_SHOT_MEANING}.")
    if step == steps[-1] and len(steps) < 2:
        return
    _step_view(history, graph, step, colors)


def _step_view(history: History, graph: TaskGraph, step: int, colors: dict[str, str]) -> None:
    embed_col, bars_col = figure_columns(2)
    index = snapshot_index(history, step)
    figure = cached_figure("replay_embedding", (history, graph), (index,),
                           lambda: replay_embedding(history, step, colors)) if index is not None else None
    if figure is not None:
        shown = history.snapshot_steps[index]
        embed_col.plotly_chart(for_screen(figure), key="replay_embedding", width="stretch")
        if shown != step:
            embed_col.caption(f"Nearest kept snapshot: step {shown:,} (the run keeps up to 40 snapshots).")
    else:
        embed_col.caption("No embedding snapshots were kept for this run.")
    bars = cached_figure("replay_bars", (history,), (step,), lambda: comparison_figure(
        [MetricSet.from_history(f"step {step:,}", history_until(history, step))],
        title=f"Each task's test metric at step {step:,}"))
    bars_col.plotly_chart(for_screen(bars), key="replay_bars", width="stretch")
