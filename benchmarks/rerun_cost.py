"""Issue 20 item 6: the server CPU of a page rerun, one that changes nothing and one that changes the focus task.

For every page (``pages/*.py``), with a trained model open, on two workloads:

- ``ring``: the default sample (zero_shot_ring), as a new session opens it;
- ``N`` (e.g. ``1000``): a generated N-task ring of rotated moons, with a model trained a few steps on it.

Each page gets its own AppTest session (one first render, not timed); then reruns alternate between
one that changes nothing and one that moves the focus task (the page's focus selectbox where it has
one, else the session's ``focus`` the three "inside" pages share). The figure is the CPU seconds of the
script's own thread (``time.thread_time`` around Streamlit's ``_run_script``): the work the server
does for that rerun, whatever else the machine is doing. Medians over ``--reruns``.

Every measurement runs in a fresh subprocess with the chosen tree's ``ragviz`` and ``app.py``, so an
older tree, exported with ``git archive``, is measured by the same method side by side:

    mkdir -p /tmp/rerun_before && git archive main | tar -x -C /tmp/rerun_before
    python benchmarks/rerun_cost.py --before /tmp/rerun_before --repeats 2

``--profile PAGE`` prints cProfile's top functions of that page's reruns instead (this tree only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("home", "task_graph", "train", "message_passing", "embeddings", "task_outputs", "checkpoints")
#: The focus selectboxes' keys (``ragviz.ui.state.FOCUS_PICKERS``; spelled here too so an older tree runs).
FOCUS_WIDGETS = ("mp_focus", "em_focus")


# ------------------------------------------------------------------------------------- child
def _script_cpu_meter(profiler: Any = None) -> list[float]:
    """CPU seconds of each script run's own thread, appended as runs end (profiled when ``profiler`` is
    given and ``spent`` holds no ``None`` marker: cProfile sees only the thread it is enabled in)."""
    import time

    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    spent: list[float] = []
    original = ScriptRunner._run_script

    def timed(self, rerun_data):  # noqa: ANN001, ANN202 - Streamlit's own signature
        start = time.thread_time()
        on = profiler is not None and None not in spent
        if on:
            profiler.enable()
        try:
            return original(self, rerun_data)
        finally:
            if on:
                profiler.disable()
            spent.append(time.thread_time() - start)

    ScriptRunner._run_script = timed
    return spent


def _big_state(n: int, steps: int):  # noqa: ANN202 - the tree's AppState
    """A session with an n-task generated ring and a model trained ``steps`` steps on it."""
    from ragviz.graph.editing import EditHistory
    from ragviz.graph.generators import generate_graph
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.project import Project
    from ragviz.training.train import train
    from ragviz.ui.state import AppState, TrainedModel

    zero = sorted({int((k + 0.5) * n / 2) for k in range(2)})  # the Generate tab's 2 zero-shot tasks
    graph = generate_graph("ring", n, "moons", vary="rotate", start=0.0, stop=360.0, relation="near",
                           train_size=40, test_size=100, zero_shot=zero, seed=0)
    config = TrainConfig(steps=steps, eval_every=steps, device="cpu")
    result = train(graph, ModelConfig(), config)
    project = Project(graph, ModelConfig(), config, name=f"{n} tasks")

    def make() -> AppState:
        state = AppState(project=project.copy(), edits=EditHistory(project.graph))
        state.trained = TrainedModel(result.model, result.history, project.graph.copy(), "benchmark", "cpu")
        return state

    return make


def _focus_rerun(at, names: list[str], k: int) -> None:  # noqa: ANN001 - an AppTest
    """Move the focus task to ``names[k]``: through the page's selectbox if it has one, else in the state."""
    from ragviz.ui.state import STATE_KEY

    target = names[k % len(names)]  # a task not focused before: a kept figure cannot answer for it
    pickers = [s for s in at.selectbox if s.key in FOCUS_WIDGETS]
    if pickers:
        pickers[0].set_value(target)
    else:
        at.session_state[STATE_KEY].focus = target
    at.run()


def child(tree: Path, workload: str, pages: list[str], reruns: int, steps: int, profile: bool) -> dict:
    """Per page: median script CPU of a rerun that changes nothing and of one that moves the focus."""
    import pickle
    import statistics

    sys.path.insert(0, str(tree))
    import torch
    from streamlit.testing.v1 import AppTest

    import ragviz
    from ragviz.ui.state import STATE_KEY

    assert Path(ragviz.__file__).resolve().is_relative_to(tree), ragviz.__file__
    torch.set_num_threads(1)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    cpu = _script_cpu_meter(profiler)
    make = None if workload == "ring" else _big_state(int(workload), steps)
    out: dict[str, Any] = {}
    for page in pages:
        cpu.append(None)  # not profiled: the first renders
        at = AppTest.from_file(str(tree / "app.py"), default_timeout=600)
        if make is not None:
            at.session_state[STATE_KEY] = make()
        at.run()
        at.switch_page(f"pages/{page}.py")
        at.run()
        at.run()  # a widget drawn for the first time may ask for one more run; neither is timed
        errors = [str(e.value)[:120] for e in at.exception]
        tasks = at.session_state[STATE_KEY].project.graph.task_names()
        first = at.session_state[STATE_KEY].focus
        names = [n for n in tasks[::max(1, len(tasks) // (reruns + 2))] if n != first][:reruns + 1]
        same, focus = [], []
        for k in range(reruns):
            cpu.clear()
            at.run()
            same.append(sum(cpu))
            cpu.clear()
            _focus_rerun(at, names, k)
            focus.append(sum(cpu))
        errors += [str(e.value)[:120] for e in at.exception]
        kept = getattr(at.session_state[STATE_KEY], "figures", {})
        size = sum(len(pickle.dumps(entry[1])) for entry in kept.values()) / 1e6  # the kept values, not their keys
        out[page] = {"same": statistics.median(same), "focus": statistics.median(focus), "errors": errors,
                     "kept_mb": size}
    if profiler:
        import pstats

        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats("ragviz|pages|streamlit/elements|plotly.py|to_json", 40)
        stats.sort_stats("tottime").print_stats(25)
    return out


# -------------------------------------------------------------------------------------- main
def measure(tree: Path, workload: str, pages: list[str], reruns: int, steps: int, profile: bool = False) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tree)}
    cmd = [sys.executable, __file__, "--child", str(tree), "--workloads", workload, "--pages", *pages,
           "--reruns", str(reruns), "--steps", str(steps), *(["--profile-child"] if profile else [])]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None if profile else subprocess.PIPE, text=True,
                          env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tree} {workload}: {(done.stderr or '')[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median(values: list[float]) -> float:
    import statistics

    return float(statistics.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="an exported older tree (app.py, pages/, ragviz/) to measure beside this one")
    parser.add_argument("--after", default=str(ROOT), help="the tree measured as 'now' (default: this checkout)")
    parser.add_argument("--workloads", nargs="*", default=["ring", "1000"])
    parser.add_argument("--pages", nargs="*", default=list(PAGES))
    parser.add_argument("--reruns", type=int, default=3, help="reruns of each kind per page and measurement")
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes per tree, alternating")
    parser.add_argument("--steps", type=int, default=10, help="training steps for a generated graph's model")
    parser.add_argument("--profile", action="store_true", help="cProfile the reruns (this tree), print to stderr")
    parser.add_argument("--quick", action="store_true", help="ring, 2 pages, 1 rerun: a smoke run for the tests")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(Path(args.child).resolve(), args.workloads[0], args.pages, args.reruns, args.steps,
                       args.profile_child)
        print(json.dumps(result))
        return
    if args.quick:  # (not common.quick: the child runs an older tree too, with no benchmarks/ beside it)
        args.workloads, args.pages, args.reruns, args.repeats = ["ring"], ["home", "message_passing"], 1, 1
    trees = {"now": Path(args.after).resolve()}
    if args.before:
        trees = {"before": Path(args.before).resolve(), **trees}
    if args.profile:
        for workload in args.workloads:
            measure(trees["now"], workload, args.pages, args.reruns, args.steps, profile=True)
        return
    load = os.getloadavg()
    rows = []
    for workload in args.workloads:
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.repeats):
            for name, tree in trees.items():
                runs[name].append(measure(tree, workload, args.pages, args.reruns, args.steps))
        label = "ring sample" if workload == "ring" else f"{int(workload):,} tasks"
        for page in args.pages:
            row = [label, page]
            cells = {}
            for kind in ("same", "focus"):
                for name in trees:
                    cells[name, kind] = 1000 * _median([r[page][kind] for r in runs[name]])
            for kind in ("same", "focus"):
                row += [f"{cells[name, kind]:.0f}" for name in trees]
                if "before" in trees:
                    row.append(f"{cells['before', kind] / max(cells['now', kind], 1e-9):.2f}×")
            row.append(" / ".join(f"{_median([r[page]['kept_mb'] for r in runs[name]]):.1f}" for name in trees))
            errors = sorted({e for name in trees for r in runs[name] for e in r[page]["errors"]})
            rows.append([*row, "; ".join(errors)[:100]])
    heads = ["workload", "page"]
    for kind in ("no change", "focus change"):
        heads += [f"{kind}: {name} ms" for name in trees] + (["ratio"] if "before" in trees else [])
    heads += [f"figure cache MB ({' / '.join(trees)})", "errors"]
    print(f"## Server CPU per rerun (script thread, ms; medians of {args.reruns} reruns × {args.repeats} "
          f"process(es) per tree, alternating)\n")
    print(f"Load average before the runs: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores\n")
    print("| " + " | ".join(heads) + " |")
    print("| " + " | ".join("---" for _ in heads) + " |")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


if __name__ == "__main__":
    main()
