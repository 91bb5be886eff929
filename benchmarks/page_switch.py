"""One measurement of page switches while a 1,000-task graph trains (run by ``bench_app.py switch``).

What a student does: open the app (the default sample and its trained model), generate a
1,000-task ring on the Task graph page (the Generate tab's defaults: rotated moons, 40 train and
100 test points, 2 zero-shot tasks), start training it, and, while it trains, switch from page
to page. Each switch is ``AppTest.switch_page`` + ``run`` in one session: the server's whole
script run (navigation, sidebar, the page) in the process that trains, so the training thread
competes with it for the CPU and the GIL as it does in ``streamlit run`` (or, for a tree that trains big
graphs in a child process, only for the CPU; ``RAGVIZ_TRAIN_PROCESS=never`` forces the thread). Every
page is visited twice: the first visit and a return to it.
Besides wall seconds it records the CPU seconds of the script's own thread (the work itself:
on a shared machine wall time also counts waiting for a core).

Runs the app of ``--tree`` (default: this checkout), so ``bench_app.py`` can time an older
tree side by side. Prints one JSON object: seconds per page and visit, steps trained meanwhile.

    python benchmarks/page_switch.py [--tree DIR] [--tasks 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

PAGES = ("task_graph", "train", "message_passing", "embeddings", "task_outputs", "checkpoints", "home")


def script_cpu_meter() -> list[float]:
    """CPU seconds of each script run's own thread, appended as runs end: the work a switch costs,
    whatever else the machine is doing (wall time on a shared machine also counts waiting)."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    spent: list[float] = []
    original = ScriptRunner._run_script

    def timed(self, rerun_data):  # noqa: ANN001, ANN202 - Streamlit's own signature
        start = time.thread_time()
        try:
            return original(self, rerun_data)
        finally:
            spent.append(time.thread_time() - start)

    ScriptRunner._run_script = timed
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--visits", type=int, default=2)
    parser.add_argument("--idle", action="store_true", help="no training: what the switches cost by themselves")
    parser.add_argument("--quick", action="store_true", help="30 tasks, one visit: a smoke run for the tests")
    args = parser.parse_args()
    if args.quick:  # (not common.quick: this script runs an older tree's app too, with no benchmarks/ beside it)
        args.tasks, args.visits = 30, 1
    tree = Path(args.tree).resolve()
    sys.path.insert(0, str(tree))  # this tree's ragviz, whatever else is on the path

    import torch
    from streamlit.testing.v1 import AppTest

    import ragviz
    from ragviz.graph.generators import generate_graph
    from ragviz.model.config import TrainConfig
    from ragviz.ui.state import STATE_KEY, set_graph, start_run

    assert Path(ragviz.__file__).resolve().is_relative_to(tree), ragviz.__file__
    cpu = script_cpu_meter()
    torch.set_num_threads(1)
    at = AppTest.from_file(str(tree / "app.py"), default_timeout=600)
    at.run()
    state = at.session_state[STATE_KEY]
    n = args.tasks
    zero = sorted({int((k + 0.5) * n / 2) for k in range(2)})  # the Generate tab's 2 zero-shot tasks, spread
    graph = generate_graph("ring", n, "moons", vary="rotate", start=0.0, stop=360.0, relation="near",
                           train_size=40, test_size=100, zero_shot=zero, seed=0)
    set_graph(state, graph)
    state.project.train_config = TrainConfig(steps=1_000_000)
    run = None if args.idle else start_run(state, None)
    deadline = time.monotonic() + 300
    while run and run.snapshot().history is None and time.monotonic() < deadline:  # first evaluation done
        time.sleep(0.2)
    first_step = run.snapshot().step if run else 0
    cpu.clear()
    started = time.perf_counter()
    seconds: dict[str, list[float]] = {page: [] for page in PAGES}
    cpu_seconds: dict[str, list[float]] = {page: [] for page in PAGES}
    errors: list[str] = []
    for _ in range(args.visits):
        for page in PAGES:
            at.switch_page(f"pages/{page}.py")
            start = time.perf_counter()
            at.run()
            seconds[page].append(time.perf_counter() - start)
            cpu_seconds[page].append(sum(cpu))
            cpu.clear()
            errors += [f"{page}: {str(e.value)[:100]}" for e in at.exception]
    steps, alive = 0, False
    if run is not None:
        snap = run.snapshot()
        steps, alive = snap.step - first_step, snap.status == "running"
        run.stop()
        run.join(30)
    rate = steps / (time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "steps": steps, "steps_per_s": rate,
                      "still_training": alive, "errors": errors, "tasks": n}))


if __name__ == "__main__":
    main()
