"""Plain test helpers (not fixtures): import them as ``from tests.helpers import ...``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task

ROOT = Path(__file__).resolve().parents[1]


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


def missing_tool(what: str) -> None:
    """Skip a test whose tool (Chromium, nginx) is absent on a developer's machine; fail in CI,
    where ``.ci/run`` installs every tool, so a skip there would hide a broken install."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI installs it: see .ci/run)")
    pytest.skip(what)


def training_children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` and that train (``python -m ragviz.training.train_process``, /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
        if ppid == parent and b"ragviz.training.train_process" in cmdline:
            found.append(int(stat.parent.name))
    return found
