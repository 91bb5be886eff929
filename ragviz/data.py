"""Domains and data families (DESIGN section 1).

Every generated family is a pure function of the task's family, parameters, sizes and
seed, so a checkpoint need not store generated data: the same task always gives the same
arrays. Only ``csv`` tasks depend on something outside the task, the user's table, which
travels inside the checkpoint instead.

Generated arrays are cached (read-only, so no caller can corrupt the cache) because the
app regenerates the same graph's data on every rerun.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ragviz.errors import DataError
from ragviz.graph import FAMILY_DOMAIN, MAX_SEED, MAX_TASK_SIZE, Task, TaskGraph
from ragviz.limits import max_upload_bytes
from ragviz.uploads import read_upload

TOY_FAMILIES = ("moons", "circles", "xor", "blobs", "spiral", "linear")
MIN_CLASSES, MAX_CLASSES = 2, 6
#: A csv target is a class label when it is whole-numbered with at most this many values.
MAX_CSV_CLASSES = 50
TOY_HALF_WIDTH = 3.5
SINE_RANGE = (-5.0, 5.0)
MAX_NOISE = 100.0
MAX_GRID_RESOLUTION = 1000

_CACHE_BYTES = 256 * 2**20


@dataclass
class TaskData:
    """One task's train and test split."""

    x_train: np.ndarray  # (n, D) float32
    y_train: np.ndarray  # (n,) int64 for classification, float32 for regression
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int  # classes this task uses; 0 for regression


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
    value = params.get(key)
    if isinstance(value, bool):
        raise DataError(f"Task '{task.name}': parameter '{key}' must be a number, got {value!r}.")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError, OverflowError):
        raise DataError(f"Task '{task.name}': parameter '{key}' must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise DataError(f"Task '{task.name}': parameter '{key}' must be a finite number, got {value!r}.")
    return number


def _whole(params: dict[str, Any], key: str, task: Task, low: int, high: int) -> int:
    number = _number(params, key, task)
    if number != int(number) or not low <= number <= high:
        raise DataError(
            f"Task '{task.name}': parameter '{key}' must be a whole number from {low} to {high}, "
            f"got {params.get(key)!r}."
        )
    return int(number)


def _noise(params: dict[str, Any], task: Task) -> float:
    noise = _number(params, "noise", task)
    if not 0 <= noise <= MAX_NOISE:
        raise DataError(f"Task '{task.name}': noise must be between 0 and {MAX_NOISE:g}, got {noise:g}.")
    return noise


def _flag(params: dict[str, Any], key: str, task: Task) -> bool:
    value = params.get(key, False)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0", ""):
        return value.strip().lower() in ("true", "yes", "1")
    raise DataError(f"Task '{task.name}': parameter '{key}' must be true or false, got {value!r}.")


def _sizes(task: Task) -> tuple[int, int, int]:
    """Validated (train_size, test_size, seed): a raw Task may not have gone through make_task."""
    out = []
    for what, value, high in (("train size", task.train_size, MAX_TASK_SIZE),
                              ("test size", task.test_size, MAX_TASK_SIZE), ("seed", task.seed, MAX_SEED)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= high:
            raise DataError(f"Task '{task.name}': {what} must be a whole number from 0 to {high}, got {value!r}.")
        out.append(int(value))
    return out[0], out[1], out[2]


def _domain_of(task: Task) -> str:
    if task.family not in FAMILY_DOMAIN:
        raise DataError(
            f"Task '{task.name}': unknown data family {task.family!r}; choose one of {', '.join(FAMILY_DOMAIN)}."
        )
    return FAMILY_DOMAIN[task.family]


def _split_sizes(n: int, train: int, test: int) -> tuple[int, int]:
    """Fit the requested sizes into a pool of ``n`` items without overlap.

    When both fit they are used as asked. Otherwise the test split keeps what the train
    split leaves, but never less than half the pool (a score on a handful of points means
    little); train gets the rest. Zero-shot tasks (train 0) may use the whole pool for test.
    """
    if train + test <= n:
        return train, test
    test = min(test, max(n - train, n // 2))
    return min(train, n - test), test


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
    train, test, seed = _sizes(task)
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
    train, test, seed = _sizes(task)
    rng = np.random.default_rng(seed)

    def split(m: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.uniform(*SINE_RANGE, m)
        y = amp * np.sin(freq * x + phase) + noise * rng.standard_normal(m)
        return x.astype(np.float32)[:, None], y.astype(np.float32)

    x_tr, y_tr = split(train)
    x_te, y_te = split(test)
    return TaskData(x_tr, y_tr, x_te, y_te, 0)


# --------------------------------------------------------------------------- digits
@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's bundled 8x8 digits as (images in [0, 1], labels); loaded once, read-only.

    Importing sklearn costs about two seconds, so the bundled file is read directly when it
    looks as expected; ``load_digits`` is the fallback.
    """
    table = _bundled_digits_file()
    if table is not None:
        images, target = table[:, :64].reshape(-1, 8, 8), table[:, 64]
    else:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images, target = bunch.images, bunch.target
    images = (images / 16.0).astype(np.float32)
    labels = target.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _bundled_digits_file() -> np.ndarray | None:
    try:
        import importlib.util

        spec = importlib.util.find_spec("sklearn")  # locates the package without importing it
        if spec is None or spec.origin is None:
            return None
        path = os.path.join(os.path.dirname(spec.origin), "datasets", "data", "digits.csv.gz")
        table = pd.read_csv(path, header=None).to_numpy(dtype=np.float64)
    except (OSError, ValueError, ImportError, pd.errors.ParserError):
        return None
    ok = table.shape == (1797, 65) and table.min() >= 0 and table[:, :64].max() <= 16 and table[:, 64].max() <= 9
    return table if ok else None


def _rotate_images(images: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate 8x8 images counter-clockwise about their centre (90 degrees matches np.rot90)."""
    if degrees % 360 == 0 or len(images) == 0:
        return images
    from scipy import ndimage

    out = ndimage.rotate(images, degrees, axes=(1, 2), reshape=False, order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0)


def _digits_data(task: Task) -> TaskData:
    p = task.full_params()
    rotate = _number(p, "rotate", task)
    train, test, seed = _sizes(task)
    images, labels = _digits()
    rng = np.random.default_rng(seed)
    if task.family == "digits_rotated":
        train, test = _split_sizes(len(labels), train, test)
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
        train, test = _split_sizes(2 * min(len(pos), len(neg)), train, test)
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
    x_tr = _rotate_images(images[idx_tr], rotate).reshape(-1, 64).astype(np.float32)
    x_te = _rotate_images(images[idx_te], rotate).reshape(-1, 64).astype(np.float32)
    return TaskData(x_tr, y_tr.astype(np.int64), x_te, y_te.astype(np.int64), n_classes)


# --------------------------------------------------------------------------- text
def _text_data(task: Task) -> TaskData:
    """A shipped-corpus text task (ragviz.text_data): sentence vectors in, labels out."""
    from ragviz.text_data import text_task_data

    return text_task_data(task)


# --------------------------------------------------------------------------- csv
@dataclass
class _TableInfo:
    """What every task of one table shares: features, kind and the class index."""

    features: list[str]
    x: np.ndarray  # float64, all rows
    tasks: np.ndarray  # str per row
    target: np.ndarray  # float64 per row
    classes: np.ndarray | None  # sorted distinct targets for classification, None for regression
    y: np.ndarray  # class index (int64) or target (float32) per row


def _table_info(name: str, tables: dict[str, pd.DataFrame] | None, task: Task) -> _TableInfo:
    if not tables or name not in tables:
        known = ", ".join(f"'{t}'" for t in (tables or {})) or "none uploaded"
        raise DataError(f"Task '{task.name}': there is no table named '{name}' (tables: {known}).")
    table = tables[name]
    if not isinstance(table, pd.DataFrame):
        raise DataError(f"Table '{name}' is not a table (got {type(table).__name__}).")
    for column in ("task", "target"):
        if column not in table.columns:
            raise DataError(f"Table '{name}' has no '{column}' column (columns: {', '.join(map(str, table.columns))}).")
    features = [c for c in table.columns if c not in ("task", "target")
                and (pd.api.types.is_numeric_dtype(table[c]) or pd.api.types.is_bool_dtype(table[c]))]
    if not features:
        raise DataError(f"Table '{name}' has no numeric feature columns.")
    try:
        x = table[features].to_numpy(dtype=np.float64)
        target = pd.to_numeric(table["target"]).to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"Table '{name}' has non-numeric values in its target or feature columns.") from None
    if not (np.isfinite(x).all() and np.isfinite(target).all()):
        raise DataError(f"Table '{name}' has missing or infinite values; load it with load_table to find them.")
    distinct = np.unique(target)
    is_class = bool(np.all(distinct == np.round(distinct))) and len(distinct) <= MAX_CSV_CLASSES
    classes = distinct if is_class else None
    y = np.searchsorted(distinct, target).astype(np.int64) if is_class else target.astype(np.float32)
    return _TableInfo([str(f) for f in features], x, table["task"].astype(str).str.strip().to_numpy(), target,
                      classes, y)


def _csv_params(task: Task) -> tuple[str, str]:
    p = task.full_params()
    table, value = p.get("table"), p.get("task")
    if not isinstance(table, str) or not table.strip():
        raise DataError(f"Task '{task.name}': parameter 'table' must name an uploaded table.")
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(f"Task '{task.name}': parameter 'task' must name a value of the table's task column.")
    return table.strip(), str(value).strip()


def _csv_data(task: Task, tables: dict[str, pd.DataFrame] | None, info: _TableInfo | None = None) -> TaskData:
    """One task's rows of a user table: a seeded permutation, train first, then test.

    Sizes larger than the task's rows are shrunk by :func:`_split_sizes` (test keeps at
    least half the rows unless train asks for fewer).
    """
    table_name, value = _csv_params(task)
    info = info or _table_info(table_name, tables, task)
    rows = np.flatnonzero(info.tasks == value)
    if len(rows) == 0:
        present = sorted(set(info.tasks.tolist()))
        shown = ", ".join(f"'{t}'" for t in present[:10]) + (" …" if len(present) > 10 else "")
        raise DataError(f"Task '{task.name}': table '{table_name}' has no rows for task '{value}' (tasks: {shown}).")
    train, test, seed = _sizes(task)
    train, test = _split_sizes(len(rows), train, test)
    order = np.random.default_rng(seed).permutation(rows)
    idx_tr, idx_te = order[:train], order[train:train + test]
    n_classes = 0 if info.classes is None else len(info.classes)
    return TaskData(info.x[idx_tr].astype(np.float32), info.y[idx_tr], info.x[idx_te].astype(np.float32),
                    info.y[idx_te], n_classes)


# --------------------------------------------------------------------------- cache
class _ByteLRU:
    """A thread-safe LRU bounded by array bytes: tasks vary from 40 points to 200k."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.items: OrderedDict[str, tuple[TaskData, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> TaskData | None:
        with self.lock:
            hit = self.items.get(key)
            if hit is None:
                return None
            self.items.move_to_end(key)
            return hit[0]

    def put(self, key: str, value: TaskData) -> None:
        size = sum(a.nbytes for a in (value.x_train, value.y_train, value.x_test, value.y_test))
        if size > self.budget // 4:
            return
        with self.lock:
            if key in self.items:
                return
            self.items[key] = (value, size)
            self.used += size
            while self.used > self.budget:
                _, (_, old) = self.items.popitem(last=False)
                self.used -= old

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.used = 0


_CACHE = _ByteLRU(_CACHE_BYTES)


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
        from ragviz.text_data import text_n_classes

        return text_n_classes(task, tables)
    info = _table_info(_csv_params(task)[0], tables, task)
    return 0 if info.classes is None else len(info.classes)


def make_task_data(task: Task, tables: dict[str, pd.DataFrame] | None = None) -> TaskData:
    """Generate (or fetch from the cache) one task's train and test split.

    Arrays are read-only: they may be shared with the cache and with other callers.
    """
    domain = _domain_of(task)
    if domain == "csv":
        return _freeze(_csv_data(task, tables))
    if task.family == "text_table":
        from ragviz.text_data import text_task_data

        return _freeze(text_task_data(task, tables))
    key = _cache_key(task)
    cached = _CACHE.get(key) if key is not None else None
    if cached is None:
        maker = {"toy2d": _toy_data, "sine": _sine_data, "digits": _digits_data, "text": _text_data}[domain]
        cached = _freeze(maker(task))
        if key is not None:
            _CACHE.put(key, cached)
    # A fresh wrapper, so reassigning a field never reaches the cache.
    return TaskData(cached.x_train, cached.y_train, cached.x_test, cached.y_test, cached.n_classes)


def make_graph_data(graph: TaskGraph, tables: dict[str, pd.DataFrame] | None = None) -> dict[str, TaskData]:
    """Every task's data, keyed by task name in graph order."""
    infos: dict[str, _TableInfo] = {}
    out: dict[str, TaskData] = {}
    for task in graph.tasks():
        if _domain_of(task) == "csv":
            name = _csv_params(task)[0]
            if name not in infos:
                infos[name] = _table_info(name, tables, task)
            out[task.name] = _freeze(_csv_data(task, tables, infos[name]))
        else:
            out[task.name] = make_task_data(task, tables)
    return out


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
        from ragviz.text_encoder import EMBED_DIM

        n_out = max(2, max(task_n_classes(t, tables) for t in tasks))
        return DomainSpec("text", EMBED_DIM, n_out, "classification", (-1.0, 1.0))
    infos: dict[str, _TableInfo] = {}
    for t in tasks:
        name = _csv_params(t)[0]
        if name not in infos:
            infos[name] = _table_info(name, tables, t)
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


# --------------------------------------------------------------------------- tables
def _read_bytes(source: Any, max_bytes: int) -> bytes:
    """A table's bytes through the one upload reader (its limit, its wording)."""
    if isinstance(source, (str, os.PathLike)) and not os.path.isfile(os.fspath(source)):
        raise DataError(f"There is no file at {os.fspath(source)!r}.")
    return read_upload(source, "table", max_bytes=max_bytes)


def _parse_csv(data: bytes) -> pd.DataFrame:
    if not data.strip():
        raise DataError("The file is empty.")
    try:
        text_head = data[:4096].decode("utf-8-sig", errors="replace").splitlines()[0]
    except IndexError:  # pragma: no cover - data.strip() was non-empty
        text_head = ""
    sep = ","
    if "," not in text_head:
        sep = next((s for s in (";", "\t", "|") if s in text_head), ",")
    # pandas renames a repeated header ('x', 'x' becomes 'x', 'x.1'): refuse it instead of guessing.
    names = [n.strip() for n in next(csv.reader([text_head], delimiter=sep), []) if n.strip()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"The table has more than one column named {', '.join(repr(n) for n in repeated)}.")
    try:
        return pd.read_csv(io.BytesIO(data), sep=sep, encoding="utf-8-sig", skipinitialspace=True)
    except UnicodeDecodeError:
        raise DataError("The file is not UTF-8 text; save it as CSV (UTF-8).") from None
    except pd.errors.EmptyDataError:
        raise DataError("The file has no columns.") from None
    except (pd.errors.ParserError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"The file could not be read as CSV: {first}") from None


def _float_or_nan(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if not str(value).lstrip().startswith("-") else -math.inf
    except (TypeError, ValueError):
        return math.nan


def _numeric_column(series: pd.Series, name: str, role: str) -> np.ndarray:
    """A column as float64, or a DataError naming the column and the first bad row (1 = first data row)."""
    if pd.api.types.is_complex_dtype(series):
        raise DataError(f"The {role} column '{name}' holds complex numbers; {role} columns must hold real numbers.")
    if pd.api.types.is_bool_dtype(series):
        values = series.astype(np.float64).to_numpy()
    elif pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        text = series.map(lambda v: v.strip() if isinstance(v, str) else v)
        text = text.map(lambda v: np.nan if isinstance(v, str) and v == "" else v)
        try:
            coerced = pd.to_numeric(text, errors="coerce")
        except OverflowError:  # a whole number too long for a float: treat it as infinite, reported below
            coerced = text.map(_float_or_nan)
        bad = np.flatnonzero(coerced.isna().to_numpy() & text.notna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise DataError(f"The {role} column '{name}' has non-numeric text {str(series.iloc[row])!r} in row "
                            f"{row + 1}; {role} columns must hold numbers.")
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    nan = np.flatnonzero(np.isnan(values))
    if len(nan):
        raise DataError(f"The {role} column '{name}' has a missing value in row {int(nan[0]) + 1}.")
    inf = np.flatnonzero(~np.isfinite(values))
    if len(inf):
        raise DataError(f"The {role} column '{name}' has an infinite value in row {int(inf[0]) + 1}.")
    return values


def load_table(
    source: str | bytes | io.IOBase | pd.DataFrame,
    task_column: str = "task",
    target_column: str = "target",
    max_bytes: int | None = None,
) -> pd.DataFrame:
    """Read and validate a long-format user table for ``csv`` tasks.

    Accepts a path, raw bytes, a (binary or text) file object or a DataFrame. Returns a
    clean frame with columns ``["task", "target", *features]``: task as text, target and
    features as float64. Rows are numbered from 1 (the first data row) in messages.
    Every problem raises :class:`DataError` naming the column and row to fix. ``max_bytes``
    defaults to the configured table limit (:mod:`ragviz.limits`, ``RAGVIZ_MAX_TABLE_MB``).
    """
    if max_bytes is None:
        max_bytes = max_upload_bytes("table")
    if isinstance(source, pd.DataFrame):
        raw = source.copy()
    else:
        raw = _parse_csv(_read_bytes(source, max_bytes))
    columns = [str(c).strip() for c in raw.columns]
    raw.columns = columns
    # Trailing separators in exported files give unnamed, entirely empty columns: drop them.
    empty = [c for c in columns if c.startswith("Unnamed:") and raw[c].isna().all()]
    raw = raw.drop(columns=empty)
    columns = list(raw.columns)
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise DataError(f"The table has more than one column named {', '.join(repr(c) for c in duplicated)}.")
    task_column, target_column = str(task_column).strip(), str(target_column).strip()
    if task_column == target_column:
        raise DataError(f"The task column and the target column are both '{task_column}'; choose two columns.")
    listed = ", ".join(f"'{c}'" for c in columns) or "none"
    for role, column in (("task", task_column), ("target", target_column)):
        if column not in columns:
            raise DataError(f"The table has no {role} column '{column}' (columns present: {listed}).")
    for reserved, chosen in (("task", task_column), ("target", target_column)):
        if reserved in columns and reserved not in (task_column, target_column):
            raise DataError(f"The table has a column named '{reserved}' besides the chosen {reserved} column "
                            f"'{chosen}'; rename one of them.")
    if len(raw) == 0:
        raise DataError("The table has no rows.")

    task_values = raw[task_column]
    missing = np.flatnonzero(task_values.isna().to_numpy())
    if len(missing):
        raise DataError(f"The task column '{task_column}' is empty in row {int(missing[0]) + 1}.")
    tasks = task_values.map(str).str.strip()
    blank = np.flatnonzero((tasks == "").to_numpy())
    if len(blank):
        raise DataError(f"The task column '{task_column}' is empty in row {int(blank[0]) + 1}.")

    features = [c for c in columns if c not in (task_column, target_column)]
    if not features:
        raise DataError(f"The table has no feature columns: besides '{task_column}' and '{target_column}' it needs "
                        "at least one numeric column.")
    target = _numeric_column(raw[target_column], target_column, "target")
    feature_values = {c: _numeric_column(raw[c], c, "feature") for c in features}

    counts = tasks.value_counts()
    small = counts[counts < 2]
    if len(small):
        name = str(small.index[0])
        raise DataError(f"Task '{name}' has only {int(small.iloc[0])} row; each task needs at least 2 rows "
                        "(something to train on and something to test on).")

    out = pd.DataFrame({"task": tasks.to_numpy(dtype=object), "target": target, **feature_values})
    out["task"] = out["task"].astype(str)
    return out.reset_index(drop=True)
