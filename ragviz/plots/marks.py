"""How every figure marks the tasks an open lesson's claim is about: one colour, a ring or an outline.

The same mark on every page (task graph, message passing, embeddings, task outputs), so a student
who reads "the 3-hop tasks" finds them at a glance wherever they look.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import plotly.graph_objects as go

MARK_COLOR = "#ff8c00"  # orange: not a class, relation or focus colour
MARK_NAME = "the lesson's tasks"


def marked_names(names: Collection[str], marked: Collection[str] | None) -> list[str]:
    """The marked tasks that are in ``names``, in ``names``' order."""
    if not marked:
        return []
    wanted = set(marked)
    return [n for n in names if n in wanted]


def ring_trace(pos: Mapping[str, Any], marked: Collection[str] | None, size: float = 30.0,
               gl: bool = True) -> go.Scattergl | go.Scatter:
    """An orange ring round each marked task at ``pos`` (name → (x, y)); no hover, no clicks, one legend entry."""
    names = marked_names(list(pos), marked)
    kind = go.Scattergl if gl else go.Scatter
    return kind(x=[float(pos[n][0]) for n in names], y=[float(pos[n][1]) for n in names], mode="markers",
                hoverinfo="skip", name=MARK_NAME, showlegend=bool(names),
                marker={"symbol": "circle-open", "size": size, "color": MARK_COLOR,
                        "line": {"color": MARK_COLOR, "width": 3}})


def outline_shape(x0: float, x1: float, y0: float, y1: float) -> dict[str, Any]:
    """An orange frame round one small-multiple panel (paper coordinates)."""
    return {"type": "rect", "xref": "paper", "yref": "paper", "x0": x0, "x1": x1, "y0": y0, "y1": y1,
            "line": {"color": MARK_COLOR, "width": 3}, "fillcolor": "rgba(0,0,0,0)", "layer": "above"}
