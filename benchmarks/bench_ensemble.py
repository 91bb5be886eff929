"""An ensemble of K models in one vectorised run against one model, and against K models one after another.

Workload: the rotated-moons ring sample (its model and training config, ``--steps`` steps,
full batch, ``--device``). Three runs, interleaved over ``--repeats`` and timed by median:

- one model: ``ragviz.train.train`` evaluating only at the start and the end (``eval_every = steps``);
- K models vectorised: ``ragviz.ensemble.train_ensemble`` (one forward, one step for all K);
- K models one after another: ``train`` K times with seeds seed … seed + K − 1.

Target: K = 5 vectorised takes at most 2× the time of one model. Prints a markdown table.

    python benchmarks/bench_ensemble.py                  # CPU, 1 thread, K = 5, 500 steps, 3 repeats
    python benchmarks/bench_ensemble.py --device cuda    # on a CUDA machine
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from common import describe, median, setup, sync, table, verdict
from workloads import ring_project

from ragviz.ensemble import train_ensemble
from ragviz.train import train

TARGET = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args()
    device = setup(args.threads, args.device)
    project, source = ring_project()
    mc = project.model_config
    tc = dataclasses.replace(project.train_config, steps=args.steps, eval_every=args.steps,
                             device=args.device)
    graph = project.graph

    def one() -> float:
        start = time.perf_counter()
        train(graph, mc, tc)
        sync(device)
        return time.perf_counter() - start

    def vectorised() -> float:
        start = time.perf_counter()
        ensemble = train_ensemble(graph, mc, tc, k=args.k, seed=tc.seed)
        sync(device)
        seconds = time.perf_counter() - start
        if not ensemble.vectorised:
            raise SystemExit("the members did not run vectorised: the model has an op vmap cannot batch")
        return seconds

    def sequential() -> float:
        start = time.perf_counter()
        for i in range(args.k):
            train(graph, mc, dataclasses.replace(tc, seed=tc.seed + i))
        sync(device)
        return time.perf_counter() - start

    one(), vectorised()  # warm-up: first-call costs (imports, kernels, data caches)
    times: dict[str, list[float]] = {"one": [], "vectorised": [], "sequential": []}
    for _ in range(args.repeats):
        times["one"].append(one())
        times["vectorised"].append(vectorised())
        times["sequential"].append(sequential())
    base = median(times["one"])
    rows = [
        ["one model (`train`)", median(times["one"]), 1.0],
        [f"K = {args.k} vectorised (`train_ensemble`)", median(times["vectorised"]),
         median(times["vectorised"]) / base],
        [f"K = {args.k} one after another (`train` × {args.k})", median(times["sequential"]),
         median(times["sequential"]) / base],
    ]
    print(f"Workload: {source}, {graph.number_of_tasks()} tasks, {args.steps} steps, full batch; "
          f"{args.repeats} interleaved repeats.")
    print(describe(device))
    print()
    print(table(["run", "median seconds", "× one model"], rows))
    ratio = median(times["vectorised"]) / base
    print()
    print(f"K = {args.k} vectorised / one model = {ratio:.2f}× (target ≤ {TARGET:g}×: {verdict(ratio <= TARGET)}); "
          f"one after another / vectorised = {median(times['sequential']) / median(times['vectorised']):.2f}×")


if __name__ == "__main__":
    main()
