"""Generation tasks' outputs: each task's drawings beside the true images. Pure: trace in, figure out.

One panel per task (laid out like every other Task outputs figure, titles and lesson marks
included): the top row holds true test images, the row below what the task's generated head drew
for the same inputs. The panel's title gives the task's pixel error and how many of its drawings a
frozen classifier recognises (:func:`ragviz.data.drawing.recognised`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import plotly.graph_objects as go

from ragviz.data.drawing import IMAGE_SIDE, N_DIGITS, digits_of, recognised
from ragviz.inspection.trace import Trace
from ragviz.plots.outputs import TOP, _grid_layout, _on, grid_shape

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


def drawings_figure(trace: Trace, tasks: Sequence[str], rotations: dict[str, float],
                    before: dict[str, float] | None = None, marked: Collection[str] | None = None,
                    count: int = SHOWN, height: int | None = None) -> go.Figure:
    """Per task, ``count`` true test images (top) and the model's drawings of them (bottom).

    ``rotations``: each task's angle, for the classifier's verdict in its title (tasks without one
    show no verdict); ``before``: metrics before a what-if edit; ``marked``: tasks framed in orange.
    """
    tasks = [t for t in tasks if t in trace.task_names]
    side = IMAGE_SIDE
    data = []
    for k, name in enumerate(tasks):
        pick = shown_points(digits_of(trace.x_test[name]), count)
        strip = image_strip(trace.y_test[name][pick], trace.outputs_test[name][pick])
        data.append(_on(k, {"type": "heatmap", "z": strip, "coloraxis": "coloraxis", "hoverongaps": False,
                            "hovertemplate": "pixel value %{z:.2f}<extra></extra>", "xgap": 0, "ygap": 0}))
    if height is None:  # a strip is wide and low: rows of its height, not the square panels' default
        rows, cols = grid_shape(len(tasks))
        strip_px = STRIP_WIDTH_PX[min(cols, 4)] * (2 * side + 1) / (count * (side + 1))
        height = TOP + rows * (PANEL_TITLE_PX + int(strip_px))
    layout = _grid_layout(trace, tasks, False, before, 0.04, height, gap_px=PANEL_TITLE_PX, marked=marked)
    for k, name in enumerate(tasks):
        share = task_recognised(trace, name, rotations)
        if np.isfinite(share):
            note = layout["annotations"][k]
            note["text"] = note["text"].removesuffix("</span>") + f" · recognised {share:.0%}</span>"
    for key, axis in list(layout.items()):
        if key.startswith("xaxis"):
            axis.update(showticklabels=False, showgrid=False, zeroline=False)
        elif key.startswith("yaxis"):
            axis.update(autorange="reversed", showgrid=False, zeroline=False, tickmode="array",
                        tickvals=[(side - 1) / 2, side + 1 + (side - 1) / 2], ticktext=list(ROWS),
                        scaleanchor=key.replace("yaxis", "x"), constrain="domain")
    layout["coloraxis"] = {"colorscale": INK, "cmin": 0.0, "cmax": 1.0, "showscale": False}
    layout["plot_bgcolor"] = "#f3f3f3"
    layout["showlegend"] = False
    return go.Figure(data=data, layout=layout)
