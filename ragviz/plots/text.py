"""Figures and tables for text tasks: every task's answer to one sentence, examples, sentence vectors.

Pure functions of arrays and names; texts only ever reach Plotly as data (hover text and
axis labels are plain strings, never HTML templates built from user text).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ragviz.plots.colors import class_color

MAX_EXAMPLES = 8


def _plain(text: str, limit: int = 120) -> str:
    """User text for a Plotly label: escaped (Plotly renders a little HTML) and shortened."""
    text = " ".join(str(text).split())
    return html.escape(text if len(text) <= limit else text[:limit - 1] + "…")


def sentence_bars_figure(probabilities: Mapping[str, np.ndarray], classes: Mapping[str, Sequence[str]],
                         zero_shot: Sequence[str] = ()) -> go.Figure:
    """One row per task, its class probabilities as a stacked bar (★ marks zero-shot tasks)."""
    names = list(probabilities)
    fig = go.Figure()
    labels = [f"{_plain(n, 60)}{' ★' if n in set(zero_shot) else ''}" for n in names]
    width = max((len(p) for p in probabilities.values()), default=0)
    for k in range(width):
        values, texts = [], []
        for n in names:
            p = probabilities[n]
            names_k = list(classes.get(n, []))
            values.append(float(p[k]) if k < len(p) else 0.0)
            texts.append(_plain(names_k[k], 30) if k < len(names_k) else f"class {k}")
        fig.add_trace(go.Bar(
            y=labels, x=values, orientation="h", name=f"class {k}", marker_color=class_color(k),
            text=[f"{t} {v:.0%}" if v >= 0.12 else "" for t, v in zip(texts, values, strict=True)],
            textposition="inside", insidetextanchor="middle", customdata=texts,
            hovertemplate="%{y}<br>%{customdata}: %{x:.1%}<extra></extra>", showlegend=False,
        ))
    fig.update_layout(barmode="stack", height=max(180, 28 * len(names) + 60), margin=dict(l=10, r=10, t=30, b=30),
                      xaxis=dict(range=[0, 1], tickformat=".0%", title="probability"),
                      yaxis=dict(autorange="reversed"), title="Every task's answer")
    return fig


def examples_table(texts: Sequence[str], true: np.ndarray, classes: Sequence[str],
                   probabilities: np.ndarray | None = None, limit: int = MAX_EXAMPLES) -> pd.DataFrame:
    """A few texts with their true label (and the predicted one with its probability, when given)."""
    n = min(limit, len(texts))

    def name(k: int) -> str:
        return str(classes[k]) if 0 <= k < len(classes) else f"class {k}"

    rows: dict[str, list] = {"text": [str(t) for t in texts[:n]], "true": [name(int(k)) for k in true[:n]]}
    if probabilities is not None:
        pred = np.asarray(probabilities[:n]).argmax(axis=1) if n else np.zeros(0, dtype=int)
        rows["predicted"] = [name(int(k)) for k in pred]
        rows["P(predicted)"] = [float(probabilities[i, k]) for i, k in enumerate(pred)]
        rows["right"] = ["✓" if int(p) == int(t) else "✗" for p, t in zip(pred, true[:n], strict=True)]
    return pd.DataFrame(rows)


def sentence_pca_figure(x: np.ndarray, y: np.ndarray, classes: Sequence[str], texts: Sequence[str] | None = None,
                        title: str = "") -> go.Figure:
    """A task's sentence vectors in 2-D (PCA), coloured by label."""
    x = np.asarray(x, dtype=np.float64)
    fig = go.Figure()
    if len(x) >= 2:
        from ragviz.inspection.projection import pca_2d

        xy = pca_2d(x)[0]
    else:
        xy = np.zeros((len(x), 2))
    for k in np.unique(y).astype(int).tolist():
        mask = np.asarray(y) == k
        label = str(classes[k]) if 0 <= k < len(classes) else f"class {k}"
        hover = [_plain(t) for t, m in zip(texts, mask, strict=True) if m] if texts is not None else None
        fig.add_trace(go.Scatter(x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=_plain(label, 30),
                                 marker=dict(color=class_color(k), size=6, opacity=0.75),
                                 text=hover, hovertemplate="%{text}<extra></extra>" if hover else None))
    fig.update_layout(title=_plain(title, 80), height=380, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title="PC 1", yaxis_title="PC 2")
    return fig
