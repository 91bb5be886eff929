"""Training memory stays flat: a long run evaluating every step, watched for a bounded wall time.

The run the class server must survive: a 1,000-task ring of rotated moons, 6 layers, embedding
512, "evaluate every" 1, 1,000,000 steps, driven as the app drives it (a ``TrainingRun`` polled
once a second, as the Train page's live panel does). The run is stopped after ``--seconds``; the
process's resident memory (RSS) is printed every ``--every`` seconds with the step reached and
the evaluations and snapshots the live history holds. Not a timed test: it prints figures.

    python benchmarks/bench_memory.py                         # 90 s, the default evaluation cap
    python benchmarks/bench_memory.py --max-evaluations 100000 --seconds 60   # no practical cap
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from common import describe, setup, table


def rss_mb() -> float:
    """Current resident memory of this process (Linux /proc), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="wall time before Stop (default 90)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples (default 10)")
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-evaluations", type=int, default=None,
                        help="set RAGVIZ_MAX_EVALUATIONS for this run (default: the server default, 500)")
    args = parser.parse_args()
    if args.max_evaluations is not None:
        os.environ["RAGVIZ_MAX_EVALUATIONS"] = str(args.max_evaluations)
    device = setup(args.threads, "cpu")

    from ragviz.config import ModelConfig, TrainConfig
    from ragviz.generators import generate_graph
    from ragviz.project import Project
    from ragviz.runner import TrainingRun
    from ragviz.train import evaluation_every

    graph = generate_graph("ring", args.tasks, zero_shot=[3, args.tasks // 2])
    model_config = ModelConfig(layers=6, embed_dim=512)
    train_config = TrainConfig(steps=1_000_000, eval_every=1, device="cpu")
    every, note = evaluation_every(train_config.steps, train_config.eval_every, graph.number_of_tasks())
    print(describe(device))
    print(f"{args.tasks:,}-task ring, {graph.number_of_edges():,} edges; layers 6, embedding 512; 1,000,000 steps, "
          f"evaluate every 1 → every {every:,}. {note}")
    rows = []
    start = time.monotonic()
    rows.append((0.0, 0, 0, 0, rss_mb()))
    run = TrainingRun(Project(graph, model_config, train_config, name="memory")).start()
    next_sample = args.every
    while time.monotonic() - start < args.seconds:
        snap = run.snapshot()  # the page's poll (also the run's heartbeat)
        if snap.done:
            break
        elapsed = time.monotonic() - start
        if elapsed >= next_sample:
            history = snap.history
            rows.append((elapsed, snap.step, len(history.steps) if history else 0,
                         len(history.snapshots) if history else 0, rss_mb()))
            next_sample += args.every
        time.sleep(1.0)
    run.stop()
    run.join(timeout=120)
    snap = run.snapshot()
    history = run.result.history if run.result is not None else None
    rows.append((time.monotonic() - start, snap.step, len(history.steps) if history else 0,
                 len(history.snapshots) if history else 0, rss_mb()))
    print(table(["wall s", "step", "evaluations", "snapshots", "RSS MB"], rows))
    after_first = [r[4] for r in rows[2:]] or [rows[-1][4]]
    print(f"RSS after the first sample: min {min(after_first):.0f} MB, max {max(after_first):.0f} MB "
          f"(spread {max(after_first) - min(after_first):.0f} MB); status {snap.status}: {snap.message}")


if __name__ == "__main__":
    main()
