"""Projector mode: the switch in the sidebar, and the page parts that change with it.

A teacher projecting the app wants each figure to fill the screen with type the back row can
read, and the controls out of the way. Turned on, every chart drawn through :func:`for_screen`
gets :func:`ragviz.plots.projector.for_projector` for the chosen screen, side panels move below
their figure (:func:`beside_figure`), and secondary controls fold into collapsed expanders
(:func:`tucked`). Nothing is dropped: every widget still runs, so what a student typed survives
switching the mode off and on.

Text, tables, cards and widgets grow too: Streamlit sizes them in rem, so one fixed stylesheet
(:func:`projector_css`) sets the page's root type to the screen's size. It is the app's only
``st.html``, made from the screen's numbers alone: no text a user can set ever reaches it
(``tests/test_safe_text.py`` holds it to that).

Tables (``st.dataframe``, ``st.data_editor``) draw on a canvas, which CSS does not reach: the grid
reads the page's root type once, when it is first drawn, and scales its type and rows by it. So
the stylesheet is drawn on every run at the same place (first in the page's event container, so
a new mode restyles the page early in the run); every table sits in a container whose key names
the screen it was drawn for (:func:`table_slot`; an editor's own key does, :func:`table_key`), and
after a run that changed the mode or screen the app runs once more with the new name
(:func:`redraw_tables`), so each table is drawn anew after the new stylesheet is on the page (drawn
in the same run, a table can read the page's type before the browser applies it); a table given a
height in px gets it scaled (:func:`table_height`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ragviz.plots.projector import DEFAULT_SCREEN, SCREENS, Screen, for_projector, screen_for
from ragviz.ui.state import PROJECTOR_KEY, SCREEN_KEY, get_state, set_widget_value, widget_value

DESK_ROOT_PX = 16  # Streamlit's own root type size
TABLE_ROW_PX = 35  # a table row's height at the desk (Streamlit's default)


def projector_on() -> bool:
    return bool(widget_value(PROJECTOR_KEY, False))


def projector_screen() -> Screen:
    return screen_for(widget_value(SCREEN_KEY))


def projector_toggle() -> None:
    """The sidebar's switch, and while it is on, the projector's resolution."""
    if widget_value(SCREEN_KEY) not in SCREENS:
        set_widget_value(SCREEN_KEY, DEFAULT_SCREEN)
    st.toggle("Projector mode", key=PROJECTOR_KEY,
              help="Large type and one figure per screen, controls folded away: for showing the app to a class.")
    # Drawn on every run, off too: switching the mode replaces it in place, early in the run, instead of
    # leaving the old one on the page until the run ends (while the tables are drawn anew at its size).
    st.html(projector_css(projector_screen() if projector_on() else None))
    if projector_on():
        st.radio("Projector screen", list(SCREENS), key=SCREEN_KEY, horizontal=True,
                 help="Figures are sized to fill this screen's height and text grows with them. Collapse the "
                      "sidebar (« at its top) for the full width.")


def projector_css(screen: Screen | None) -> str:
    """The mode's fixed stylesheet for ``screen`` (None: the mode is off, nothing changes): built from its
    numbers only, never from user text.

    The root type becomes the screen's body size (Streamlit's text, tables, cards and widgets are
    in rem, so they all grow by the same factor as the figures' type); the open sidebar widens
    with its type; notices float at the bottom right, clear of the page's controls at its top and
    of a figure's Play buttons at its bottom left.
    """
    if screen is None:
        return "<style>html{}</style>"
    root = int(screen.font_px)
    sidebar = int(round(18.5 * root))
    return ("<style>"
            f"html{{font-size:{root}px}}"
            f'section[data-testid="stSidebar"][data-collapsed="false"]{{min-width:{sidebar}px}}'
            '[data-testid="stToastContainer"]{top:auto!important;bottom:1rem!important}'
            "</style>")


def _type_scale() -> float:
    """How much the page's type has grown: the screen's body size over Streamlit's own 16 px root."""
    return projector_screen().font_px / DESK_ROOT_PX if projector_on() else 1.0


def _screen_label() -> str | None:
    return projector_screen().label if projector_on() else None


def table_key(key: str) -> str:
    """A key that names the screen the tables are drawn for: what it keys is drawn anew when that changes."""
    screen = get_state().table_screen
    return f"{key}@{screen}" if screen is not None else key


def redraw_tables() -> None:
    """After the page: if this run changed the mode or screen, run once more with the tables' new keys, so
    they are drawn anew at the page's new type size (the stylesheet is on the page by then)."""
    state = get_state()
    if state.table_screen != _screen_label():
        state.table_screen = _screen_label()
        st.rerun()


def table_slot(name: str) -> DeltaGenerator:
    """The place for table ``name``: a container that is new whenever the mode or screen changes, so the table
    in it is drawn anew at the page's type size (a table's own key does not give it a new identity)."""
    return st.container(key=table_key(f"table_{name}"))


def table_height(rows: int, most: int, extra: int = 3) -> int:
    """A table's height in px that shows ``rows`` rows and its header (at most ``most`` px at the desk);
    in projector mode it grows with the rows, which the table scales with the type."""
    return math.ceil(min(TABLE_ROW_PX * (rows + 1) + extra, most) * _type_scale()) + (2 if projector_on() else 0)


def for_screen(fig: go.Figure, share: float = 1.0) -> go.Figure:
    """``fig`` as the page shows it: unchanged, or sized for the projector when the mode is on."""
    return for_projector(fig, projector_screen(), share) if projector_on() else fig


@contextlib.contextmanager
def tucked(label: str) -> Iterator[None]:
    """Secondary controls: shown as they are, or folded in a collapsed expander in projector mode."""
    if projector_on():
        with st.expander(label, expanded=False):
            yield
    else:
        yield


def beside_figure(spec: Sequence[float], panel_label: str,
                  gap: str = "medium") -> tuple[DeltaGenerator, DeltaGenerator]:
    """A figure's column and its side panel's; in projector mode the figure takes the full width
    and the panel folds below it, so the figure alone fills the screen."""
    if projector_on():
        return st.container(), st.expander(panel_label, expanded=False)
    figure_col, panel_col = st.columns(spec, gap=gap)
    return figure_col, panel_col


def figure_columns(spec: int | Sequence[float]) -> list[DeltaGenerator]:
    """Columns for figures side by side; in projector mode stacked, one figure per screen."""
    if projector_on():
        return [st.container() for _ in range(spec if isinstance(spec, int) else len(spec))]
    return list(st.columns(spec))
