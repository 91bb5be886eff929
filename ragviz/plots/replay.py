"""Replaying a finished run: its curves as they stood at one step, and its task embeddings at that step.

The x axis always spans the whole run and a grey line marks the step, so scrubbing moves
the curves' end along a fixed frame instead of rescaling the plot.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ragviz.inspection.projection import project_embeddings, snapshot_frames
from ragviz.plots.embeddings import embedding_figure
from ragviz.plots.training import curves_figure
from ragviz.training.history import History
from ragviz.training.watch import history_until

STEP_LINE = "#888888"


def replay_curves(history: History, step: int, kind: str = "metric", split: str = "test",
                  colors: dict[str, str] | None = None, title: str | None = None) -> go.Figure:
    """:func:`curves_figure` of the history up to ``step``, on the whole run's x range, the step marked."""
    fig = curves_figure(history_until(history, step), kind, split, colors, title=title)
    last = history.steps[-1] if history.steps else step
    fig.update_xaxes(range=[0, max(last, 1)])
    if history.steps and step < last:
        fig.add_vline(x=step, line={"color": STEP_LINE, "width": 1, "dash": "dot"})
    return fig


def snapshot_index(history: History, step: int) -> int | None:
    """The last embedding snapshot taken at or before ``step`` (None before the first, or with none)."""
    taken = [i for i, s in enumerate(history.snapshot_steps) if s <= step]
    return taken[-1] if taken and history.snapshots else None


def replay_embedding(history: History, step: int, colors: dict[str, str] | None = None,
                     height: int = 420) -> go.Figure | None:
    """The task embeddings t_v at the snapshot nearest before ``step``, on axes shared by every snapshot
    (PCA of all of them together), so scrubbing shows tasks moving, not axes; None without snapshots."""
    index = snapshot_index(history, step)
    if index is None:
        return None
    arrays, labels, _ = snapshot_frames(history)
    points = project_embeddings(arrays, "pca")
    zero = np.array([t in set(history.zero_shot) for t in history.tasks])
    fig = embedding_figure(points, list(history.tasks), colors or {}, zero, current=index,
                           frame_labels=[f"task embeddings at {label}" for label in labels],
                           trajectories=False, height=height)
    fig.frames = ()  # the page's slider scrubs; no second play button
    fig.layout.updatemenus = ()
    fig.update_layout(margin={"b": 8})
    return fig
