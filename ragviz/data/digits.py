"""The digits domain: 8x8 handwritten digits, rotated, as ten-class or two-class tasks.

sklearn bundles the images; they are read once and shared read-only by every task.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ragviz.data.family import DataFamily, DomainSpec, Tables, number, whole
from ragviz.data.task_data import TaskData, split_sizes, task_sizes
from ragviz.safety.errors import DataError

if TYPE_CHECKING:
    from ragviz.graph.tasks import Task


@functools.lru_cache(maxsize=1)
def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's bundled 8x8 digits as (images in [0, 1], labels); loaded once, read-only.

    Importing sklearn costs about two seconds, so the bundled file is read directly when it
    looks as expected; ``load_digits`` is the fallback.
    """
    table = _bundled_file()
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


def _bundled_file() -> np.ndarray | None:
    import pandas as pd

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


def rotate_images(images: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate 8x8 images counter-clockwise about their centre (90 degrees matches np.rot90)."""
    if degrees % 360 == 0 or len(images) == 0:
        return images
    from scipy import ndimage

    out = ndimage.rotate(images, degrees, axes=(1, 2), reshape=False, order=1, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0)


def _pair(task: Task, p: dict[str, Any]) -> tuple[int, int]:
    a, b = whole(p, "a", task, 0, 9), whole(p, "b", task, 0, 9)
    if a == b:
        raise DataError(f"Task '{task.name}': digits a and b must differ, both are {a}.")
    return a, b


class Digits(DataFamily):
    """Rotated digits: all ten classes, one digit against the rest, or one digit against another."""

    domain = "digits"
    families = {"digits_rotated": {"rotate": 0.0}, "digits_one_vs_rest": {"digit": 0, "rotate": 0.0},
                "digits_pair": {"a": 3, "b": 8, "rotate": 0.0}}

    def n_classes(self, task: Task, tables: Tables = None) -> int:
        p = task.full_params()
        number(p, "rotate", task)
        if task.family == "digits_rotated":
            return 10
        if task.family == "digits_one_vs_rest":
            whole(p, "digit", task, 0, 9)
        else:
            _pair(task, p)
        return 2

    def make(self, task: Task, tables: Tables = None, shared: dict[str, Any] | None = None) -> TaskData:
        p = task.full_params()
        rotate = number(p, "rotate", task)
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
                k = whole(p, "digit", task, 0, 9)
                pos, neg = np.flatnonzero(labels == k), np.flatnonzero(labels != k)
            else:
                a, b = _pair(task, p)
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

    def spec(self, tasks: Sequence[Task], tables: Tables = None) -> DomainSpec:
        for t in tasks:
            self.n_classes(t)
        return DomainSpec("digits", 64, 10, "classification", (0.0, 1.0))
