"""Before/after: the same two workloads on an older ragviz tree and on this one, alternating.

Each measurement runs in a fresh subprocess with the chosen tree first on ``sys.path``; runs
alternate between the trees and the figures are medians of wall and CPU seconds. Export an
older tree without touching the repository, e.g.:

    mkdir -p /tmp/ragviz_old && git archive a1df62e ragviz | tar -x -C /tmp/ragviz_old
    python benchmarks/compare_trees.py /tmp/ragviz_old --repeats 3

``--after`` compares two exported trees instead of an old one with this one (the layout move:
its parent against the move commit, both exported). The child reads either layout, flat modules
or subpackages.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import ROOT, add_quick, median, quick, table

CHILD = r'''
import json, math, resource, sys, time
root, what, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, root)
import networkx as nx
import torch
torch.set_num_threads(threads)
try:  # the layout by job (ragviz/model, ragviz/graph, ...)
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.graph.task_graph import TaskGraph
    from ragviz.graph.tasks import Relation, Task
    from ragviz.training.train import train
except ImportError:  # a tree from before the layout move: flat modules
    from ragviz.config import ModelConfig, TrainConfig
    from ragviz.graph import TaskGraph
    from ragviz.tasks import Relation, Task
    from ragviz.train import train

def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime

if what == "ring":  # the ring sample's graph and settings, 1000 steps
    g = TaskGraph([Relation("near")])
    for k in range(12):
        g.add_task(Task(f"moons {30 * k}", "moons", {"rotate": 30.0 * k, "noise": 0.1}, 0 if k in (3, 8) else 40,
                        100, k))
    names = g.task_names()
    for k in range(12):
        g.add_edge(names[k], names[(k + 1) % 12], "near")
    train(g, ModelConfig(), TrainConfig(steps=20, device="cpu"))
    c, t = cpu(), time.perf_counter()
    train(g, ModelConfig(), TrainConfig(steps=1000, device="cpu"))
    print(json.dumps({"wall": time.perf_counter() - t, "cpu": cpu() - c}))
else:  # one training step on a ring lattice of n tasks, degree 10, 30 points each
    n = int(what)
    g = TaskGraph([Relation("near"), Relation("related", color="#d62728")])
    names = [f"t{k}" for k in range(n)]
    nxg = nx.MultiDiGraph()
    nxg.add_nodes_from((m, {"family": "moons", "params": {"rotate": 360.0 * k / n}, "train_size": 30,
                            "test_size": 10, "seed": k, "pos": [0.0, 0.0]}) for k, m in enumerate(names))
    nxg.add_edges_from((names[k], names[(k + o) % n], "near" if o <= 2 else "related", {"weight": 1.0})
                       for k in range(n) for o in range(1, 6))
    g.nx = nxg
    marks = []
    def callback(p):
        marks.append((time.perf_counter(), cpu()))
    train(g, ModelConfig(), TrainConfig(steps=7, eval_every=7, device="cpu"), callback=callback)
    walls = sorted(marks[i][0] - marks[i - 1][0] for i in range(2, 7))
    cpus = sorted(marks[i][1] - marks[i - 1][1] for i in range(2, 7))
    print(json.dumps({"wall": walls[2], "cpu": cpus[2],
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''


def measure(tree: str, what: str, threads: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, tree, what, str(threads)], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", nargs="?", help="folder holding the older ragviz package (--quick: this tree)")
    parser.add_argument("--after", help="folder holding the newer ragviz package (default: this tree)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workloads", nargs="*", default=["ring", "10000"],
                        help="'ring' (1000 steps of the ring sample) and/or a task count (one step)")
    add_quick(parser)
    args = parser.parse_args()
    args = quick(args, before=args.before or str(ROOT), repeats=1, workloads=["100"])
    if args.before is None:
        parser.error("the folder holding the older ragviz package is required")
    trees = {"before": str(Path(args.before).resolve()), "now": str(Path(args.after or ROOT).resolve())}
    rows = []
    for what in args.workloads:
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
        for _ in range(args.repeats):
            for name, tree in trees.items():
                runs[name].append(measure(tree, what, args.threads))
        label = "ring sample, 1000 steps" if what == "ring" else f"{int(what):,} tasks, one step"
        wall = {k: median([r["wall"] for r in v]) for k, v in runs.items()}
        cpu = {k: median([r["cpu"] for r in v]) for k, v in runs.items()}
        rows.append([label, f"{wall['before']:.3g} / {cpu['before']:.3g}", f"{wall['now']:.3g} / {cpu['now']:.3g}",
                     f"{wall['before'] / wall['now']:.2f}× / {cpu['before'] / cpu['now']:.2f}×"])
    print(f"## Before/after ({args.threads} torch thread(s), medians of {args.repeats}, alternating)\n")
    print(table(["workload", "before: wall / CPU s", "now: wall / CPU s", "speed-up wall / CPU"], rows))


if __name__ == "__main__":
    main()
