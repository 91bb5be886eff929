"""Every edit of the task graph goes through here: made on a copy, validated, undoable.

A refused edit shows its message where the user acted and changes nothing. Widget keys carry
a graph version, so after any edit (or undo) widgets whose defaults come from the graph start
fresh instead of keeping stale values.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import PROJECT_NAME_MAX, check_name
from ragviz.plots.graph import drawing_positions, with_positions
from ragviz.safety.errors import RagvizError
from ragviz.safety.safe_text import md_escape
from ragviz.ui.lesson_state import close_lesson
from ragviz.ui.state import AppState, graph_key, notify, set_graph


def graph_version(state: AppState) -> str:
    """Changes whenever the graph does (here or on another page): part of widget keys."""
    return f"{graph_key(state.project.graph)[:10]}_{state.edit_counter}"


def bump_version(state: AppState) -> None:
    """A new graph version: widgets keyed by it start fresh."""
    state.edit_counter += 1


def commit(state: AppState, graph: TaskGraph, message: str, select: list[str] | None = None,
           name: str | None = None) -> None:
    """Record a validated edit for undo, say what happened, and redraw the page.

    ``name`` renames the project when the edit makes a new graph (generated, imported, new),
    so the project is not still called after the graph it replaced, and closes the open lesson,
    whose claim was about the graph that went.
    Raises RagvizError (and changes nothing) when the new graph is invalid.
    """
    graph = with_positions(graph)
    graph.validate(need_tasks=False)
    if name is not None:
        state.project.name = project_name(name)
        close_lesson(state)
    set_graph(state, graph)
    if select is not None:
        state.selection = [s for s in select if s in state.project.graph.nx]
    bump_version(state)
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
