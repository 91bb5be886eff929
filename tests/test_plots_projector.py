"""Projector figures: every font grows by the screen's factor, the figure fills one screen, the input stays."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from ragviz.plots.projector import (
    CHROME_PX,
    DEFAULT_SCREEN,
    PLOTLY_FONT_PX,
    SCREENS,
    TALL_PX,
    for_projector,
    grid_rows,
    projector_height,
    screen_for,
)
from ragviz.plots.training import curves_figure
from ragviz.training.history import History

SMALL, LARGE = SCREENS["1280×720"], SCREENS["1920×1080"]


def _figure() -> go.Figure:
    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 2], mode="markers+text", text=["a", "b"], textfont={"size": 10}))
    fig.add_trace(go.Heatmap(z=[[1, 2], [3, 4]], colorbar={"tickfont": {"size": 8}}))
    fig.update_layout(
        height=300, title={"text": "t", "font": {"size": 14}}, legend={"font": {"size": 11}},
        xaxis={"tickfont": {"size": 9}, "title": {"text": "x", "font": {"size": 10}}},
        yaxis2={"tickfont": {"size": 7}}, margin={"l": 10, "r": 20, "t": 40, "b": 30},
        annotations=[{"text": "<b>n</b><br><span style='font-size:11px'>acc</span>", "font": {"size": 12},
                      "showarrow": False}],
        updatemenus=[{"type": "buttons", "y": 0, "yanchor": "top", "pad": {"t": 28},
                      "buttons": [{"label": "▶ Play", "method": "animate", "args": [None]}]}],
    )
    return fig


@pytest.mark.parametrize("screen", [SMALL, LARGE])
def test_every_set_font_grows_by_the_screens_factor(screen) -> None:
    fig, k = for_projector(_figure(), screen), screen.scale
    layout = fig.layout
    assert layout.font.size == pytest.approx(PLOTLY_FONT_PX * k, abs=0.1)
    assert layout.title.font.size == pytest.approx(14 * k, abs=0.1)
    assert layout.legend.font.size == pytest.approx(11 * k, abs=0.1)
    assert layout.xaxis.tickfont.size == pytest.approx(9 * k, abs=0.1)
    assert layout.xaxis.title.font.size == pytest.approx(10 * k, abs=0.1)
    assert layout.yaxis2.tickfont.size == pytest.approx(7 * k, abs=0.1)
    assert layout.annotations[0].font.size == pytest.approx(12 * k, abs=0.1)
    assert f"font-size:{round(11 * k)}px" in layout.annotations[0].text
    assert fig.data[0].textfont.size == pytest.approx(10 * k, abs=0.1)
    assert fig.data[1].colorbar.tickfont.size == pytest.approx(8 * k, abs=0.1)
    assert (layout.margin.l, layout.margin.t) == (round(10 * k), round(40 * k))
    assert layout.updatemenus[0].pad.t == round(28 * k)  # the Play button stays clear of the larger ticks


def test_the_larger_screen_gets_larger_type_and_both_are_larger_than_a_desk() -> None:
    assert 1 < SMALL.scale < LARGE.scale
    assert SMALL.font_px >= 16  # readable from the back of a room at 720 lines


@pytest.mark.parametrize("screen", [SMALL, LARGE])
def test_a_figure_fills_one_screen_below_the_header(screen) -> None:
    fig = for_projector(_figure(), screen)
    assert fig.layout.height == screen.height - CHROME_PX
    half = for_projector(_figure(), screen, share=0.5)
    assert half.layout.height == (screen.height - CHROME_PX) // 2


def test_a_figure_taller_than_a_screen_grows_with_its_type_instead_of_being_squeezed() -> None:
    tall = TALL_PX + 500
    assert projector_height(tall, LARGE) == int(tall * LARGE.scale)
    assert projector_height(TALL_PX, SMALL) == SMALL.figure_height  # a desk-sized figure fits one screen
    assert projector_height(200, LARGE) == LARGE.figure_height
    assert projector_height(None, SMALL, 0.5) == SMALL.figure_height // 2


def test_the_input_figure_is_left_as_it_was() -> None:
    fig = _figure()
    before = fig.to_dict()
    for_projector(fig, LARGE)
    assert fig.to_dict() == before


def test_animation_frames_keep_the_large_type_while_they_play() -> None:
    fig = go.Figure(go.Scatter(x=[0], y=[0], text=["a"], textfont={"size": 10}),
                    frames=[go.Frame(data=[go.Scatter(textfont={"size": 10})],
                                     layout={"title": {"text": "f", "font": {"size": 14}}}, name="1")])
    out = for_projector(fig, SMALL)
    assert out.frames[0].layout.title.font.size == pytest.approx(14 * SMALL.scale, abs=0.1)
    assert out.frames[0].data[0].textfont.size == pytest.approx(10 * SMALL.scale, abs=0.1)


def test_an_app_figure_comes_out_larger_and_valid() -> None:
    history = History(tasks=["a"], zero_shot=[], metric="accuracy", steps=[0, 1], wall_time=[0.0, 0.1],
                      train_loss=[[0.7], [0.5]], test_loss=[[0.7], [0.6]], train_metric=[[0.5], [0.6]],
                      test_metric=[[0.5], [0.7]])
    fig = curves_figure(history, "loss", "test")
    out = for_projector(fig, LARGE)
    assert out.layout.title.font.size > fig.layout.title.font.size
    assert out.layout.height > fig.layout.height
    assert len(out.data) == len(fig.data)


def test_an_unknown_screen_name_gets_the_default() -> None:
    assert screen_for("800×600") == SCREENS[DEFAULT_SCREEN] == screen_for(None)
    assert screen_for("1280×720") == SMALL


def test_small_multiples_grow_with_their_type_and_a_single_plot_fits_a_screen() -> None:
    from plotly.subplots import make_subplots

    grid = make_subplots(rows=4, cols=3)
    grid.update_layout(height=700)
    assert grid_rows(grid.to_dict()["layout"]) == 4
    assert for_projector(grid, LARGE).layout.height == int(700 * LARGE.scale)
    single = go.Figure(go.Scatter(x=[0], y=[0]), layout={"height": 700})
    assert grid_rows(single.to_dict()["layout"]) == 1
    assert for_projector(single, LARGE).layout.height == LARGE.figure_height


def test_points_and_lines_grow_less_than_the_type() -> None:
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], marker={"size": [10, 20]}, line={"width": 2},
                               selected={"marker": {"size": 15}}))
    out = for_projector(fig, LARGE).data[0]
    assert 10 < out.marker.size[0] < 10 * LARGE.scale
    assert out.marker.size[1] == pytest.approx(2 * out.marker.size[0], abs=0.2)
    assert 2 < out.line.width < 2 * LARGE.scale
    assert out.selected.marker.size > 15


def test_a_note_under_the_plot_moves_down_with_the_grown_axis_labels() -> None:
    from ragviz.plots.light import note_below

    fig = note_below(go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), layout={"xaxis": {"title": {"text": "PC 1"}}}),
                     "No animation past 60 tasks", shift_px=52)
    out = for_projector(fig, LARGE)
    assert out.layout.annotations[0].yshift == pytest.approx(-52 * LARGE.scale, abs=1)
    assert out.layout.xaxis.title.font.size >= 13 * LARGE.scale - 1  # the title it must clear grew as much
