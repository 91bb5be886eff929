"""A project: task graph + relations + domain + model and training configs + user tables.

This is what a checkpoint stores beside the weights, and what the app keeps per session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import PROJECT_NAME_MAX, check_name
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.errors import RagvizError


@dataclass
class Project:
    """Everything needed to rebuild a model and its data, except the weights."""

    graph: TaskGraph
    model_config: ModelConfig = field(default_factory=ModelConfig)
    train_config: TrainConfig = field(default_factory=TrainConfig)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    name: str = "untitled"
    lesson: str = ""

    def __post_init__(self) -> None:
        self.name = check_name(self.name or "untitled", "project", PROJECT_NAME_MAX)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the tables (they travel as tensors)."""
        return {
            "name": self.name,
            "lesson": self.lesson,
            "domain": self.graph.domain,
            "task_graph": self.graph.to_dict(),
            "model_config": self.model_config.to_dict(),
            "train_config": self.train_config.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, tables: dict[str, pd.DataFrame] | None = None) -> Project:
        if not isinstance(data, dict):
            raise RagvizError("The project must be an object.")
        for key in ("task_graph", "model_config", "train_config"):
            if key not in data:
                raise RagvizError(f"The project has no '{key}'.")
        graph = TaskGraph.from_dict(data["task_graph"])
        if data.get("domain") is not None and graph.domain is not None and data["domain"] != graph.domain:
            raise RagvizError(f"The project says domain {data['domain']!r} but its tasks are {graph.domain}.")
        name, lesson = data.get("name", "untitled"), data.get("lesson", "")
        if not isinstance(name, str) or not isinstance(lesson, str):
            raise RagvizError("The project's name and lesson must be text.")
        return cls(
            graph=graph,
            model_config=ModelConfig.from_stored(data["model_config"]),
            train_config=TrainConfig.from_dict(data["train_config"]),
            tables=dict(tables or {}),
            name=name,
            lesson=lesson,
        )

    def copy(self) -> Project:
        return Project(self.graph.copy(), ModelConfig(**self.model_config.to_dict()),
                       TrainConfig(**self.train_config.to_dict()),
                       {k: v.copy() for k, v in self.tables.items()}, self.name, self.lesson)
