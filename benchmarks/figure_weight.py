"""How heavy each page's main figure is for the browser: traces, points, JSON bytes, build time.

A browser draws what the server sends: on a 1,000-task graph a figure of megabytes of Plotly
JSON (every message, a frame per layer, hover text per task and frame) keeps Chromium busy for
seconds after a page switch, whatever the server does. This builds, on a generated ring trained
briefly, the main figure of each page the way the page builds it, and prints a markdown table.

    python benchmarks/figure_weight.py                 # 1,000 tasks
    python benchmarks/figure_weight.py --tasks 12 200  # small graphs too
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go
from common import ROOT, add_quick, quick  # noqa: F401  (ROOT: puts the repository on sys.path)

from ragviz.graph.generators import generate_graph
from ragviz.inspection.projection import project_embeddings
from ragviz.inspection.trace import compute_trace
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.plots.colors import default_color_by, task_colors
from ragviz.plots.embeddings import embedding_colors, embedding_figure, hover_texts
from ragviz.plots.graph import graph_figure
from ragviz.plots.messages import message_figure
from ragviz.plots.outputs import outputs_figure
from ragviz.plots.training import curves_figure
from ragviz.training.train import train

OUTPUTS_PAGE_SIZE = 24  # the Task outputs page shows this many tasks at a time (ragviz/ui/output_widgets.py)


def _points(data: Any) -> int:
    """Coordinates in one trace (x, or z for heatmaps), counted as the browser must draw them."""
    for field in ("x", "z"):
        values = data.get(field) if isinstance(data, dict) else getattr(data, field, None)
        if values is not None:
            return int(np.asarray(values, dtype=object).size)
    return 0


def weigh(fig: go.Figure) -> tuple[int, int]:
    """Traces (the figure's and every frame's) and their points."""
    traces = list(fig.data) + [t for frame in fig.frames for t in frame.data]
    return len(traces), sum(_points(t) for t in traces)


def focus_of(trace: Any) -> str:
    """The pages' default focus: the first zero-shot task, else the first task."""
    zero = [n for n, z in zip(trace.task_names, trace.zero_shot, strict=True) if z]
    return zero[0] if zero else trace.task_names[0]


def figures(n_tasks: int, steps: int) -> dict[str, Callable[[], go.Figure]]:
    """Each page's main figure, built as the page builds it, for a trained ``n_tasks`` ring."""
    zero_shot = [n_tasks // 4, 3 * n_tasks // 4]
    graph = generate_graph("ring", n_tasks, "moons", vary="rotate", start=0.0, stop=360.0, relation="near",
                           train_size=40, test_size=100, zero_shot=zero_shot, seed=0)
    result = train(graph, ModelConfig(), TrainConfig(steps=steps, eval_every=max(1, steps // 4), device="cpu"))
    trace = compute_trace(result.model, graph)
    focus = focus_of(trace)
    colors = task_colors(graph)

    def embeddings() -> go.Figure:  # the Embeddings page's default: across layers, PCA, coloured by rotation
        points = project_embeddings(np.ascontiguousarray(trace.layers, dtype=np.float32), "pca", 0)
        labels = [f"h{k}" for k in range(trace.n_layers + 1)]
        zero = [bool(z) for z in trace.zero_shot]
        metric = np.asarray(trace.test_metric, dtype=float)
        cols, key = embedding_colors(trace.task_names, default_color_by(graph), graph, zero, metric, trace.metric)
        hover = [hover_texts(trace.task_names, graph, label, metric, trace.metric, zero) for label in labels]
        return embedding_figure(points, trace.task_names, cols, zero, len(labels) - 1, labels, hover, focus, True,
                                key, ("PC 1", "PC 2"))

    return {
        "Task graph": lambda: graph_figure(graph, color_by=default_color_by(graph)),
        "Message passing": lambda: message_figure(trace, graph, 1, focus, "norm"),
        "Embeddings": embeddings,
        "Task outputs (first page)": lambda: outputs_figure(trace, trace.task_names[:OUTPUTS_PAGE_SIZE]),
        "Train: test loss": lambda: curves_figure(result.history, "loss", "test", colors, title="test loss per task"),
        "Train: test metric": lambda: curves_figure(result.history, "metric", "test", colors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000])
    parser.add_argument("--steps", type=int, default=20, help="training steps before the figures are built")
    add_quick(parser)
    args = quick(parser.parse_args(), tasks=[30], steps=2)
    print("| tasks | figure | traces | points | JSON bytes | build s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in args.tasks:
        for name, build in figures(n, args.steps).items():
            start = time.perf_counter()
            fig = build()
            seconds = time.perf_counter() - start
            traces, points = weigh(fig)
            print(f"| {n} | {name} | {traces} | {points:,} | {len(fig.to_json()):,} | {seconds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
