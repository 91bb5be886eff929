"""Training memory stays flat: a long run evaluating every step, watched for a bounded wall time.

The run the class server must survive: a 1,000-task ring of rotated moons, 6 layers, embedding
512, "evaluate every" 1, 1,000,000 steps, driven as the app drives it (a ``TrainingRun`` polled
once a second, as the Train page's live panel does). The run is stopped after ``--seconds``; the
process's resident memory (RSS) is printed every ``--every`` seconds with the step reached and
the evaluations and snapshots the live history holds. Not a timed test: it prints figures.

    python benchmarks/bench_memory.py                         # 90 s, the default evaluation cap
    python benchmarks/bench_memory.py --no-cap --seconds 90   # evaluate truly every step (no cap)

``--stop-latency`` instead times Stop on a 20,000-task ring (the default budget's most tasks, 100
test points each) pressed at several moments of the start-up: while its data is prepared and
during its first evaluation.

``--no-cap`` lifts the evaluation cap altogether, so every step is evaluated: what is left
bounded is the snapshots (thinned as they arrive) and the page's copy (shared, not deep).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from common import add_quick, describe, quick, setup, table


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
    parser.add_argument("--no-cap", action="store_true",
                        help="no cap on evaluations: evaluate every step as asked")
    parser.add_argument("--tree", default=None,
                        help="run an exported older ragviz/ tree's parent folder instead (before/after)")
    parser.add_argument("--stop-latency", action="store_true", help="time Stop during start-up instead")
    add_quick(parser)
    args = quick(parser.parse_args(), seconds=4.0, every=1.0, tasks=40)
    if args.tree:
        sys.path.insert(0, str(Path(args.tree).resolve()))
    device = setup(args.threads, "cpu")
    if args.stop_latency:
        print(describe(device))
        stop_latency()
        return
    if args.no_cap:
        import ragviz.training.history

        os.environ["RAGVIZ_MAX_EVALUATIONS"] = str(10**9)
        ragviz.training.history.HISTORY_VALUES = 10**15

    from ragviz.graph.generators import generate_graph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.project import Project
    from ragviz.training.runner import TrainingRun
    try:
        from ragviz.training.train import evaluation_every
    except ImportError:  # an older tree: no evaluation cap
        def evaluation_every(steps: int, every: int, n_tasks: int) -> tuple[int, str]:
            return every, "(no evaluation cap in this tree)"

    import ragviz

    print(f"ragviz from {Path(ragviz.__file__).parent}")
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


def stop_latency(tasks: int = 20_000, after: tuple[float, ...] = (0.5, 2.0, 5.0, 10.0)) -> None:
    """Seconds from Stop to the run having ended, Stop pressed ``after`` seconds into a run's start-up."""
    from ragviz.data.domains import clear_cache
    from ragviz.graph.generators import generate_graph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.project import Project
    from ragviz.training.runner import TrainingRun

    rows = []
    for k, wait in enumerate(after):
        clear_cache()
        graph = generate_graph("ring", tasks, zero_shot=[3], seed=100 + k)  # fresh seeds: data made anew
        run = TrainingRun(Project(graph, ModelConfig(), TrainConfig(steps=1_000, eval_every=1_000))).start()
        time.sleep(wait)
        snap = run.snapshot()
        phase = f"training, step {snap.step}" if snap.total else "starting: data, first evaluation"
        pressed = time.monotonic()
        run.stop()
        while not run.snapshot().done:
            time.sleep(0.01)
        rows.append((wait, phase, time.monotonic() - pressed, run.snapshot().status))
        run.join()
    print(f"Stop on a {tasks:,}-task ring (default model):")
    print(table(["Stop after s", "run was", "Stop → ended s", "status"], rows))


if __name__ == "__main__":
    main()
