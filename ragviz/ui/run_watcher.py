"""The app shell's one watcher of a session's runs: it takes a finished run in and redraws the tab once.

Before, four fragments (sidebar, Train's live panel, the lesson's contrast, the ensemble's
progress) each adopted a finished run and asked for a redraw, and a fifth path asked again;
when that redraw was lost, nothing asked for it any more and the result never showed. Now:

* every whole run of the app takes in whatever ended since the last one and marks it *shown*
  (:func:`watch_runs`, before the sidebar and the page draw), so the page below draws the result
  at once and the watcher is no longer drawn: an idle tab does not tick;
* while a run is queued, training or ended, the sidebar holds one fragment that ticks every
  second and shows where the run is; a tick that finds it ended takes it in and asks for a whole
  run, and asks again on every later tick until a whole run has started (a lost request is
  made up for: the fragment stays registered until a whole run completes).

A whole run that is interrupted is always followed by another: by the rerun request that
interrupted it, or by the rerun a reconnecting tab sends; that one draws the result.

Pages keep their own progress fragments (the live curves), which only draw.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ragviz.training.lifecycle import Phase, RunRecord
from ragviz.training.runner import RunStatus
from ragviz.ui.runs import take_in_ended
from ragviz.ui.state import AppState
from ragviz.ui.timeline import record as record_event


def watch_runs(state: AppState) -> None:
    """The shell, on every whole run, before anything draws: take in what ended since the last one;
    this run draws it, so every taken-in run is shown."""
    take_in_ended(state)
    state.runs.redrawn()


def in_fragment_rerun() -> bool:
    """Whether this code runs as a fragment's own rerun (True) or inline in a whole run of the app.

    Reads the script context's ``fragment_ids_this_run`` (set only for fragment reruns); a test in
    ``tests/app/test_run_watcher.py`` fails if an upgrade changes it.
    """
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def run_watcher(state: AppState) -> None:
    """Draw the watcher while any run of the session is not yet shown (call inside the sidebar)."""
    if state.runs.awaiting_redraw():
        _watcher(state)


@st.fragment(run_every=1.0)
def _watcher(state: AppState) -> None:
    runs = state.runs
    if in_fragment_rerun():  # a tick (inline in a whole run, that run itself is the redraw)
        take_in_ended(state)
        redraw = any(r.phase == Phase.TAKEN_IN for r in runs.records())
        record_event("watcher tick", runs=[str(r.phase) for r in runs.records()], asks_redraw=redraw)
        if redraw:
            st.rerun()  # a result to show: asked on every tick until a whole run has started
    for record in runs.records():
        if not record.taken_in:
            _status_line(record)


def _status_line(record: RunRecord) -> None:
    snap = record.run.snapshot()
    what = "5 models (How sure is the model?)" if record.kind == "ensemble" else \
        ("baseline" if snap.phase == "baseline" else "model")
    if snap.status == RunStatus.RUNNING:
        st.progress(snap.fraction, text=f"Training {what}: step {snap.step}/{snap.total}")
    elif snap.status == RunStatus.QUEUED:
        ahead = "next to start" if snap.queue_place == 1 else f"{snap.queue_place - 1} run(s) ahead"
        st.caption(f"Queued: number {snap.queue_place} in line ({ahead}); training starts when the server has "
                   "a free slot. This run is your session's one run.")
    else:
        st.caption(f"Run {snap.status}: showing its result…")
