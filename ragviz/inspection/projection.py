"""Task embeddings in 2-D, and nearest neighbours in the full space: pure NumPy / scikit-learn.

All layers (or all training snapshots) are projected *jointly*: one PCA basis or one
t-SNE map for every point of every layer, so a task's trajectory through the layers is
drawn in one coordinate system and distances between layers mean something.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ragviz.training.history import History

METHODS = ("pca", "tsne")
METRICS = ("cosine", "euclidean")
MAX_PERPLEXITY = 30.0
TSNE_ITERATIONS = 500  # enough for a few hundred points; keeps the page responsive on slow CPUs
MAX_TSNE_POINTS = 240  # t-SNE over more frames × tasks than this uses evenly spaced frames (about 1 s)


def _stack(arrays: np.ndarray | Sequence[np.ndarray]) -> tuple[np.ndarray, tuple[int, int]]:
    """(K, N, d) from a (K, N, d) array or K arrays of shape (N, d); returns the flat (K·N, d) too."""
    stacked = np.asarray(arrays, dtype=np.float64)
    if stacked.ndim == 2:
        stacked = stacked[None]
    if stacked.ndim != 3:
        raise ValueError(f"Expected (K, N, d) embeddings, got shape {stacked.shape}.")
    k, n, d = stacked.shape
    return stacked.reshape(k * n, d), (k, n)


def _pad_to_2d(points: np.ndarray) -> np.ndarray:
    """Pad with zero columns when there are fewer than two components (d = 1 or rank 1)."""
    if points.shape[1] >= 2:
        return points[:, :2]
    return np.hstack([points, np.zeros((points.shape[0], 2 - points.shape[1]))])


def pca_2d(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points on the first two principal axes and the variance fraction each explains.

    Signs are fixed (each axis's largest loading is positive), so the picture does not
    flip between reruns or between nearly identical models.
    """
    if flat.shape[0] == 0:
        return np.zeros((0, 2)), np.zeros(2)
    centred = flat - flat.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    vt = vt[:2]
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])
    vt = vt * np.where(signs == 0, 1.0, signs)[:, None]
    variance = s**2
    total = variance.sum()
    ratio = variance[:2] / total if total > 0 else np.zeros(min(2, len(variance)))
    return _pad_to_2d(centred @ vt.T), np.pad(ratio, (0, 2 - len(ratio)))


def tsne_perplexity(n_points: int) -> float:
    """A perplexity t-SNE accepts for ``n_points`` (it must be below n): about n/3, at most 30."""
    return float(max(1.0, min(MAX_PERPLEXITY, (n_points - 1) / 3.0)))


def tsne_2d(flat: np.ndarray, seed: int = 0) -> np.ndarray:
    """Seeded t-SNE; tiny inputs (fewer than 4 points, or all identical) fall back to PCA."""
    n = flat.shape[0]
    if n < 4 or np.allclose(flat, flat[0]):
        return pca_2d(flat)[0]
    from sklearn.manifold import TSNE  # imported late: scikit-learn's manifold module is slow to import
    from threadpoolctl import threadpool_limits

    tsne = TSNE(n_components=2, perplexity=tsne_perplexity(n), init="pca", random_state=int(seed),
                max_iter=TSNE_ITERATIONS, learning_rate="auto")
    # One thread: OpenMP workers spinning on a busy machine made a 70-point t-SNE take 13 s instead of 0.5 s,
    # and results are identical for the same seed whatever the thread count.
    with threadpool_limits(limits=1):
        return tsne.fit_transform(flat.astype(np.float32)).astype(np.float64)


def project_embeddings(arrays: np.ndarray | Sequence[np.ndarray], method: str = "pca", seed: int = 0) -> np.ndarray:
    """Project K stacked (N, d) embeddings (layers or snapshots) jointly to 2-D: returns (K, N, 2)."""
    if method not in METHODS:
        raise ValueError(f"Unknown projection {method!r}; choose one of {', '.join(METHODS)}.")
    flat, (k, n) = _stack(arrays)
    points = pca_2d(flat)[0] if method == "pca" else tsne_2d(flat, seed)
    return points.reshape(k, n, 2)


def explained_variance(arrays: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """The fraction of variance PC1 and PC2 explain over all the stacked points, for axis titles."""
    return pca_2d(_stack(arrays)[0])[1]


def distances(embeddings: np.ndarray, index: int, metric: str = "cosine") -> np.ndarray:
    """Distance from row ``index`` to every row: cosine distance (1 − cos) or Euclidean."""
    if metric not in METRICS:
        raise ValueError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    x = np.asarray(embeddings, dtype=np.float64)
    if metric == "euclidean":
        return np.linalg.norm(x - x[index], axis=1)
    norms = np.linalg.norm(x, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    return 1.0 - (x @ x[index]) / (safe * safe[index])


def nearest_neighbours(embeddings: np.ndarray, names: Sequence[str], task: str, metric: str = "cosine",
                       k: int = 5) -> pd.DataFrame:
    """The ``k`` tasks whose embeddings are closest to ``task``'s (itself excluded), closest first."""
    names = list(names)
    i = names.index(task)
    dist = distances(embeddings, i, metric)
    order = [j for j in np.argsort(dist, kind="stable") if j != i][: max(int(k), 0)]
    return pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        "task": [names[j] for j in order],
        "distance": [float(dist[j]) for j in order],
    })


def frame_subset(k: int, n: int, max_points: int = MAX_TSNE_POINTS) -> list[int]:
    """Evenly spaced frame indices (first and last kept) so that frames × ``n`` tasks stay under ``max_points``."""
    keep = max(2, max_points // max(n, 1))
    if k <= keep:
        return list(range(k))
    return sorted({int(round(i)) for i in np.linspace(0, k - 1, keep)})


def snapshot_frames(history: History, layer: int = -1) -> tuple[np.ndarray, list[str], np.ndarray]:
    """One layer of every training snapshot as (S, N, d), labels 'step s', and each snapshot's test metric (S, N)."""
    if not history.snapshots:
        return np.zeros((0, len(history.tasks), 0)), [], np.zeros((0, len(history.tasks)))
    arrays = np.stack([np.asarray(s)[layer] for s in history.snapshots])
    rows = {step: row for step, row in zip(history.steps, history.test_metric, strict=False)}
    nan_row = [float("nan")] * len(history.tasks)
    metric = np.array([rows.get(step, nan_row) for step in history.snapshot_steps], dtype=float)
    return arrays, [f"step {s}" for s in history.snapshot_steps], metric.reshape(len(arrays), len(history.tasks))
