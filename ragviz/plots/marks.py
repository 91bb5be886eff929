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


def outline_shape(suffix: str = "", pad: float = 0.015) -> dict[str, Any]:
    """An orange frame round the plot area of panel ``x{suffix}``/``y{suffix}``.

    In the axes' own domain coordinates, so it follows a square panel that Plotly shrinks to keep its scale.
    """
    return {"type": "rect", "xref": f"x{suffix} domain", "yref": f"y{suffix} domain", "x0": -pad, "x1": 1 + pad,
            "y0": -pad, "y1": 1 + pad, "line": {"color": MARK_COLOR, "width": 3}, "fillcolor": "rgba(0,0,0,0)",
            "layer": "above"}
