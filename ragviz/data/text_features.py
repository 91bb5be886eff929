"""The last frozen stage of the text front end: a sentence vector's main directions.

The transformer gives 384 numbers per sentence. The model's trainable shared encoder does
not read all of them: it reads their coordinates on the :data:`FEATURE_DIM` main directions
(principal components) of the shipped corpus's vectors, a fixed linear map fitted once, from
texts only (never labels), and the same for every task, typed sentence and user table.

Why: the shared encoder runs on every training point at every step, so its first layer's
width is most of a text step's cost; 64 directions keep about three quarters of the vectors'
variance and what the lessons' tasks need (a linear probe on them matches one on all 384
numbers for sentiment and for questions), at a sixth of that layer's cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FEATURE_DIM = 64


@dataclass(frozen=True)
class Projection:
    """centre, basis (input × k) and scale: features = (v − centre) · basis · scale."""

    centre: np.ndarray
    basis: np.ndarray
    scale: float

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Features of one vector (d,) or many (n, d), as float32."""
        v = np.asarray(vectors, dtype=np.float64)
        return (((v - self.centre) @ self.basis) * self.scale).astype(np.float32)


def fit_projection(vectors: np.ndarray, k: int = FEATURE_DIM) -> tuple[Projection, float]:
    """The top-``k`` principal directions of ``vectors`` and the share of variance they keep.

    Deterministic across machines: each direction's sign is fixed so that its largest
    loading is positive, and the scale makes the features' mean length 1 (like the unit
    sentence vectors they come from).
    """
    v = np.asarray(vectors, dtype=np.float64)
    centre = v.mean(axis=0)
    _, s, vt = np.linalg.svd(v - centre, full_matrices=False)
    k = min(k, vt.shape[0])
    basis = vt[:k].T.copy()
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(k)])
    basis *= np.where(signs == 0, 1.0, signs)
    projected = (v - centre) @ basis
    scale = 1.0 / max(float(np.sqrt((projected ** 2).sum(axis=1).mean())), 1e-12)
    explained = float((s[:k] ** 2).sum() / max((s ** 2).sum(), 1e-300))
    return Projection(centre, basis, scale), explained
