"""CUDA smoke check: train on the GPU, trace and reload on the CPU, compare with a CPU run.

Run on a machine with CUDA: ``python benchmarks/cuda_smoke.py``. Prints a small table. ``--quick``: 20 steps,
and the CUDA rows only where there is a device (a smoke run for the tests, which run on CPUs too).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ragviz.graph.task_graph import TaskGraph
from ragviz.graph.tasks import Relation, Task  # noqa: E402
from ragviz.inspection.trace import compute_trace  # noqa: E402
from ragviz.model.config import ModelConfig, TrainConfig  # noqa: E402
from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint  # noqa: E402
from ragviz.training.project import Project  # noqa: E402
from ragviz.training.train import device_label, train  # noqa: E402


def ring() -> TaskGraph:
    graph = TaskGraph([Relation("near")])
    for k in range(12):
        graph.add_task(Task(f"moons {30 * k}°", "moons", {"rotate": 30.0 * k, "noise": 0.1},
                            0 if k in (3, 8) else 40, 100, k))
    names = graph.task_names()
    for k in range(12):
        graph.add_edge(names[k], names[(k + 1) % 12], "near")
    return graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 steps; CUDA only if there is one")
    args = parser.parse_args()
    steps = 20 if args.quick else 500
    devices = ("cpu", "cuda") if torch.cuda.is_available() or not args.quick else ("cpu",)
    print("device:", device_label())
    graph = ring()
    rows = []
    for device in devices:
        for config in (ModelConfig(), ModelConfig(aggregation="attention", composition="rgcn"),
                       ModelConfig(aggregation="max", decoder="film")):
            start = time.perf_counter()
            result = train(graph, config, TrainConfig(steps=steps, eval_every=min(100, steps), device=device))
            took = time.perf_counter() - start
            summary = result.history.summary()
            ckpt = load_checkpoint(checkpoint_bytes(Project(graph, config), result.model, result.history))
            a = compute_trace(result.model, graph)
            b = compute_trace(ckpt.model, ckpt.project.graph)
            same = all(np.array_equal(a.outputs_test[k], b.outputs_test[k]) for k in a.task_names)
            rows.append((device, result.device, config.composition, config.aggregation, config.decoder,
                         f"{summary['seen']:.3f}", f"{summary['zero_shot']:.3f}", f"{took:.1f}s", same))
    print("| device | used | composition | aggregation | decoder | seen acc | zero-shot acc | time | reload exact |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    if "cuda" not in devices:
        return
    diverged = train(graph, ModelConfig(), TrainConfig(steps=100, lr=1e5, device="cuda"))
    finite = all(torch.isfinite(p).all() for p in diverged.model.parameters())
    print(f"divergence on cuda: status={diverged.status}, weights finite={finite}")


if __name__ == "__main__":
    main()
