"""What training in a child process costs: start-up, the run's wall time, the child's memory.

For the default sample (12 tasks) and a generated 1,000-task ring, a ``TrainingRun`` with
``RAGVIZ_TRAIN_PROCESS=never`` (a thread of this process) and ``always`` (a child process),
alternating, ``--repeats`` each: seconds from Start to the first reported step, seconds to the
end, and the child's peak resident memory (``VmHWM`` from /proc, read while it runs). Prints a
markdown table of medians with the ratio process / thread.

    python benchmarks/bench_train_process.py [--repeats 3] [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from common import add_quick, quick  # noqa: E402


def peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def one_run(project, mode: str) -> dict[str, float]:
    from helpers import training_children

    from ragviz.training.runner import RunSlots, TrainingRun

    os.environ["RAGVIZ_TRAIN_PROCESS"] = mode
    started = time.perf_counter()
    run = TrainingRun(project, slots=RunSlots(4)).start()
    first, peak = 0.0, 0.0
    while not run.snapshot().done:
        if not first and run.snapshot().step > 0:
            first = time.perf_counter() - started
        for pid in training_children(os.getpid()):
            peak = max(peak, peak_mb(pid))
        time.sleep(0.02)
    run.join()
    assert run.snapshot().status == "finished", run.snapshot().message
    return {"first step s": first or time.perf_counter() - started, "run s": time.perf_counter() - started,
            "child peak MB": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--ring-tasks", type=int, default=1000, help="tasks of the big graph (a ring)")
    add_quick(parser)
    args = quick(parser.parse_args(), repeats=1, steps=8, ring_tasks=100)
    import torch

    from ragviz.graph.generators import generate_graph
    from ragviz.model.config import TrainConfig
    from ragviz.training.project import Project
    from ragviz.ui.state import _default_project

    torch.set_num_threads(1)  # as the app does
    sample = _default_project()[0]
    n = args.ring_tasks
    ring = generate_graph("ring", n, "moons", vary="rotate", start=0.0, stop=360.0, relation="near",
                          train_size=40, test_size=100, zero_shot=[n // 4, 3 * n // 4], seed=0)
    cases = {"sample (12 tasks)": Project(sample.graph, sample.model_config,
                                          TrainConfig(steps=args.steps, seed=1), sample.tables, name="sample"),
             f"{n:,}-task ring": Project(ring, sample.model_config, TrainConfig(steps=args.steps // 4, seed=1),
                                        name="ring")}
    print(f"Training in a thread against a child process; {args.repeats} runs each, alternating, medians; "
          f"load average {os.getloadavg()[0]:.1f}.\n")
    print("| graph | steps | first step: thread s | process s | run: thread s | process s | ratio | "
          "child peak MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, project in cases.items():
        results: dict[str, list[dict[str, float]]] = {"never": [], "always": []}
        for _ in range(args.repeats):
            for mode in results:
                results[mode].append(one_run(project, mode))
        m = {mode: {k: median(r[k] for r in rs) for k in rs[0]} for mode, rs in results.items()}
        print(f"| {name} | {project.train_config.steps} | {m['never']['first step s']:.2f} | "
              f"{m['always']['first step s']:.2f} | {m['never']['run s']:.2f} | {m['always']['run s']:.2f} | "
              f"{m['always']['run s'] / m['never']['run s']:.2f}× | {m['always']['child peak MB']:.0f} |")


if __name__ == "__main__":
    main()
