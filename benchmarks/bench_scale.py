"""Item 2: time per training step and peak memory on generated task graphs of 100 to 100,000 tasks.

Each size runs in a fresh subprocess (so peak memory is that size's own): a ring lattice of
rotated-moons tasks with average degree 10 and 30 training points per task, the default
model, full batch. The child times building the graph (bulk networkx, and the validated
per-task API up to ``--api-max`` tasks), generating the data (cold, then cached), turning
graph and data into tensors, and ``ragviz.training.train.train`` step by step through its progress
callback: ``--warmup`` steps are dropped, the next ``--steps`` are timed, the last step
(which evaluates) is not counted. Peak memory: ``ru_maxrss`` on the CPU,
``torch.cuda.max_memory_allocated`` on CUDA. Prints a markdown table and the targets.

    python benchmarks/bench_scale.py                          # CPU, 2 threads, 100 .. 100,000 tasks
    python benchmarks/bench_scale.py --device cuda --sizes 1000 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import add_quick, describe, lift_budget, median, quick, setup, table, verdict

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(n: int, steps: int, warmup: int, device_name: str, threads: int, api_max: int) -> dict[str, Any]:
    """Measure one size in this (fresh) process."""
    lift_budget()  # 100,000 tasks and more are over a class server's default work budget, on purpose here
    device = setup(threads, device_name)
    import torch
    from workloads import scale_graph, timed

    from ragviz.data.domains import domain_spec, make_graph_data
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.model.rag import build_model
    from ragviz.model.tensors import make_vocab
    from ragviz.training.prepared import prepare
    from ragviz.training.train import train

    out: dict[str, Any] = {"tasks": n, "rss_start_mb": _rss_mb()}

    def measure(key: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        cpu = _cpu_s()
        value, out[key] = timed(fn, *args, **kwargs)
        out[key + "_cpu"] = _cpu_s() - cpu
        return value

    graph = measure("build_nx_s", scale_graph, n)
    out["edges"] = graph.number_of_edges()
    if n <= api_max:
        measure("build_api_s", scale_graph, n, direct=False)
    measure("data_cold_s", make_graph_data, graph)
    model = build_model(ModelConfig(), domain_spec(graph), make_vocab(graph))
    prep = measure("prepare_warm_s", prepare, graph, model)
    out["points"] = len(prep.train)
    del prep, model
    out["rss_before_train_mb"] = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    marks: list[tuple[int, float, float]] = []

    def callback(progress: Any) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        marks.append((progress.step, time.perf_counter(), _cpu_s()))

    total = warmup + steps + 1  # the last step also evaluates: not counted
    config = TrainConfig(steps=total, eval_every=total, device=device_name)
    result = measure("train_call_s", train, graph, ModelConfig(), config, callback=callback)
    if result.status != "finished":
        raise RuntimeError(result.message)
    by_step = {step: (wall, cpu) for step, wall, cpu in marks}
    walls = [by_step[s][0] - by_step[s - 1][0] for s in range(warmup + 1, warmup + steps + 1)]
    cpus = [by_step[s][1] - by_step[s - 1][1] for s in range(warmup + 1, warmup + steps + 1)]
    out["step_s"] = median(walls)
    out["step_s_all"] = walls
    out["step_cpu_s"] = median(cpus)
    out["peak_rss_mb"] = _rss_mb()
    if device.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    out["threads"] = torch.get_num_threads()
    out["load"] = os.getloadavg()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 10_000, 100_000])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per size (3 from 100,000 tasks)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: this machine's 2 cores)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--api-max", type=int, default=10_000, help="also time TaskGraph.add_task up to this size")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    add_quick(parser)
    args = parser.parse_args()
    if args.child is None:  # a child gets its sizes on the command line
        args = quick(args, sizes=[100], steps=1, warmup=0, threads=1, api_max=100)
    if args.child is not None:
        print(json.dumps(child(args.child, args.steps, args.warmup, args.device, args.threads, args.api_max)))
        return
    device = setup(args.threads, args.device)
    rows = []
    for n in args.sizes:
        steps = args.steps if n < 100_000 else min(args.steps, 3)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(n), "--steps", str(steps),
               "--warmup", str(args.warmup), "--threads", str(args.threads), "--device", args.device,
               "--api-max", str(args.api_max)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"size {n} failed")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {n} tasks: step {rows[-1]['step_s']:.3f} s", file=sys.stderr, flush=True)
    report(rows, device, args)


def report(rows: list[dict[str, Any]], device: Any, args: Any) -> None:
    cuda = device.type == "cuda"
    print(f"## Scale: one training step, {args.device}\n")
    print(f"Machine: {describe(device)}. Graph: ring lattice of rotated-moons tasks, average degree 10, "
          "30 training + 10 test points per task; default model (d=16, H=32, 2 layers, mult/mean, "
          f"generated decoder), full batch. Median of {args.steps} steps (3 from 100,000 tasks) after "
          f"{args.warmup} warm-up; each size in a fresh process.\n")
    headers = ["tasks", "edges", "train points", "step s (wall)", "step CPU s", "growth ×", "peak RSS MB",
               "RSS before training MB"] + (["peak CUDA MB"] if cuda else []) + ["load avg"]
    body, prev = [], None
    for r in rows:
        growth = f"{r['step_s'] / prev['step_s']:.1f}" if prev else "–"
        body.append([f"{r['tasks']:,}", f"{r['edges']:,}", f"{r['points']:,}", r["step_s"], r["step_cpu_s"], growth,
                     r["peak_rss_mb"], r["rss_before_train_mb"]] + ([r["peak_cuda_mb"]] if cuda else [])
                    + [f"{r['load']:.1f}"])
        prev = r
    print(table(headers, body))
    print("\nBuilding, seconds wall / CPU:\n")

    def both(r: dict[str, Any], key: str) -> str:
        return f"{r[key]:.3g} / {r[key + '_cpu']:.3g}" if key in r else "–"

    print(table(["tasks", "graph: bulk networkx", "graph: TaskGraph.add_task/add_edge", "data, cold",
                 "prepare (cached data → tensors)", f"whole train() call ({args.warmup + args.steps + 1} steps)"],
                [[f"{r['tasks']:,}", both(r, "build_nx_s"), both(r, "build_api_s"), both(r, "data_cold_s"),
                  both(r, "prepare_warm_s"), both(r, "train_call_s")] for r in rows]))
    by = {r["tasks"]: r for r in rows}
    targets = []
    if 10_000 in by and not cuda:
        targets.append(["step on 10,000 tasks ≤ 0.5 s (CPU)", f"{by[10_000]['step_s']:.2f} s",
                        verdict(by[10_000]["step_s"] <= 0.5)])
    if 100_000 in by:
        r = by[100_000]
        mem = r["peak_cuda_mb"] if cuda else r["peak_rss_mb"]
        targets.append(["step on 100,000 tasks ≤ 5 s", f"{r['step_s']:.2f} s", verdict(r["step_s"] <= 5)])
        targets.append(["peak memory on 100,000 tasks ≤ 8 GB", f"{mem / 1024:.2f} GB", verdict(mem <= 8 * 1024)])
    for a, b in zip(rows, rows[1:], strict=False):
        factor = b["tasks"] / a["tasks"]
        t = b["step_s"] / a["step_s"]
        key = "peak_cuda_mb" if cuda else "peak_rss_mb"
        m = b[key] / a[key]
        targets.append([f"{a['tasks']:,} → {b['tasks']:,} tasks ({factor:.0f}×): time, memory ≤ {1.2 * factor:.0f}×",
                        f"{t:.1f}×, {m:.1f}×", verdict(t <= 1.2 * factor and m <= 1.2 * factor)])
    print()
    print(table(["target", "figure", "status"], targets))


if __name__ == "__main__":
    main()
