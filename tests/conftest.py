"""Shared fixtures: small graphs and one trained model reused across the suite."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

torch.set_num_threads(1)  # small models train fastest single-threaded, and runs stay reproducible

from ragviz.config import ModelConfig, TrainConfig  # noqa: E402
from ragviz.graph import Relation, Task, TaskGraph  # noqa: E402
from ragviz.project import Project  # noqa: E402
from ragviz.train import TrainResult, train  # noqa: E402


def small_ring(n: int = 6, zero_shot: tuple[int, ...] = (2,), train_size: int = 30) -> TaskGraph:
    """A ring of rotated moons, built by hand so the fixture depends on the core alone."""
    graph = TaskGraph([Relation("near", False, "#1f77b4")])
    for k in range(n):
        graph.add_task(Task(f"moons {360 * k // n}°", "moons", {"rotate": 360.0 * k / n, "noise": 0.1},
                            0 if k in zero_shot else train_size, 50, k, (float(k), float(k % 2))))
    names = graph.task_names()
    for k in range(n):
        graph.add_edge(names[k], names[(k + 1) % n], "near")
    return graph


@pytest.fixture
def ring_graph() -> TaskGraph:
    return small_ring()


@pytest.fixture(scope="session")
def trained_ring() -> tuple[Project, TrainResult]:
    """A quickly trained project shared by tests that only read it."""
    project = Project(small_ring(), ModelConfig(layers=2), TrainConfig(steps=60, eval_every=20), name="Test ring")
    result = train(project.graph, project.model_config, project.train_config)
    return project, result
