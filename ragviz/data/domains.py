"""Domains and data families (docs/DESIGN.md §1): a task's data, a graph's data and its shared space.

Each family is a :class:`~ragviz.data.family.DataFamily` listed in :mod:`ragviz.data.registry`;
this module finds a task's family and caches what it makes. Every generated family is a pure
function of the task's family, parameters, sizes and seed, so a checkpoint need not store
generated data: the same task always gives the same arrays. Only tasks on a user's table
(``csv``, ``text_table``) depend on something outside the task, the table, which travels inside
the checkpoint instead.

Generated arrays are cached (read-only, so no caller can corrupt the cache) because the
app regenerates the same graph's data on every rerun.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ragviz.data.cache import ByteLRU
from ragviz.data.family import MAX_NOISE, DataFamily, DomainSpec, Tables
from ragviz.data.registry import BY_DOMAIN, FAMILY_DOMAIN, family_for
from ragviz.data.sine import SINE_RANGE
from ragviz.data.task_data import TaskData
from ragviz.data.toy2d import MAX_CLASSES, MIN_CLASSES, TOY_FAMILIES, TOY_HALF_WIDTH
from ragviz.safety.errors import DataError

if TYPE_CHECKING:
    from ragviz.graph.task_graph import TaskGraph
    from ragviz.graph.tasks import Task

__all__ = ["MAX_CLASSES", "MAX_GRID_RESOLUTION", "MAX_NOISE", "MIN_CLASSES", "SINE_RANGE", "TOY_FAMILIES",
           "TOY_HALF_WIDTH", "DataError", "DomainSpec", "TaskData", "clear_cache", "domain_spec", "make_graph_data",
           "make_task_data", "plot_grid", "task_n_classes"]

MAX_GRID_RESOLUTION = 1000
_CACHE_BYTES = 256 * 2**20
_CACHE = ByteLRU(_CACHE_BYTES)


def _family_of(task: Task) -> DataFamily:
    if task.family not in FAMILY_DOMAIN:
        raise DataError(
            f"Task '{task.name}': unknown data family {task.family!r}; choose one of {', '.join(FAMILY_DOMAIN)}."
        )
    return family_for(FAMILY_DOMAIN[task.family])


def clear_cache() -> None:
    """Forget generated data (tests and memory pressure)."""
    _CACHE.clear()


def _freeze(data: TaskData) -> TaskData:
    for arr in (data.x_train, data.y_train, data.x_test, data.y_test):
        arr.flags.writeable = False
    return data


def _cache_key(task: Task) -> str | None:
    try:
        return json.dumps([task.family, task.full_params(), task.train_size, task.test_size, task.seed],
                          sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None  # unhashable odd params: generation will explain the problem


def task_n_classes(task: Task, tables: Tables = None) -> int:
    """Number of classes a task uses (0 for regression), without generating its data."""
    return _family_of(task).n_classes(task, tables)


def _make(task: Task, tables: Tables, shared: dict[str, Any]) -> TaskData:
    family = _family_of(task)
    if not family.cacheable(task):
        return _freeze(family.make(task, tables, shared))
    key = _cache_key(task)
    cached = _CACHE.get(key) if key is not None else None
    if cached is None:
        cached = _freeze(family.make(task, tables, shared))
        if key is not None:
            arrays = (cached.x_train, cached.y_train, cached.x_test, cached.y_test)
            _CACHE.put(key, cached, sum(a.nbytes for a in arrays))
    # A fresh wrapper, so reassigning a field never reaches the cache.
    return TaskData(cached.x_train, cached.y_train, cached.x_test, cached.y_test, cached.n_classes)


def make_task_data(task: Task, tables: Tables = None) -> TaskData:
    """Generate (or fetch from the cache) one task's train and test split.

    Arrays are read-only: they may be shared with the cache and with other callers.
    """
    return _make(task, tables, {})


def make_graph_data(graph: TaskGraph, tables: Tables = None) -> dict[str, TaskData]:
    """Every task's data, keyed by task name in graph order (a table several tasks read is read once)."""
    return dict(graph_data_items(graph, tables))


def graph_data_items(graph: TaskGraph, tables: Tables = None) -> Iterator[tuple[str, TaskData]]:
    """(task name, data) in graph order, each task's data made when it is asked for.

    A trainer checks its stop flag between items, so a Stop takes effect between tasks without
    this layer ever calling back up into training.
    """
    shared: dict[str, Any] = {}
    for task in graph.tasks():
        yield task.name, _make(task, tables, shared)


def domain_spec(graph: TaskGraph, tables: Tables = None) -> DomainSpec:
    """The shared input/output space of a graph's tasks (what the model is built for)."""
    tasks = graph.tasks()
    if not tasks:
        raise DataError("The graph has no tasks: add a task before building a model.")
    families = {t.family: _family_of(t) for t in tasks}
    domains = {f.domain for f in families.values()}
    if len(domains) > 1:
        raise DataError(f"The graph mixes domains ({', '.join(sorted(domains))}); one graph uses one domain.")
    return family_for(domains.pop()).spec(tasks, tables)


def plot_grid(spec: DomainSpec, resolution: int = 60) -> np.ndarray:
    """Inputs to draw a domain's predictions on: a 2-D mesh (x fastest) or a 1-D line."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or not 2 <= resolution <= MAX_GRID_RESOLUTION:
        raise DataError(f"The plotting resolution must be a whole number from 2 to {MAX_GRID_RESOLUTION}, "
                        f"got {resolution!r}.")
    lo, hi = spec.x_range
    axis = np.linspace(lo, hi, int(resolution), dtype=np.float64)
    grid = family_for(spec.name).grid(axis) if spec.name in BY_DOMAIN else None
    if grid is None:
        raise DataError(f"The {spec.name} domain has {spec.input_dim} inputs, so it has no plotting grid.")
    return grid
