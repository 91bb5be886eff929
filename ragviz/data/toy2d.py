"""The toy 2-D families (moons, circles, xor, blobs, spiral, linear): points in the plane, two to six classes.

Every family draws balanced labels, its noise-free shape, Gaussian noise, then the task's
flip, rotation, scale and shift, so related tasks differ by a transformation a student can see.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ragviz.data.family import DataFamily, DomainSpec, Tables, flag, noise_level, number, whole
from ragviz.data.task_data import TaskData, task_sizes
from ragviz.safety.errors import DataError

if TYPE_CHECKING:
    from ragviz.graph.tasks import Task

TOY_FAMILIES = ("moons", "circles", "xor", "blobs", "spiral", "linear")
MIN_CLASSES, MAX_CLASSES = 2, 6
TOY_HALF_WIDTH = 3.5
_PLANE = {"noise": 0.1, "rotate": 0.0, "flip": False, "shift_x": 0.0, "shift_y": 0.0, "scale": 1.0}


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


def toy_params(task: Task) -> dict[str, Any]:
    """A toy task's validated parameters, with ``k`` its number of classes."""
    p = task.full_params()
    scale = number(p, "scale", task)
    if scale <= 0:
        raise DataError(f"Task '{task.name}': scale must be positive, got {scale:g}.")
    k = whole(p, "n_classes", task, MIN_CLASSES, MAX_CLASSES) if task.family in ("blobs", "spiral") else 2
    return {"noise": noise_level(p, task), "rotate": number(p, "rotate", task), "flip": flag(p, "flip", task),
            "shift": (number(p, "shift_x", task), number(p, "shift_y", task)), "scale": scale, "k": k}


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


class Toy2D(DataFamily):
    """Points in the plane: the domain the message-passing and zero-shot lessons draw."""

    domain = "toy2d"
    families = {f: {**_PLANE, **({"n_classes": 3} if f == "blobs" else {"n_classes": 2} if f == "spiral" else {})}
                for f in TOY_FAMILIES}

    def n_classes(self, task: Task, tables: Tables = None) -> int:
        return toy_params(task)["k"]

    def make(self, task: Task, tables: Tables = None, shared: dict[str, Any] | None = None) -> TaskData:
        p = toy_params(task)
        train, test, seed = task_sizes(task)
        rng = np.random.default_rng(seed)
        # Train is drawn first, so changing test_size never changes the training data.
        x_tr, y_tr = _toy_split(task, p, train, rng)
        x_te, y_te = _toy_split(task, p, test, rng)
        return TaskData(x_tr, y_tr, x_te, y_te, p["k"])

    def spec(self, tasks: Sequence[Task], tables: Tables = None) -> DomainSpec:
        half = TOY_HALF_WIDTH
        n_out = 2
        for t in tasks:
            p = toy_params(t)
            n_out = max(n_out, p["k"])
            # Data fill about +-3 * scale (rotation of the +-2.5 square, plus noise) around the shift.
            reach = 3.0 * p["scale"] + max(abs(p["shift"][0]), abs(p["shift"][1]))
            half = max(half, math.ceil(reach * 2) / 2)
        return DomainSpec("toy2d", 2, n_out, "classification", (-half, half))

    def grid(self, axis: np.ndarray) -> np.ndarray | None:
        gx, gy = np.meshgrid(axis, axis)  # 'xy' indexing: row-major ravel runs x fastest
        return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
