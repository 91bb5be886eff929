"""Undo and redo for graph edits: a bounded stack of validated graph states.

Kept pure (no Streamlit) so it is tested directly; the app pushes after every edit that
succeeded, so undo always returns to the last good graph. The stack is bounded twice: by a
number of steps and by an estimate of the memory its graphs hold (``RAGVIZ_MAX_UNDO_MB``),
so one session editing a big graph cannot fill the server's memory with old copies.
"""

from __future__ import annotations

from ragviz.graph.task_graph import TaskGraph
from ragviz.safety.limits import get_limits

UNDO_LIMIT = 50
#: Measured memory of a copied graph, per task and per edge (networkx dicts plus a Task record).
BYTES_PER_ITEM = 700


def graph_memory(graph: TaskGraph) -> int:
    """About how many bytes a copy of ``graph`` holds (what one undo step keeps)."""
    return BYTES_PER_ITEM * (graph.number_of_tasks() + graph.number_of_edges())


class EditHistory:
    """Past and future graph states around the current one."""

    def __init__(self, graph: TaskGraph, limit: int = UNDO_LIMIT, max_bytes: int | None = None) -> None:
        self.limit = max(1, int(limit))
        self.max_bytes = get_limits().undo_bytes if max_bytes is None else int(max_bytes)
        self._past: list[tuple[TaskGraph, int]] = []
        self._future: list[tuple[TaskGraph, int]] = []
        self.current = graph.copy()
        self.dropped = 0  # past states given up to stay within the limits

    def push(self, graph: TaskGraph) -> TaskGraph:
        """Record ``graph`` as the new current state (a no-op when nothing changed)."""
        if graph == self.current:
            return self.current
        self._past.append((self.current, graph_memory(self.current)))
        self._future.clear()
        self.current = graph.copy()
        self._trim()
        return self.current

    def _trim(self) -> None:
        """Forget the oldest states until the step count and the memory fit."""
        while self._past and (len(self._past) > self.limit or self.memory > self.max_bytes):
            self._past.pop(0)
            self.dropped += 1

    @property
    def memory(self) -> int:
        """Estimated bytes held by the past and future states."""
        return sum(size for _, size in self._past) + sum(size for _, size in self._future)

    def undo(self) -> TaskGraph:
        if self._past:
            self._future.append((self.current, graph_memory(self.current)))
            self.current = self._past.pop()[0]
        return self.current.copy()

    def redo(self) -> TaskGraph:
        if self._future:
            self._past.append((self.current, graph_memory(self.current)))
            self.current = self._future.pop()[0]
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
