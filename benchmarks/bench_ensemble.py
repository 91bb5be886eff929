"""An ensemble of K models in one vectorised run against one model, and against K models one after another.

Workload: the rotated-moons ring sample (its model and training config, ``--steps`` steps,
full batch, ``--device``). Three runs, interleaved over ``--repeats`` and timed by median:

- one model: ``ragviz.training.train.train`` evaluating only at the start and the end (``eval_every = steps``);
- K models vectorised: ``ragviz.training.ensemble.train_ensemble`` (one forward, one step for all K);
- K models one after another: ``train`` K times with seeds seed … seed + K − 1.

Target: K = 5 vectorised takes at most 2× the time of one model. Prints a markdown table of wall
and CPU (process) time: on a shared machine the CPU time of a one-thread run is the steadier figure.

    python benchmarks/bench_ensemble.py                  # CPU, 1 thread, K = 5, 500 steps, 3 repeats
    python benchmarks/bench_ensemble.py --device cuda    # on a CUDA machine
    python benchmarks/bench_ensemble.py --setting xor-ring-15   # a generalisation-suite graph instead
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable

from common import add_quick, describe, median, quick, setup, sync, table, verdict
from workloads import ring_project

from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.ensemble import train_ensemble
from ragviz.training.train import train

TARGET = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--decoder", default=None, help="override the sample's decoder (default: the current default)")
    parser.add_argument("--setting", default=None,
                        help="a generalisation-suite setting (seed 101, default config) instead of the ring sample")
    add_quick(parser)
    args = quick(parser.parse_args(), k=2, steps=10, repeats=1)
    device = setup(args.threads, args.device)
    if args.setting:
        from generalisation import SETTINGS

        graph, source = SETTINGS[args.setting].build(101), f"generalisation setting {args.setting} (seed 101)"
        mc, tc = ModelConfig(), TrainConfig(seed=101)
    else:
        project, source = ring_project()
        graph, mc, tc = project.graph, project.model_config, project.train_config
    mc = dataclasses.replace(mc, decoder=args.decoder or ModelConfig().decoder)
    tc = dataclasses.replace(tc, steps=args.steps, eval_every=args.steps, device=args.device)

    def timed(work: Callable[[], object]) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        sync(device)
        return time.perf_counter() - wall, time.process_time() - cpu

    def one() -> tuple[float, float]:
        return timed(lambda: train(graph, mc, tc))

    def vectorised() -> tuple[float, float]:
        def work() -> None:
            if not train_ensemble(graph, mc, tc, k=args.k, seed=tc.seed).vectorised:
                raise SystemExit("the members did not run vectorised: the model has an op vmap cannot batch")
        return timed(work)

    def sequential() -> tuple[float, float]:
        return timed(lambda: [train(graph, mc, dataclasses.replace(tc, seed=tc.seed + i)) for i in range(args.k)])

    one(), vectorised()  # warm-up: first-call costs (imports, kernels, data caches)
    runs = {"one": one, "vectorised": vectorised, "sequential": sequential}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    load = os.getloadavg()[0]
    for _ in range(args.repeats):
        for name, run in runs.items():
            w, c = run()
            wall[name].append(w)
            cpu[name].append(c)
    labels = {"one": "one model (`train`)", "vectorised": f"K = {args.k} vectorised (`train_ensemble`)",
              "sequential": f"K = {args.k} one after another (`train` × {args.k})"}
    rows = [[labels[name], median(wall[name]), median(wall[name]) / median(wall["one"]), median(cpu[name]),
             median(cpu[name]) / median(cpu["one"])] for name in runs]
    print(f"Workload: {source} (decoder {mc.decoder}), {graph.number_of_tasks()} tasks, {args.steps} steps, "
          "full batch; "
          f"{args.repeats} interleaved repeats; 1-minute load average {load:.1f} → {os.getloadavg()[0]:.1f}.")
    print(describe(device))
    print()
    print(table(["run", "wall s (median)", "× one model", "CPU s (median)", "× one model"], rows))
    print()
    for what, times in (("wall", wall), ("CPU", cpu)):
        ratio = median(times["vectorised"]) / median(times["one"])
        print(f"{what}: K = {args.k} vectorised / one model = {ratio:.2f}× (target ≤ {TARGET:g}×: "
              f"{verdict(ratio <= TARGET)}); one after another / vectorised = "
              f"{median(times['sequential']) / median(times['vectorised']):.2f}×")


if __name__ == "__main__":
    main()
