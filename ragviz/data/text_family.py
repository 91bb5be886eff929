"""The text family's entry in the registry: sentences from a shipped corpus (``text``) or a user's table
(``text_table``), read as the frozen transformer's vectors (the work is :mod:`ragviz.data.text`'s).

Kept apart from :mod:`ragviz.data.text` so reading the registry never imports pandas or the corpus code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ragviz.data.family import DataFamily, DomainSpec, Tables
from ragviz.data.text_features import FEATURE_DIM

if TYPE_CHECKING:
    from ragviz.data.task_data import TaskData
    from ragviz.graph.tasks import Task


class Text(DataFamily):
    """Labelled sentences, read as the frozen transformer's vectors: a shipped corpus or a user's text table."""

    domain = "text"
    # Labelled sentences: a shipped corpus (``text``) or a user text table (``text_table``).
    families = {"text": {"corpus": "reviews", "label": "sentiment", "domain": "movies", "flip": False},
                "text_table": {"table": "data", "task": ""}}

    def cacheable(self, task: Task) -> bool:
        return task.family == "text"  # a user's table travels with the checkpoint, not in the cache

    def n_classes(self, task: Task, tables: Tables = None) -> int:
        from ragviz.data.text import text_n_classes

        return text_n_classes(task, tables)

    def make(self, task: Task, tables: Tables = None, shared: dict[str, Any] | None = None) -> TaskData:
        from ragviz.data.text import text_task_data

        return text_task_data(task, tables)

    def spec(self, tasks: Sequence[Task], tables: Tables = None) -> DomainSpec:
        from ragviz.data.text import text_n_classes

        n_out = max(2, max(text_n_classes(t, tables) for t in tasks))
        return DomainSpec("text", FEATURE_DIM, n_out, "classification", (-1.0, 1.0))
