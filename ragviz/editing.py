"""Undo and redo for graph edits: a bounded stack of validated graph states.

Kept pure (no Streamlit) so it is tested directly; the app pushes after every edit that
succeeded, so undo always returns to the last good graph.
"""

from __future__ import annotations

from ragviz.graph import TaskGraph

UNDO_LIMIT = 50


class EditHistory:
    """Past and future graph states around the current one."""

    def __init__(self, graph: TaskGraph, limit: int = UNDO_LIMIT) -> None:
        self.limit = max(1, int(limit))
        self._past: list[TaskGraph] = []
        self._future: list[TaskGraph] = []
        self.current = graph.copy()

    def push(self, graph: TaskGraph) -> TaskGraph:
        """Record ``graph`` as the new current state (a no-op when nothing changed)."""
        if graph == self.current:
            return self.current
        self._past.append(self.current)
        if len(self._past) > self.limit:
            self._past.pop(0)
        self._future.clear()
        self.current = graph.copy()
        return self.current

    def undo(self) -> TaskGraph:
        if self._past:
            self._future.append(self.current)
            self.current = self._past.pop()
        return self.current.copy()

    def redo(self) -> TaskGraph:
        if self._future:
            self._past.append(self.current)
            self.current = self._future.pop()
        return self.current.copy()

    @property
    def can_undo(self) -> bool:
        return bool(self._past)

    @property
    def can_redo(self) -> bool:
        return bool(self._future)

    @property
    def undo_steps(self) -> int:
        return len(self._past)

    @property
    def redo_steps(self) -> int:
        return len(self._future)

    def reset(self, graph: TaskGraph) -> None:
        self._past.clear()
        self._future.clear()
        self.current = graph.copy()
