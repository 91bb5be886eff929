"""Training figures: per-task loss and metric curves, and model-vs-model bars.

Pure functions, data in and figure out. Zero-shot tasks are drawn dashed (curves) or
hatched (bars) so they stand apart from the tasks the model saw; colours come from
:func:`ragviz.plots.colors.task_colors`, so a task looks the same on every page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ragviz.safety.safe_text import html_text
from ragviz.storage.gallery import MetricSet
from ragviz.training.history import History

ZERO_SHOT_DASH = "dash"
SEEN_DASH = "solid"
ZERO_SHOT_PATTERN = "/"
MEAN_COLOR = "#222222"
FALLBACK_COLOR = "#636efa"
SET_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
HEIGHT = 340
#: Above this many tasks the curves are drawn as two bundles (seen, zero-shot), not one line each:
#: a thousand traces take seconds to build and to draw, and their legend is unreadable.
MAX_TASK_CURVES = 60
SEEN_BUNDLE_COLOR = "rgba(99, 110, 250, 0.3)"
ZERO_SHOT_BUNDLE_COLOR = "rgba(214, 39, 40, 0.55)"


def metric_title(metric: str, split: str = "test") -> str:
    return f"{split} accuracy" if metric == "accuracy" else f"{split} MSE"


def _layout(fig: go.Figure, title: str, y_title: str, height: int = HEIGHT) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 15}}, height=height, template="plotly_white",
        margin={"l": 55, "r": 10, "t": 40, "b": 40}, legend={"font": {"size": 11}, "tracegroupgap": 2},
        xaxis_title="step", yaxis_title=y_title, hovermode="closest",
    )
    return fig


def _series(history: History, kind: str, split: str) -> np.ndarray:
    """(evaluations, tasks) array of ``{split}_{kind}`` with NaN where a task has no points."""
    rows = getattr(history, f"{split}_{kind}")
    if not rows:
        return np.zeros((0, len(history.tasks)))
    return np.asarray(rows, dtype=float).reshape(len(rows), len(history.tasks))


def curves_figure(
    history: History | None,
    kind: str = "metric",
    split: str = "test",
    colors: dict[str, str] | None = None,
    title: str | None = None,
    show_mean: bool = True,
) -> go.Figure:
    """One line per task over training steps; zero-shot tasks dashed; bold mean of seen tasks.

    ``kind`` is "loss" or "metric", ``split`` "test" or "train". Tasks with no value on
    the split (zero-shot tasks on train) get no line. Past ``MAX_TASK_CURVES`` tasks the lines
    come in two bundles, seen and zero-shot, each with its mean (hover names the task).
    """
    fig = go.Figure()
    if kind not in ("loss", "metric") or split not in ("train", "test"):
        raise ValueError(f"Unknown curve {split} {kind}.")
    y_title = f"{split} loss" if kind == "loss" else metric_title(history.metric if history else "accuracy", split)
    if history is None or not history.steps:
        return _layout(fig, title or y_title, y_title)
    colors = colors or {}
    values = _series(history, kind, split)
    zero = set(history.zero_shot)
    if len(history.tasks) > MAX_TASK_CURVES:
        _bundled_curves(fig, history, values, zero, show_mean)
        if kind == "metric" and history.metric == "accuracy":
            fig.update_yaxes(range=[0, 1.02])
        return _layout(fig, title or y_title, y_title)
    for i, task in enumerate(history.tasks):
        column = values[:, i]
        if not np.isfinite(column).any():
            continue
        is_zero = task in zero
        fig.add_trace(go.Scatter(
            x=history.steps, y=column, mode="lines", name=html_text(f"{task} ★" if is_zero else task),
            legendgroup="zero-shot" if is_zero else "seen",
            line={"color": colors.get(task, FALLBACK_COLOR), "dash": ZERO_SHOT_DASH if is_zero else SEEN_DASH,
                  "width": 1.6},
            meta=[html_text(task)],  # user text goes through meta, never into the template itself
            hovertemplate="%{meta[0]}<br>step %{x}<br>%{y:.3g}<extra></extra>",
        ))
    seen_idx = [i for i, t in enumerate(history.tasks) if t not in zero and np.isfinite(values[:, i]).any()]
    if show_mean and len(seen_idx) > 1:
        with np.errstate(all="ignore"):
            mean = np.nanmean(values[:, seen_idx], axis=1)
        fig.add_trace(go.Scatter(x=history.steps, y=mean, mode="lines", name="mean (seen tasks)",
                                 legendgroup="mean", line={"color": MEAN_COLOR, "width": 3.2}))
    if kind == "metric" and history.metric == "accuracy":
        fig.update_yaxes(range=[0, 1.02])
    return _layout(fig, title or y_title, y_title)


def _bundle(history: History, values: np.ndarray, columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The lines of ``columns`` joined into one trace's x and y, a gap (NaN) between tasks.

    Single precision: the figure travels to the browser at every evaluation.
    """
    steps = np.asarray(history.steps, dtype=np.float32)
    k = len(steps)
    x = np.tile(np.append(steps, np.nan), len(columns)).astype(np.float32)
    y = np.full((len(columns), k + 1), np.nan, dtype=np.float32)
    y[:, :k] = values[:, columns].T
    return x, y.ravel()


def _last_points(history: History, values: np.ndarray, columns: list[int]) -> tuple[list, list, list[str]]:
    """Where each task's line ends (its last finite value), with the task's name for the hover."""
    xs, ys, names = [], [], []
    for i in columns:
        finite = np.flatnonzero(np.isfinite(values[:, i]))
        xs.append(history.steps[finite[-1]])
        ys.append(float(values[finite[-1], i]))
        names.append(html_text(history.tasks[i]))
    return xs, ys, names


def _bundled_curves(fig: go.Figure, history: History, values: np.ndarray, zero: set[str], show_mean: bool) -> None:
    """Seen tasks in one trace and zero-shot tasks in another (dashed), each group's mean in bold.

    Each line ends in a small dot whose hover names its task (a name on every point would make
    the figure megabytes).
    """
    drawn = [i for i in range(len(history.tasks)) if np.isfinite(values[:, i]).any()]
    groups = (("seen tasks", [i for i in drawn if history.tasks[i] not in zero], SEEN_BUNDLE_COLOR, SEEN_DASH,
               MEAN_COLOR),
              ("zero-shot tasks ★", [i for i in drawn if history.tasks[i] in zero], ZERO_SHOT_BUNDLE_COLOR,
               ZERO_SHOT_DASH, "#b2182b"))
    for label, columns, color, dash, mean_color in groups:
        if not columns:
            continue
        x, y = _bundle(history, values, columns)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"{label} ({len(columns):,})", legendgroup=label,
                                 line={"color": color, "dash": dash, "width": 1}, connectgaps=False,
                                 hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.3g}}<extra></extra>"))
        end_x, end_y, names = _last_points(history, values, columns)
        fig.add_trace(go.Scatter(x=end_x, y=end_y, text=names, mode="markers", legendgroup=label, showlegend=False,
                                 marker={"color": color, "size": 4},
                                 hovertemplate="%{text}<br>step %{x}<br>%{y:.3g}<extra></extra>"))
        if show_mean and len(columns) > 1:
            with np.errstate(all="ignore"):
                mean = np.nanmean(values[:, columns], axis=1)
            fig.add_trace(go.Scatter(x=history.steps, y=mean, mode="lines", name=f"mean ({label})",
                                     legendgroup=label, line={"color": mean_color, "width": 3.2, "dash": dash}))


def comparison_figure(sets: Sequence[MetricSet], title: str | None = None) -> go.Figure:
    """Grouped bars of each model's final test metric per task; zero-shot bars hatched and starred."""
    fig = go.Figure()
    tasks: list[str] = []
    for s in sets:
        tasks += [t for t in s.values if t not in tasks]
    zero = {t for s in sets for t in s.zero_shot}
    labels = [html_text(f"{t} ★" if t in zero else t) for t in tasks]
    for k, s in enumerate(sets):
        y = [s.values.get(t, float("nan")) for t in tasks]
        y = [None if v is None or not math.isfinite(v) else v for v in y]
        fig.add_trace(go.Bar(
            x=labels, y=y, name=html_text(s.label), offsetgroup=str(k), meta=[html_text(s.label)],
            marker={"color": SET_COLORS[k % len(SET_COLORS)],
                    "pattern": {"shape": [ZERO_SHOT_PATTERN if t in zero else "" for t in tasks]}},
            hovertemplate="%{meta[0]}<br>%{x}: %{y:.3g}<extra></extra>",
        ))
    metric = sets[0].metric if sets else "accuracy"
    y_title = metric_title(metric)
    _layout(fig, title or f"{y_title} per task (★ hatched: zero-shot)", y_title, height=400)
    fig.update_layout(barmode="group", margin={"t": 78},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "right", "x": 1})
    fig.update_xaxes(title=None, tickangle=-30 if len(tasks) > 6 else 0)
    if metric == "accuracy":
        fig.update_yaxes(range=[0, 1.02])
    return fig
