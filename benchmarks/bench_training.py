"""Item 1: training speed on the rotated-moons ring sample against two reference implementations.

Times, side by side in one process with interleaved repeats, ``ragviz.training.train.train`` against
a per-task-loop reference (benchmarks/reference_loop.py) and PyTorch Geometric references
(benchmarks/reference_pyg.py), all on the same workload and settings (the sample's
model and training config, ``--steps`` steps, full batch, the same threads and device), and
the app's progress reporting (:class:`ragviz.training.runner.TrainingRun`'s callback and stop
flag, read by a page-like poller every 0.5 s) against none.
Prints markdown tables: medians, ratios, targets.

    python benchmarks/bench_training.py                 # CPU, 1 thread, 1000 steps, 3 repeats
    python benchmarks/bench_training.py --device cuda   # on a CUDA machine
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
from common import describe, median, setup, sync, table, verdict
from workloads import ring_project

from ragviz.data.domains import domain_spec
from ragviz.graph.task_graph import TaskGraph
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.model.rag import RAGModel, build_model
from ragviz.model.tensors import make_vocab
from ragviz.training.project import Project
from ragviz.training.runner import TrainingRun
from ragviz.training.train import train

Result = dict[str, float]


def fresh_model(graph: TaskGraph, config: ModelConfig, seed: int) -> RAGModel:
    return build_model(config, domain_spec(graph), make_vocab(graph), seed=seed)


def run_ragviz(graph: TaskGraph, mc: ModelConfig, tc: TrainConfig) -> Result:
    """ragviz as a script or the CLI calls it."""
    start, cpu = time.perf_counter(), time.thread_time()
    result = train(graph, mc, tc)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "cpu": time.thread_time() - cpu, **result.history.summary(), "steps": result.steps_done}


class Poller:
    """A page-like thread that takes the run's lock (``TrainingRun.snapshot``) every ``every`` seconds,
    as the Train page's fragment does (every 0.5 s; the sidebar's every 1 s)."""

    def __init__(self, run: TrainingRun, every: float = 0.5) -> None:
        self.run, self.every = run, every
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self.done.wait(self.every):
            self.run.snapshot()

    def __enter__(self) -> Poller:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def run_reporting(project: Project) -> Result:
    """train() with the app's progress reporting: TrainingRun's own callback (every step under its
    lock; a deep copy of the history at each evaluation) and stop flag, while a poller reads it."""
    run = TrainingRun(project)
    report = run._callback("model")
    inside = [0.0]

    def callback(progress: Any) -> None:  # the app's callback, timed from the inside
        begin = time.perf_counter()
        report(progress)
        inside[0] += time.perf_counter() - begin

    with Poller(run):
        start = time.perf_counter()
        result = train(project.graph, project.model_config, project.train_config,
                       callback=callback, stop=run._stop_flag())
        seconds = time.perf_counter() - start
    return {"seconds": seconds, **result.history.summary(), "steps": result.steps_done, "callback_s": inside[0]}


def run_app(project: Project) -> Result:
    """The whole app path: a TrainingRun worker thread (as above), started and joined, polled."""
    run = TrainingRun(project)
    with Poller(run):
        start = time.perf_counter()
        run.start()
        run.join()
        seconds = time.perf_counter() - start
    snap = run.snapshot()
    if snap.status != "finished" or run.result is None:
        raise RuntimeError(f"the app-style run ended with {snap.status}: {snap.message}")
    return {"seconds": seconds, **run.result.history.summary(), "steps": run.result.steps_done}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--skip", nargs="*", default=[],
                        help="variants to leave out: loop, pyg, rgcn, app (reporting), thread (TrainingRun thread), "
                             "old (the previous default, generated)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20 steps, one repeat (for the test suite)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = min(args.steps, 20), 1
    device = setup(args.threads, args.device)

    project, source = ring_project()
    graph = project.graph
    mc = ModelConfig()  # the default model, whatever the sample was trained with
    project.model_config = mc
    tc = dataclasses.replace(project.train_config, steps=args.steps, batch_size=0, device=args.device)
    rgcn = dataclasses.replace(mc, composition="rgcn")
    app_project = project.copy()
    app_project.train_config = tc

    import reference_loop

    checks = {"loop reference": reference_loop.check_same_loss(fresh_model(graph, mc, tc.seed), graph)}
    variants: dict[str, Callable[[], Result]] = {
        "ragviz": lambda: run_ragviz(graph, mc, tc),
        "ragviz, app progress reporting": lambda: run_reporting(app_project),
        "ragviz, in a TrainingRun thread": lambda: run_app(app_project),
        OLD: lambda: run_ragviz(graph, dataclasses.replace(mc, decoder="generated", unseen_state="learned"), tc),
        "loop reference": lambda: reference_loop.train_loop_reference(
            fresh_model(graph, mc, tc.seed), graph, tc.steps, tc.lr, tc.weight_decay, tc.eval_every, tc.seed, device),
    }
    if "pyg" not in args.skip or "rgcn" not in args.skip:
        try:
            import reference_pyg
        except ImportError:  # torch-geometric is in requirements-bench.txt, not the app's or the tests'
            print("torch-geometric is not installed (pip install -r requirements-bench.txt): PyG references skipped.")
            args.skip += ["pyg", "rgcn"]
    if "pyg" not in args.skip or "rgcn" not in args.skip:

        checks["PyG reference (MessagePassing)"] = reference_pyg.check_same_loss(fresh_model(graph, mc, tc.seed), graph)
        variants["PyG reference (MessagePassing)"] = lambda: reference_pyg.train_pyg_reference(
            fresh_model(graph, mc, tc.seed), graph, "compgcn", tc.steps, tc.lr, tc.weight_decay, tc.eval_every,
            tc.seed, device)
        variants["ragviz, composition rgcn"] = lambda: run_ragviz(graph, rgcn, tc)
        variants["PyG reference (RGCNConv)"] = lambda: reference_pyg.train_pyg_reference(
            fresh_model(graph, rgcn, tc.seed), graph, "rgcn", tc.steps, tc.lr, tc.weight_decay, tc.eval_every,
            tc.seed, device)
    skip = {"loop": "loop reference", "app": "ragviz, app progress reporting",
            "thread": "ragviz, in a TrainingRun thread", "pyg": "PyG reference (MessagePassing)",
            "rgcn": "PyG reference (RGCNConv)", "old": OLD}
    for key in args.skip:
        variants.pop(skip.get(key, key), None)
        if key == "rgcn":
            variants.pop("ragviz, composition rgcn", None)

    # Warm-up: every variant once on a few steps (allocator, lazy imports, first-call costs).
    short = dataclasses.replace(tc, steps=min(20, tc.steps))
    run_ragviz(graph, mc, short)
    results: dict[str, list[Result]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(args.repeats):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate, so drift hits every variant alike
        for name in order:
            sync(device)
            results[name].append(variants[name]())
            sync(device)
    print_report(args, device, source, graph, mc, tc, checks, results)


OLD = "ragviz, the previous default (generated decoder, unseen tasks start at u)"


def _med(results: dict[str, list[Result]], name: str, key: str = "seconds") -> float:
    return median([r[key] for r in results.get(name, [])])


def print_report(args: Any, device: torch.device, source: str, graph: TaskGraph, mc: ModelConfig, tc: TrainConfig,
                 checks: dict[str, float], results: dict[str, list[Result]]) -> None:
    base = _med(results, "ragviz")
    print(f"## Training speed: ring sample, {tc.steps} steps\n")
    print(f"Workload: {source}: {graph.number_of_tasks()} tasks, {graph.number_of_edges()} edges; "
          f"d={mc.embed_dim}, H={mc.hidden}, {mc.layers} layers, {mc.composition}/{mc.aggregation}, "
          f"{mc.decoder} decoder, task dropout {mc.task_dropout}; AdamW lr {tc.lr}, full batch, "
          f"evaluation every {tc.eval_every} steps; device {device.type}; {args.repeats} interleaved repeats.")
    print(f"Machine: {describe(device)}.")
    print("Loss at the shared initial weights, every third seen task dropped, |ragviz - reference|: "
          + ", ".join(f"{k} {v:.1e}" for k, v in checks.items()) + ".\n")
    rows = []
    for name, runs in results.items():
        secs = [r["seconds"] for r in runs]
        med = median(secs)
        reference = "ragviz, composition rgcn" if "rgcn" in name.lower() else "ragviz"
        ratio = med / _med(results, reference) if reference in results else float("nan")
        rows.append([name, med, min(secs), tc.steps / med, f"{ratio:.2f}×" if name != reference else "1 (base)",
                     f"{median([r['seen'] for r in runs]):.3f} / {median([r['zero_shot'] for r in runs]):.3f}"])
    print(table(["implementation", "median s", "min s", "steps/s", "time ÷ ragviz's (same composition)",
                 "test acc seen / zero-shot"], rows))
    print()
    targets = [["each reference gives ragviz's loss at shared weights (≤ 1e-5, unseen tasks included)",
                ", ".join(f"{v:.1e}" for v in checks.values()), verdict(all(v <= 1e-5 for v in checks.values()))]]
    if "loop reference" in results:
        speedup = _med(results, "loop reference") / base
        targets.append(["ragviz ≥ 3× faster than the loop reference", f"{speedup:.1f}×", verdict(speedup >= 3)])
    if "PyG reference (MessagePassing)" in results:
        speedup = _med(results, "PyG reference (MessagePassing)") / base
        targets.append(["ragviz at least as fast as PyG (MessagePassing)", f"{speedup:.2f}×", verdict(speedup >= 1)])
    if "PyG reference (RGCNConv)" in results:
        speedup = _med(results, "PyG reference (RGCNConv)") / _med(results, "ragviz, composition rgcn")
        targets.append(["ragviz (rgcn) at least as fast as PyG RGCNConv", f"{speedup:.2f}×", verdict(speedup >= 1)])
    if OLD in results:  # by the training thread's CPU time: on a shared machine wall time is mostly the neighbours'
        ratio = _med(results, "ragviz", "cpu") / _med(results, OLD, "cpu")
        paired = median([a["cpu"] / b["cpu"] for a, b in zip(results["ragviz"], results[OLD], strict=True)])
        targets.append(["the default costs ≤ 1.25× the previous default (generated) per step (CPU time)",
                        f"{ratio:.2f}× (paired {paired:.2f}×; wall {base / _med(results, OLD):.2f}×)",
                        verdict(ratio <= 1.25)])
    if "ragviz, app progress reporting" in results:
        on, off = _med(results, "ragviz, app progress reporting"), base
        cost = on / off - 1
        paired = median([a["seconds"] / b["seconds"] - 1 for a, b in
                         zip(results["ragviz, app progress reporting"], results["ragviz"], strict=True)])
        inside = median([r["callback_s"] / r["seconds"] for r in results["ragviz, app progress reporting"]])
        targets.append(["app progress reporting costs ≤ 10%",
                        f"{tc.steps / off:.0f} → {tc.steps / on:.0f} steps/s: {100 * cost:+.1f}% "
                        f"(paired {100 * paired:+.1f}%); time inside the callback {100 * inside:.1f}% of the run",
                        verdict(cost <= 0.10)])
    print(table(["target", "figure", "status"], targets))


if __name__ == "__main__":
    main()
