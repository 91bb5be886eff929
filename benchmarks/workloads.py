"""Workloads shared by the benchmarks: the ring sample and generated task graphs of any size."""

from __future__ import annotations

import gc
import math
import time
from typing import Any

import common  # noqa: F401  (puts the repository on sys.path)
import networkx as nx

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.project import Project

SAMPLE_KEY = "zero_shot_ring"


def ring_project() -> tuple[Project, str]:
    """The rotated-moons ring sample (its shipped project), with a note of where it came from.

    Falls back to ``ragviz.graph.generators.ring_of_moons()`` and then to an equivalent ring built
    here, so the benchmark runs while the sample is not yet shipped.
    """
    try:
        from ragviz.lessons.samples import load_sample

        ckpt = load_sample(SAMPLE_KEY)
        return ckpt.project, f"sample_models/{SAMPLE_KEY}.safetensors"
    except Exception:  # noqa: BLE001 - any failure: use the next source
        pass
    try:
        from ragviz.graph.generators import ring_of_moons

        project = Project(ring_of_moons(), ModelConfig(), TrainConfig(), name="ring")
        return project, "ragviz.graph.generators.ring_of_moons()"
    except Exception:  # noqa: BLE001
        pass
    return Project(fallback_ring(), ModelConfig(), TrainConfig(), name="ring"), "benchmarks.workloads.fallback_ring()"


def fallback_ring(n: int = 12, zero_shot: tuple[int, ...] = (3, 8), train_size: int = 40) -> TaskGraph:
    """A ring of moons rotated 360/n degrees apart, neighbours linked by 'near' (as tests/test_model.py)."""
    graph = TaskGraph([Relation("near", False, "#1f77b4")])
    for k in range(n):
        angle = 360.0 * k / n
        graph.add_task(Task(f"moons {angle:g}°", "moons", {"rotate": angle, "noise": 0.1},
                            0 if k in zero_shot else train_size, 100, k,
                            (math.cos(math.radians(angle)), math.sin(math.radians(angle)))))
    names = graph.task_names()
    for k in range(n):
        graph.add_edge(names[k], names[(k + 1) % n], "near")
    return graph


def _offsets(degree: int) -> list[tuple[int, str]]:
    """Ring-lattice offsets: each task links to the next degree/2 tasks; the nearest two are 'near'."""
    half = max(1, degree // 2)
    return [(k, "near" if k <= 2 else "related") for k in range(1, half + 1)]


def scale_graph(n: int, degree: int = 10, train_size: int = 30, test_size: int = 10,
                direct: bool = True) -> TaskGraph:
    """``n`` rotated-moons tasks on a ring lattice of average degree ``degree``.

    ``direct=True`` fills the networkx graph in bulk with the same attributes
    ``TaskGraph.add_task``/``add_edge`` would store; ``False`` goes through the validated
    per-task API (what a user's script would do), for comparison.
    """
    graph = TaskGraph([Relation("near", False, "#1f77b4"), Relation("related", False, "#d62728")])
    names = [f"t{k}" for k in range(n)]
    offsets = _offsets(degree) if n > 1 else []
    if not direct:
        for k, name in enumerate(names):
            graph.add_task(Task(name, "moons", {"rotate": 360.0 * k / n}, train_size, test_size, k,
                                (math.cos(2 * math.pi * k / n), math.sin(2 * math.pi * k / n))))
        for k in range(n):
            for off, rel in offsets:
                if off < n and not graph.nx.has_edge(names[k], names[(k + off) % n], rel) \
                        and not graph.nx.has_edge(names[(k + off) % n], names[k], rel):
                    graph.add_edge(names[k], names[(k + off) % n], rel)
        return graph
    gc_was_on = gc.isenabled()
    gc.disable()  # hundreds of thousands of small objects: the collector would rescan them for nothing
    try:
        return _bulk(graph, n, names, offsets, train_size, test_size)
    finally:
        if gc_was_on:
            gc.enable()


def _bulk(graph: TaskGraph, n: int, names: list[str], offsets: list[tuple[int, str]], train_size: int,
          test_size: int) -> TaskGraph:
    g = nx.MultiDiGraph()
    g.add_nodes_from(
        (name, {"family": "moons", "params": {"rotate": 360.0 * k / n}, "train_size": train_size,
                "test_size": test_size, "seed": k,
                "pos": [math.cos(2 * math.pi * k / n), math.sin(2 * math.pi * k / n)]})
        for k, name in enumerate(names)
    )
    seen: set[tuple[int, int, str]] = set()
    edges = []
    for k in range(n):
        for off, rel in offsets:
            j = (k + off) % n
            key = (min(k, j), max(k, j), rel)
            if off < n and j != k and key not in seen:
                seen.add(key)
                edges.append((names[k], names[j], rel, {"weight": 1.0}))
    g.add_edges_from(edges)
    graph.nx = g
    return graph


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args)`` and its wall time in seconds."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start

