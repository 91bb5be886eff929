"""The drawing domain: generation tasks, "draw digit d rotated by θ", whose output is an 8×8 image.

Every task is one rotation θ. Its input names what to draw: a one-hot of the digit d and a small
style code (the first :data:`STYLE_DIM` principal coordinates of one upright handwritten d from
scikit-learn's bundled digits, so the same code means the same handwriting at every angle); its
output is that digit rotated by θ, 64 pixels in [0, 1], learned with a pixel loss (mean squared
error). So the head the GNN generates for a task *draws*, and a zero-shot rotation is drawn from
its relations alone.

A drawing is judged two ways a student can read: its pixel error (MSE) and whether a frozen
nearest-centroid classifier recognises the digit in it (:func:`recognised`). The classifier
compares a drawing with the ten mean images of the digits rotated by the task's own angle: no
training, deterministic, and it asks exactly "does this look like a d turned by θ".
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ragviz.data.digits import digit_images, rotate_images
from ragviz.data.family import DataFamily, DomainSpec, Tables, number
from ragviz.data.task_data import TaskData, split_sizes, task_sizes
from ragviz.safety.errors import DataError

if TYPE_CHECKING:
    from ragviz.graph.tasks import Task

N_DIGITS = 10
STYLE_DIM = 6
INPUT_DIM = N_DIGITS + STYLE_DIM
IMAGE_SIDE = 8
N_PIXELS = IMAGE_SIDE * IMAGE_SIDE


@functools.lru_cache(maxsize=1)
def style_codes() -> np.ndarray:
    """Each bundled digit's style code: its upright image's first principal coordinates, unit spread.

    Fitted once on the pixels (never on anything a task predicts at an angle); signs fixed so
    every machine gets the same codes.
    """
    images, _ = digit_images()
    flat = images.reshape(len(images), -1).astype(np.float64)
    centred = flat - flat.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:STYLE_DIM]
    axes *= np.sign(axes[np.arange(STYLE_DIM), np.abs(axes).argmax(axis=1)])[:, None]
    codes = centred @ axes.T
    codes = (codes / codes.std(axis=0)).astype(np.float32)
    codes.flags.writeable = False
    return codes


def drawing_inputs(digits: np.ndarray, styles: np.ndarray) -> np.ndarray:
    """What a drawing task reads: one-hot digits beside their style codes, (n, :data:`INPUT_DIM`)."""
    digits = np.asarray(digits, dtype=np.int64)
    onehot = np.zeros((len(digits), N_DIGITS), np.float32)
    onehot[np.arange(len(digits)), digits] = 1.0
    return np.concatenate([onehot, np.asarray(styles, np.float32).reshape(len(digits), STYLE_DIM)], axis=1)


def digits_of(x: np.ndarray) -> np.ndarray:
    """The digit each input asks for (the one-hot part of :func:`drawing_inputs`)."""
    return np.asarray(x)[:, :N_DIGITS].argmax(axis=1)


def rotation_of(task: Task) -> float:
    """A drawing task's validated rotation θ in degrees."""
    return number(task.full_params(), "rotate", task)


def drawing_rotations(tasks: Sequence[Task]) -> dict[str, float]:
    """Each drawing task's angle by name; tasks of other families, or with a bad angle, are left out."""
    out = {}
    for task in tasks:
        if task.family in Drawing.families:
            try:
                out[task.name] = rotation_of(task)
            except DataError:
                continue
    return out


@functools.lru_cache(maxsize=64)
def rotated_centroids(degrees: float) -> np.ndarray:
    """The ten digits' mean images rotated by ``degrees``, flattened: (10, 64), the classifier's memory."""
    images, labels = digit_images()
    rotated = rotate_images(images, degrees).reshape(len(images), -1)
    means = np.stack([rotated[labels == d].mean(axis=0) for d in range(N_DIGITS)]).astype(np.float32)
    means.flags.writeable = False
    return means


def recognised(drawings: np.ndarray, digits: np.ndarray, degrees: float) -> float:
    """Share of ``drawings`` (n, 64) whose nearest rotated mean digit (:func:`rotated_centroids`) is
    the digit asked for; NaN without drawings."""
    drawings = np.asarray(drawings, dtype=np.float32).reshape(-1, N_PIXELS)
    if not len(drawings):
        return float("nan")
    centroids = rotated_centroids(float(degrees))
    distance = ((drawings[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)
    return float(np.mean(distance.argmin(axis=1) == np.asarray(digits)))


class Drawing(DataFamily):
    """Generation tasks: draw the asked-for digit, in the asked-for style, rotated by the task's θ."""

    domain = "drawing"
    families = {"digits_drawn": {"rotate": 0.0}}

    def n_classes(self, task: Task, tables: Tables = None) -> int:
        rotation_of(task)
        return 0

    def make(self, task: Task, tables: Tables = None, shared: dict[str, Any] | None = None) -> TaskData:
        rotate = rotation_of(task)
        train, test, seed = task_sizes(task)
        images, labels = digit_images()
        train, test = split_sizes(len(labels), train, test)
        order = np.random.default_rng(seed).permutation(len(labels))
        codes = style_codes()

        def split(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            pixels = rotate_images(images[idx], rotate).reshape(-1, N_PIXELS).astype(np.float32)
            return drawing_inputs(labels[idx], codes[idx]), pixels

        x_tr, y_tr = split(order[:train])
        x_te, y_te = split(order[train:train + test])
        return TaskData(x_tr, y_tr, x_te, y_te, 0)

    def spec(self, tasks: Sequence[Task], tables: Tables = None) -> DomainSpec:
        for t in tasks:
            rotation_of(t)
        return DomainSpec("drawing", INPUT_DIM, N_PIXELS, "regression", (0.0, 1.0))
