"""Figures for speech tasks: a clip's log-mel spectrogram beside the pooled vector the model reads, and
an utterance's pooled features beside others'.

Pure functions of arrays; titles are plain strings the caller passes (speaker ids, never user text).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ragviz.data.speech_features import HOP, N_MELS, N_SEGMENTS, SAMPLE_RATE
from ragviz.safety.safe_text import html_text


def spectrogram_figure(spec: np.ndarray, features: np.ndarray | None = None, title: str = "") -> go.Figure:
    """Left: log-mel energy over time (frames × bands). Right, when given: the pooled features
    (:data:`N_SEGMENTS` stretches × :data:`N_MELS` bands), what the shared encoder takes in."""
    spec = np.asarray(spec, dtype=np.float64)
    cols = 2 if features is not None else 1
    fig = make_subplots(rows=1, cols=cols, column_widths=[0.75, 0.25] if cols == 2 else [1.0],
                        subplot_titles=["log-mel spectrogram", "what the model reads"][:cols],
                        horizontal_spacing=0.08)
    times = np.arange(len(spec)) * HOP / SAMPLE_RATE * 1000
    fig.add_trace(go.Heatmap(z=spec.T, x=times, y=np.arange(spec.shape[1] if spec.ndim == 2 else 0),
                             colorscale="Magma", showscale=False,
                             hovertemplate="%{x:.0f} ms · band %{y}: %{z:.1f}<extra></extra>"), row=1, col=1)
    fig.update_xaxes(title_text="time (ms)", row=1, col=1)
    fig.update_yaxes(title_text="mel band (low → high)", row=1, col=1)
    if features is not None:
        grid = np.asarray(features, dtype=np.float64).reshape(N_SEGMENTS, N_MELS).T
        fig.add_trace(go.Heatmap(z=grid, x=[f"{k + 1}" for k in range(N_SEGMENTS)], colorscale="Magma",
                                 showscale=False, hovertemplate="part %{x} · band %{y}: %{z:.2f}<extra></extra>"),
                      row=1, col=2)
        fig.update_xaxes(title_text="part of the word", row=1, col=2)
    fig.update_layout(height=220, margin={"l": 10, "r": 10, "t": 40 if title else 30, "b": 10},
                      title={"text": title} if title else None)
    fig.update_annotations(font_size=12)
    return fig


def features_panels_figure(panels: list[tuple[str, np.ndarray]], height: int = 190) -> go.Figure:
    """Pooled features side by side (each :data:`N_MELS` bands × :data:`N_SEGMENTS` parts, one colour
    scale), so an utterance can be set beside the usual look of the word said and the word heard.
    Titles are shown as plain text."""
    grids = [np.asarray(f, dtype=np.float64).reshape(N_SEGMENTS, N_MELS).T for _, f in panels]
    top = max((float(np.abs(g).max()) for g in grids), default=1.0) or 1.0
    fig = make_subplots(rows=1, cols=max(len(panels), 1), horizontal_spacing=0.06,
                        subplot_titles=[html_text(t) for t, _ in panels] or [""])
    for k, grid in enumerate(grids):
        fig.add_trace(go.Heatmap(z=grid, x=[f"{p + 1}" for p in range(N_SEGMENTS)], zmin=-top, zmax=top,
                                 colorscale="Magma", showscale=False,
                                 hovertemplate="part %{x} · band %{y}: %{z:.2f}<extra></extra>"), row=1, col=k + 1)
        fig.update_xaxes(title_text="part of the word", title_font_size=10, row=1, col=k + 1)
        fig.update_yaxes(showticklabels=k == 0, title_text="mel band" if k == 0 else None, title_font_size=10,
                         row=1, col=k + 1)
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    fig.update_annotations(font_size=11)
    return fig
