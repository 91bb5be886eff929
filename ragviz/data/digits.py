"""The 8x8 handwritten digits the ``digits_*`` families draw from, and rotating them.

sklearn bundles the images; they are read once and shared read-only by every task.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pandas as pd


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
