"""Figures for a projector: type large enough for the back row, and one figure per screen.

A class reads a projected figure from metres away, on a screen of 1280×720 or 1920×1080.
:func:`for_projector` is the one layout helper every page's chart goes through in projector
mode: it scales every font the figure sets (and the ones it leaves to Plotly's default) by one
factor for the screen, and makes the figure as tall as the screen less the app's header, so
scrolling shows one whole figure at a time. Pure: a figure in, a new figure out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

#: Plotly's own font size when a figure sets none.
PLOTLY_FONT_PX = 12
#: The app's header bar and the space above a figure once scrolled to it.
CHROME_PX = 110
#: A figure taller than this was more than a desk screen already (a grid of many tasks).
TALL_PX = 1000
#: A grid of more rows than this is small multiples, not one figure.
GRID_ROWS = 2
INLINE_SIZE = re.compile(r"font-size:\s*(\d+(?:\.\d+)?)px")


@dataclass(frozen=True)
class Screen:
    """A projector's resolution and the body type size that reads from the back of a room."""

    label: str
    width: int
    height: int
    font_px: int

    @property
    def scale(self) -> float:
        """How much larger every font is than on a desk screen."""
        return self.font_px / PLOTLY_FONT_PX

    @property
    def figure_height(self) -> int:
        """A figure's height that fits one screen below the app's header."""
        return self.height - CHROME_PX


SCREENS: dict[str, Screen] = {s.label: s for s in (Screen("1280×720", 1280, 720, 17),
                                                     Screen("1920×1080", 1920, 1080, 24))}
DEFAULT_SCREEN = "1920×1080"


def screen_for(label: str | None) -> Screen:
    """The screen named ``label``; an unknown or missing name gets the default (never an error)."""
    return SCREENS.get(label or DEFAULT_SCREEN, SCREENS[DEFAULT_SCREEN])


def projector_height(natural: float | None, screen: Screen, share: float = 1.0, rows: int = 1) -> int:
    """A figure's height on ``screen``: ``share`` of the screen, or taller if it needs more room.

    A figure that was taller than a desk screen (:data:`TALL_PX`), or a grid of panels in more
    than :data:`GRID_ROWS` rows, keeps its rows readable: it grows with its type rather than
    being squeezed into one screen, and the class scrolls it row by row.
    """
    target = int(screen.figure_height * share)
    if natural is None or (natural <= TALL_PX and rows <= GRID_ROWS):
        return target
    return max(target, int(natural * screen.scale))


def grid_rows(layout: dict[str, Any]) -> int:
    """How many rows of panels a figure's y axes make (1 for a single plot)."""
    domains = {tuple(axis.get("domain") or (0, 1)) for name, axis in layout.items()
               if name.startswith("yaxis") and isinstance(axis, dict)}
    return max(len(domains), 1)


def _scaled(size: Any, scale: float, default: float | None = None) -> Any:
    """A font size (number or per-point list) times ``scale``; ``default`` where none is set."""
    if size is None:
        return None if default is None else round(default * scale, 1)
    if isinstance(size, (int, float)):
        return round(size * scale, 1)
    if isinstance(size, (list, tuple)):
        return [_scaled(s, scale) for s in size]
    return size


def _fonts(layout: dict[str, Any], defaults: bool) -> Iterator[tuple[dict[str, Any], float | None]]:
    """Every font object in a layout, with the size Plotly draws when none is set (if ``defaults``)."""
    if defaults:  # Streamlit's theme sizes what the figure leaves unset: set it, so it grows too
        yield layout.setdefault("font", {}), PLOTLY_FONT_PX
        yield layout.setdefault("hoverlabel", {}).setdefault("font", {}), 13
        yield layout.setdefault("title", {}).setdefault("font", {}), 16
        yield layout.setdefault("legend", {}).setdefault("font", {}), PLOTLY_FONT_PX
    else:
        for part in ("title", "legend"):
            if isinstance(layout.get(part), dict) and "font" in layout[part]:
                yield layout[part]["font"], None
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            if defaults:
                axis.setdefault("tickfont", {})
                if isinstance(axis.setdefault("title", {}), dict):
                    axis["title"].setdefault("font", {})
            for font, default in ((axis.get("tickfont"), PLOTLY_FONT_PX),
                                  ((axis.get("title") or {}).get("font"), 13)):
                if isinstance(font, dict):
                    yield font, default if defaults else None
    for item in [*(layout.get("annotations") or []), *(layout.get("updatemenus") or []),
                 *(layout.get("sliders") or [])]:
        for font in (item.get("font"), (item.get("currentvalue") or {}).get("font")):
            if isinstance(font, dict):
                yield font, None


def _scale_inline(text: Any, scale: float) -> Any:
    """Inline ``font-size:Npx`` in a label's HTML grows with the rest."""
    if not isinstance(text, str):
        return text
    return INLINE_SIZE.sub(lambda m: f"font-size:{round(float(m.group(1)) * scale)}px", text)


def _scale_layout(layout: dict[str, Any], scale: float, defaults: bool) -> None:
    for font, default in list(_fonts(layout, defaults)):
        scaled = _scaled(font.get("size"), scale, default)
        if scaled is not None:
            font["size"] = scaled
    for note in layout.get("annotations") or []:
        note["text"] = _scale_inline(note.get("text"), scale)
        for shift in ("xshift", "yshift"):  # px from the axes, whose labels have grown: keep clear of them
            if isinstance(note.get(shift), (int, float)):
                note[shift] = round(note[shift] * scale)
    for menu in [*(layout.get("updatemenus") or []), *(layout.get("sliders") or [])]:
        if isinstance(menu.get("pad"), dict):  # px from the axes, whose tick labels have grown
            menu["pad"] = {k: round(v * scale) if isinstance(v, (int, float)) else v for k, v in menu["pad"].items()}


def _scale_traces(traces: list[dict[str, Any]], scale: float) -> None:
    """Labels on the points grow with the type; markers and lines by its square root (less ink)."""
    for trace in traces:
        if trace.get("type", "scatter") in ("scatter", "scattergl"):
            for marker in (trace.get("marker"), (trace.get("selected") or {}).get("marker")):
                if isinstance(marker, dict) and marker.get("size") is not None:
                    marker["size"] = _scaled(marker["size"], math.sqrt(scale))
            line = trace.get("line")
            if isinstance(line, dict) and isinstance(line.get("width"), (int, float)):
                line["width"] = round(line["width"] * math.sqrt(scale), 2)
        for key in ("textfont", "insidetextfont", "outsidetextfont"):
            if isinstance(trace.get(key), dict) and trace[key].get("size") is not None:
                trace[key]["size"] = _scaled(trace[key]["size"], scale)
        colorbar = (trace.get("marker") or {}).get("colorbar") or trace.get("colorbar")
        if isinstance(colorbar, dict):
            tickfont = colorbar.setdefault("tickfont", {})
            tickfont["size"] = _scaled(tickfont.get("size"), scale, PLOTLY_FONT_PX)
            if isinstance(colorbar.get("title"), dict):
                title_font = colorbar["title"].setdefault("font", {})
                title_font["size"] = _scaled(title_font.get("size"), scale, PLOTLY_FONT_PX)


def _scale_margins(layout: dict[str, Any], scale: float) -> None:
    margin = layout.get("margin") or {}
    layout["margin"] = {k: (round(v * scale) if k in "lrtb" and isinstance(v, (int, float)) else v)
                        for k, v in margin.items()}


def for_projector(fig: go.Figure, screen: Screen, share: float = 1.0) -> go.Figure:
    """``fig`` for ``screen``: every font ``screen.scale`` times larger, ``share`` of a screen tall.

    Sizes the figure leaves unset grow too (the body font becomes ``screen.font_px``), so
    ticks and legends Plotly sizes itself follow. The input figure is left as it was: pages
    may cache it.
    """
    spec = fig.to_dict()  # a deep copy
    layout: dict[str, Any] = spec.setdefault("layout", {})
    _scale_layout(layout, screen.scale, defaults=True)
    _scale_traces(spec.get("data", []), screen.scale)
    for frame in spec.get("frames", []) or []:  # an animation's frames restyle titles and labels as they play
        _scale_layout(frame.get("layout") or {}, screen.scale, defaults=False)
        _scale_traces(frame.get("data") or [], screen.scale)
    scale = screen.scale
    _scale_margins(layout, scale)
    layout["height"] = projector_height(layout.get("height"), screen, share, grid_rows(layout))
    return go.Figure(spec)
