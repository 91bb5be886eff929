"""Figures light enough for a browser on big graphs.

A browser draws every byte of Plotly JSON a page sends: a 1,000-task graph's figures with an
animation frame per layer, an arrow and hover text per message and float64 coordinates come
to megabytes, and a modest machine's software WebGL spends seconds on them after each page
switch. Past :data:`LIGHT_TASKS` tasks the figures therefore drop their animation frames (the
page's own layer or frame picker redraws one), keep per-message arrows and hover only near the
focus task, and send coordinates as float32. Small graphs, the ones a student reads task by
task, are drawn exactly as before. Whatever a light figure leaves out, it says on screen.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

#: Past this many tasks a figure is drawn light (the same threshold as the Train page's bundled curves).
LIGHT_TASKS = 60
NOTE_FONT = {"size": 11, "color": "#555555"}


def is_light(n_tasks: int) -> bool:
    """Whether a figure of ``n_tasks`` tasks is drawn light."""
    return n_tasks > LIGHT_TASKS


def no_animation_note(picker: str) -> str:
    """What a light figure says instead of its ▶ button: where the other layers or frames are."""
    return f"No ▶ animation past {LIGHT_TASKS} tasks, to keep the page quick: pick another {picker} above."


def _as_float32(values: Any) -> Any:
    if isinstance(values, np.ndarray) and values.dtype.kind == "f" and values.dtype != np.float32:
        return values.astype(np.float32)
    return values


def float32_coordinates(fig: go.Figure) -> go.Figure:
    """Every trace's float x and y (and its frames') as float32: half the bytes, nothing visible lost.

    Plotly sends numpy arrays as typed binary, so float32 halves them; lists are left as they are.
    """
    for trace in [*fig.data, *(t for frame in fig.frames for t in frame.data)]:
        for field in ("x", "y"):
            values = getattr(trace, field, None)
            light = _as_float32(values)
            if light is not values:
                setattr(trace, field, light)
    return fig


def note_below(fig: go.Figure, text: str, shift_px: int = 6) -> go.Figure:
    """A grey line of text ``shift_px`` under the plot: what a light figure leaves out, said where it is seen."""
    fig.add_annotation(text=text, xref="paper", yref="paper", x=0.0, y=0.0, xanchor="left", yanchor="top",
                       yshift=-shift_px, showarrow=False, align="left", font=NOTE_FONT)
    return fig
