"""Domains and data families (docs/DESIGN.md §1).

Every generated family is a pure function of the task's family, parameters, sizes and
seed, so a checkpoint need not store generated data: the same task always gives the same
arrays. Only ``csv`` tasks depend on something outside the task, the user's table, which
travels inside the checkpoint instead (reading that table: :mod:`ragviz.data.table_io`).

Generated arrays are cached (read-only, so no caller can corrupt the cache) because the
app regenerates the same graph's data on every rerun.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ragviz.data.cache import ByteLRU
from ragviz.data.digits import digit_images, rotate_images
from ragviz.data.table_io import TableInfo, table_info
from ragviz.data.task_data import TaskData, csv_params, split_sizes, task_sizes
from ragviz.data.text import text_n_classes, text_task_data
from ragviz.data.text_features import FEATURE_DIM
from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import FAMILY_DOMAIN, Task
from ragviz.safety import checks
from ragviz.safety.errors import DataError

TOY_FAMILIES = ("moons", "circles", "xor", "blobs", "spiral", "linear")
MIN_CLASSES, MAX_CLASSES = 2, 6
TOY_HALF_WIDTH = 3.5
SINE_RANGE = (-5.0, 5.0)
MAX_NOISE = 100.0
MAX_GRID_RESOLUTION = 1000

_CACHE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class DomainSpec:
    """The input/output space every task of a graph shares, so one encoder serves them all."""

    name: str
    input_dim: int
    n_outputs: int
    kind: str  # "classification" | "regression"
    x_range: tuple[float, float]


# --------------------------------------------------------------------------- parameters
def _number(params: dict[str, Any], key: str, task: Task) -> float:
    return checks.real(params.get(key), f"Task '{task.name}': parameter '{key}'", DataError)


def _whole(params: dict[str, Any], key: str, task: Task, low: int, high: int) -> int:
    return checks.whole(params.get(key), f"Task '{task.name}': parameter '{key}'", DataError, low, high)


def _noise(params: dict[str, Any], task: Task) -> float:
    noise = _number(params, "noise", task)
    if not 0 <= noise <= MAX_NOISE:
        raise DataError(f"Task '{task.name}': noise must be between 0 and {MAX_NOISE:g}, got {noise:g}.")
    return noise


def _flag(params: dict[str, Any], key: str, task: Task) -> bool:
    return checks.flag(params.get(key, False), f"Task '{task.name}': parameter '{key}'", DataError, empty=False)


def _domain_of(task: Task) -> str:
    if task.family not in FAMILY_DOMAIN:
        raise DataError(
            f"Task '{task.name}': unknown data family {task.family!r}; choose one of {', '.join(FAMILY_DOMAIN)}."
        )
    return FAMILY_DOMAIN[task.family]


# --------------------------------------------------------------------------- toy2d
def _balanced_labels(rng: np.random.Generator, m: int, k: int) -> np.ndarray:
    return rng.permutation(np.arange(m, dtype=np.int64) % k)


def _toy_shape(family: str, y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Noise-free points of one family for labels ``y``, centred to lie within about [-2.5, 2.5]."""
    m = len(y)
    if family == "moons":
        t = rng.uniform(0.0, math.pi, m)
        upper = y == 0
        px = np.where(upper, np.cos(t), 1.0 - np.cos(t))
        py = np.where(upper, np.sin(t), 0.5 - np.sin(t))
        return np.stack([(px - 0.5) * 1.6, (py - 0.25) * 1.6], axis=1)
    if family == "circles":
        t = rng.uniform(0.0, 2 * math.pi, m)
        r = np.where(y == 0, 2.0, 1.0)  # class 0 is the outer ring, as in sklearn
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    if family in ("xor", "linear"):
        # Uniform in the square; a point on the wrong side is reflected through the origin,
        # which maps each class region onto the other, so classes are exactly balanced.
        p = rng.uniform(-2.0, 2.0, (m, 2))
        if family == "xor":
            side = p[:, 0] * p[:, 1] < 0  # class 0: first and third quadrants
            p[:, 1] = np.where(side != (y == 1), -p[:, 1], p[:, 1])
        else:
            normal = np.array([-math.sin(math.pi / 6), math.cos(math.pi / 6)])
            side = p @ normal > 0  # class 1 lies above a line through the origin at 30 degrees
            p = np.where((side != (y == 1))[:, None], -p, p)
        return p
    if family == "blobs":
        angle = 2 * math.pi * y / k + math.pi / 2
        centre = 1.8 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        return centre + 0.3 * rng.standard_normal((m, 2))
    if family == "spiral":
        r = rng.uniform(0.05, 1.0, m)
        angle = 2 * math.pi * y / k + 3.5 * r
        return 2.4 * r[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    raise DataError(f"Unknown toy2d family {family!r}.")  # pragma: no cover - guarded by the callers


def _toy_params(task: Task) -> dict[str, Any]:
    p = task.full_params()
    scale = _number(p, "scale", task)
    if scale <= 0:
        raise DataError(f"Task '{task.name}': scale must be positive, got {scale:g}.")
    k = _whole(p, "n_classes", task, MIN_CLASSES, MAX_CLASSES) if task.family in ("blobs", "spiral") else 2
    return {"noise": _noise(p, task), "rotate": _number(p, "rotate", task), "flip": _flag(p, "flip", task),
            "shift": (_number(p, "shift_x", task), _number(p, "shift_y", task)), "scale": scale, "k": k}


def _toy_split(task: Task, p: dict[str, Any], m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw one split: balanced labels, shape, noise, then flip/rotate/scale/shift."""
    k = p["k"]
    y = _balanced_labels(rng, m, k)
    x = _toy_shape(task.family, y, k, rng) + p["noise"] * rng.standard_normal((m, 2))
    if p["flip"]:
        y = k - 1 - y
    if p["rotate"]:
        theta = math.radians(p["rotate"])
        c, s = math.cos(theta), math.sin(theta)
        x = x @ np.array([[c, -s], [s, c]]).T
    x = x * p["scale"] + np.asarray(p["shift"])
    return x.astype(np.float32), y


def _toy_data(task: Task) -> TaskData:
    p = _toy_params(task)
    train, test, seed = task_sizes(task)
    rng = np.random.default_rng(seed)
    # Train is drawn first, so changing test_size never changes the training data.
    x_tr, y_tr = _toy_split(task, p, train, rng)
    x_te, y_te = _toy_split(task, p, test, rng)
    return TaskData(x_tr, y_tr, x_te, y_te, p["k"])


# --------------------------------------------------------------------------- sine
def _sine_data(task: Task) -> TaskData:
    p = task.full_params()
    amp, freq, phase = (_number(p, key, task) for key in ("amplitude", "frequency", "phase"))
    noise = _noise(p, task)
    train, test, seed = task_sizes(task)
    rng = np.random.default_rng(seed)

    def split(m: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(*SINE_RANGE, m)
        y = amp * np.sin(freq * x + phase) + noise * rng.standard_normal(m)
        return x.astype(np.float32)[:, None], y.astype(np.float32)

    x_tr, y_tr = split(train)
    x_te, y_te = split(test)
    return TaskData(x_tr, y_tr, x_te, y_te, 0)


# --------------------------------------------------------------------------- digits
def _digits_data(task: Task) -> TaskData:
    p = task.full_params()
    rotate = _number(p, "rotate", task)
    train, test, seed = task_sizes(task)
    images, labels = digit_images()
    rng = np.random.default_rng(seed)
    if task.family == "digits_rotated":
        train, test = split_sizes(len(labels), train, test)
        order = rng.permutation(len(labels))
        idx_tr, idx_te = order[:train], order[train:train + test]
        y_tr, y_te = labels[idx_tr], labels[idx_te]
        n_classes = 10
    else:
        if task.family == "digits_one_vs_rest":
            k = _whole(p, "digit", task, 0, 9)
            pos, neg = np.flatnonzero(labels == k), np.flatnonzero(labels != k)
        else:
            a, b = _whole(p, "a", task, 0, 9), _whole(p, "b", task, 0, 9)
            if a == b:
                raise DataError(f"Task '{task.name}': digits a and b must differ, both are {a}.")
            pos, neg = np.flatnonzero(labels == b), np.flatnonzero(labels == a)
        train, test = split_sizes(2 * min(len(pos), len(neg)), train, test)
        # Each split is half positives: an odd train split gets the extra positive and an odd
        # test split the extra negative, so both pools always suffice.
        tr_pos, te_pos = (train + 1) // 2, test // 2
        pos_order, neg_order = rng.permutation(pos), rng.permutation(neg)
        tr_neg, te_neg = train - tr_pos, test - te_pos

        def pick(p_idx: np.ndarray, n_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            idx = np.concatenate([p_idx, n_idx])
            y = np.concatenate([np.ones(len(p_idx), np.int64), np.zeros(len(n_idx), np.int64)])
            order = rng.permutation(len(idx))
            return idx[order], y[order]

        idx_tr, y_tr = pick(pos_order[:tr_pos], neg_order[:tr_neg])
        idx_te, y_te = pick(pos_order[tr_pos:tr_pos + te_pos], neg_order[tr_neg:tr_neg + te_neg])
        n_classes = 2
    x_tr = rotate_images(images[idx_tr], rotate).reshape(-1, 64).astype(np.float32)
    x_te = rotate_images(images[idx_te], rotate).reshape(-1, 64).astype(np.float32)
    return TaskData(x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64), n_classes)


# --------------------------------------------------------------------------- csv
def _csv_data(task: Task, tables: dict[str, pd.DataFrame] | None, info: TableInfo | None = None) -> TaskData:
    """One task's rows of a user table: a seeded permutation, train first, then test.

    Sizes larger than the task's rows are shrunk by :func:`ragviz.data.task_data.split_sizes` (test keeps at
    least half the rows unless train asks for fewer).
    """
    table_name, value = csv_params(task)
    info = info or table_info(table_name, tables, task.name)
    rows = np.flatnonzero(info.tasks == value)
    if len(rows) == 0:
        present = sorted(set(info.tasks.tolist()))
        shown = ", ".join(f"'{t}'" for t in present[:10]) + (" …" if len(present) > 10 else "")
        raise DataError(f"Task '{task.name}': table '{table_name}' has no rows for task '{value}' (tasks: {shown}).")
    train, test, seed = task_sizes(task)
    train, test = split_sizes(len(rows), train, test)
    order = np.random.default_rng(seed).permutation(rows)
    idx_tr, idx_te = order[:train], order[train:train + test]
    n_classes = 0 if info.classes is None else len(info.classes)
    return TaskData(info.x[idx_tr].astype(np.float32), info.y[idx_tr], info.x[idx_te].astype(np.float32),
                    info.y[idx_te], n_classes)


# --------------------------------------------------------------------------- cache
_CACHE = ByteLRU(_CACHE_BYTES)


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


# --------------------------------------------------------------------------- public API
def task_n_classes(task: Task, tables: dict[str, pd.DataFrame] | None = None) -> int:
    """Number of classes a task uses (0 for regression), without generating its data."""
    domain = _domain_of(task)
    if domain == "sine":
        _sine_data_params_check(task)
        return 0
    if domain == "toy2d":
        return _toy_params(task)["k"]
    if domain == "digits":
        p = task.full_params()
        _number(p, "rotate", task)
        if task.family == "digits_rotated":
            return 10
        if task.family == "digits_one_vs_rest":
            _whole(p, "digit", task, 0, 9)
        else:
            a, b = _whole(p, "a", task, 0, 9), _whole(p, "b", task, 0, 9)
            if a == b:
                raise DataError(f"Task '{task.name}': digits a and b must differ, both are {a}.")
        return 2
    if domain == "text":
        return text_n_classes(task, tables)
    info = table_info(csv_params(task)[0], tables, task.name)
    return 0 if info.classes is None else len(info.classes)


def make_task_data(task: Task, tables: dict[str, pd.DataFrame] | None = None) -> TaskData:
    """Generate (or fetch from the cache) one task's train and test split.

    Arrays are read-only: they may be shared with the cache and with other callers.
    """
    domain = _domain_of(task)
    if domain == "csv":
        return _freeze(_csv_data(task, tables))
    if task.family == "text_table":
        return _freeze(text_task_data(task, tables))
    key = _cache_key(task)
    cached = _CACHE.get(key) if key is not None else None
    if cached is None:
        maker = {"toy2d": _toy_data, "sine": _sine_data, "digits": _digits_data, "text": text_task_data}[domain]
        cached = _freeze(maker(task))
        if key is not None:
            arrays = (cached.x_train, cached.y_train, cached.x_test, cached.y_test)
            _CACHE.put(key, cached, sum(a.nbytes for a in arrays))
    # A fresh wrapper, so reassigning a field never reaches the cache.
    return TaskData(cached.x_train, cached.y_train, cached.x_test, cached.y_test, cached.n_classes)


def make_graph_data(graph: TaskGraph, tables: dict[str, pd.DataFrame] | None = None) -> dict[str, TaskData]:
    """Every task's data, keyed by task name in graph order."""
    return dict(graph_data_items(graph, tables))


def graph_data_items(graph: TaskGraph, tables: dict[str, pd.DataFrame] | None = None) -> Iterator[tuple[str, TaskData]]:
    """(task name, data) in graph order, each task's data made when it is asked for.

    A trainer checks its stop flag between items, so a Stop takes effect between tasks without
    this layer ever calling back up into training.
    """
    infos: dict[str, TableInfo] = {}
    for task in graph.tasks():
        if _domain_of(task) == "csv":
            name = csv_params(task)[0]
            if name not in infos:
                infos[name] = table_info(name, tables, task.name)
            yield task.name, _freeze(_csv_data(task, tables, infos[name]))
        else:
            yield task.name, make_task_data(task, tables)


def domain_spec(graph: TaskGraph, tables: dict[str, pd.DataFrame] | None = None) -> DomainSpec:
    """The shared input/output space of a graph's tasks (what the model is built for)."""
    tasks = graph.tasks()
    if not tasks:
        raise DataError("The graph has no tasks: add a task before building a model.")
    domains = {_domain_of(t) for t in tasks}
    if len(domains) > 1:
        raise DataError(f"The graph mixes domains ({', '.join(sorted(domains))}); one graph uses one domain.")
    domain = domains.pop()
    if domain == "toy2d":
        half = TOY_HALF_WIDTH
        n_out = 2
        for t in tasks:
            p = _toy_params(t)
            n_out = max(n_out, p["k"])
            # Data fill about +-3 * scale (rotation of the +-2.5 square, plus noise) around the shift.
            reach = 3.0 * p["scale"] + max(abs(p["shift"][0]), abs(p["shift"][1]))
            half = max(half, math.ceil(reach * 2) / 2)
        return DomainSpec("toy2d", 2, n_out, "classification", (-half, half))
    if domain == "sine":
        for t in tasks:
            task_n_classes(t)
        return DomainSpec("sine", 1, 1, "regression", SINE_RANGE)
    if domain == "digits":
        for t in tasks:
            task_n_classes(t)
        return DomainSpec("digits", 64, 10, "classification", (0.0, 1.0))
    if domain == "text":
        n_out = max(2, max(task_n_classes(t, tables) for t in tasks))
        return DomainSpec("text", FEATURE_DIM, n_out, "classification", (-1.0, 1.0))
    infos: dict[str, TableInfo] = {}
    for t in tasks:
        name = csv_params(t)[0]
        if name not in infos:
            infos[name] = table_info(name, tables, t.name)
    dims = {len(i.features) for i in infos.values()}
    if len(dims) > 1:
        raise DataError(f"The graph's tables have different numbers of feature columns ({sorted(dims)}); "
                        "one encoder needs one input size.")
    kinds = {"regression" if i.classes is None else "classification" for i in infos.values()}
    if len(kinds) > 1:
        raise DataError("The graph mixes classification and regression tables; one graph uses one kind.")
    kind = kinds.pop()
    n_out = 1 if kind == "regression" else max(2, max(len(i.classes) for i in infos.values()))
    lo = min(float(i.x.min()) for i in infos.values())
    hi = max(float(i.x.max()) for i in infos.values())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    return DomainSpec("csv", dims.pop(), n_out, kind, (lo, hi))


def _sine_data_params_check(task: Task) -> None:
    p = task.full_params()
    for key in ("amplitude", "frequency", "phase"):
        _number(p, key, task)
    _noise(p, task)


def plot_grid(spec: DomainSpec, resolution: int = 60) -> np.ndarray:
    """Inputs to draw a domain's predictions on: a 2-D mesh (x fastest) or a 1-D line."""
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or not 2 <= resolution <= MAX_GRID_RESOLUTION:
        raise DataError(f"The plotting resolution must be a whole number from 2 to {MAX_GRID_RESOLUTION}, "
                        f"got {resolution!r}.")
    lo, hi = spec.x_range
    axis = np.linspace(lo, hi, int(resolution), dtype=np.float64)
    if spec.name == "toy2d":
        gx, gy = np.meshgrid(axis, axis)  # 'xy' indexing: row-major ravel runs x fastest
        return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    if spec.name == "sine":
        return axis.astype(np.float32)[:, None]
    raise DataError(f"The {spec.name} domain has {spec.input_dim} inputs, so it has no plotting grid.")
