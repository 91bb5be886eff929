"""Generation tasks' panels: a strip of true images above the model's drawings, and what goes in it. Pure.

:func:`ragviz.plots.outputs.drawings_figure` lays one strip per task out like every other Task outputs
figure (titles and lesson marks included): the top row holds true test images, the row below what the
task's generated head drew for the same inputs. The panel's title gives the task's pixel error and how
many of its drawings a frozen classifier recognises (:func:`ragviz.data.drawing.recognised`).
"""

from __future__ import annotations

import numpy as np

from ragviz.data.drawing import IMAGE_SIDE, N_DIGITS, digits_of, recognised
from ragviz.inspection.trace import Trace

#: Ink on paper: 0 is white, 1 black, as the digits were written.
INK = [[0.0, "#ffffff"], [1.0, "#111111"]]
SHOWN = 5  # images per task: the first test image of digits 0, 1, … (as many as fit)
ROWS = ("true", "drawn")
PANEL_TITLE_PX = 60  # a panel's two-line title
#: About how wide a panel is on a wide page, by the number of columns (pixels).
STRIP_WIDTH_PX = {1: 900, 2: 520, 3: 340, 4: 250}


def shown_points(digits: np.ndarray, count: int = SHOWN) -> np.ndarray:
    """Which test points a panel shows: the first of each digit 0, 1, 2, …, ``count`` of them (then any)."""
    digits = np.asarray(digits)
    picks = [int(np.flatnonzero(digits == d)[0]) for d in range(N_DIGITS) if (digits == d).any()][:count]
    rest = [i for i in range(len(digits)) if i not in picks]
    return np.asarray(picks + rest[:max(count - len(picks), 0)], dtype=np.int64)


def image_strip(true: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """True images (n, 64) above their drawings (n, 64), tiled into one array with blank (NaN) gaps."""
    n, side = len(true), IMAGE_SIDE
    strip = np.full((2 * side + 1, max(n * (side + 1) - 1, 1)), np.nan, dtype=np.float32)
    for k in range(n):
        cols = slice(k * (side + 1), k * (side + 1) + side)
        strip[:side, cols] = np.asarray(true[k], np.float32).reshape(side, side)
        strip[side + 1:, cols] = np.clip(np.asarray(drawn[k], np.float32).reshape(side, side), 0.0, 1.0)
    return strip


def task_recognised(trace: Trace, name: str, rotations: dict[str, float]) -> float:
    """Share of a task's test drawings the frozen classifier reads as the digit asked for (NaN if unknown)."""
    if name not in rotations or name not in trace.outputs_test:
        return float("nan")
    return recognised(trace.outputs_test[name], digits_of(trace.x_test[name]), rotations[name])
