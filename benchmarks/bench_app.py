"""Items 3 and 4: app latency and drawing large graphs.

- loading a checkpoint (``load_checkpoint`` of the ring sample), target ≤ 200 ms;
- a rerun of every page with that checkpoint open (Streamlit's ``AppTest``: one session per
  page, reruns interleaved across pages), target median ≤ 1 s;
- a counterfactual edit on a trained 100-task graph: copy + add (or remove) an edge, then
  ``compute_trace`` on the edited graph, as the Task outputs page's "What if…?" does;
  target ≤ 50 ms;
- ``streamlit run app.py`` until ``/_stcore/health`` answers and the page is served,
  target ≤ 10 s;
- ``ragviz.plots.graph.graph_figure`` on 1,000 tasks: build time and figure JSON size;
- a page switch while a 1,000-task graph trains (``benchmarks/page_switch.py``: every page, first
  visit and return, one session), target ≤ 1 s, timed side by side in alternating runs: an older
  tree (``--before``), this tree training in a thread, and this tree as it ships (a child process);
  ``--hogs N`` runs N busy processes beside, as other students' work on a class server.

Prints markdown tables.

    python benchmarks/bench_app.py
    python benchmarks/bench_app.py --skip server pages   # library figures only
    python benchmarks/bench_app.py --skip load pages whatif server drawing --switch-runs 3  # page switches
    python benchmarks/bench_app.py --skip load pages whatif server drawing --switch-variants thread process --hogs 2
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROOT, add_quick, describe, median, quick, setup, table, verdict
from workloads import SAMPLE_KEY, scale_graph

from ragviz.inspection.trace import compute_trace
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.storage.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ragviz.training.project import Project
from ragviz.training.train import train

APP = ROOT / "app.py"
#: The tree the page-switch figures are compared with: main before training stopped slowing page switches.
SWITCH_BEFORE = "09b3f5e"


def times(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def sample_checkpoint(workdir: Path) -> tuple[Path, str]:
    """The shipped ring sample, or (while it is not built yet) a ring trained and saved here."""
    path = ROOT / "sample_models" / f"{SAMPLE_KEY}.safetensors"
    if path.is_file():
        return path, f"sample_models/{SAMPLE_KEY}.safetensors"
    from ragviz.graph.generators import ring_of_moons

    project = Project(ring_of_moons(), ModelConfig(), TrainConfig(steps=300, device="cpu"), name="Ring of moons")
    result = train(project.graph, project.model_config, project.train_config)
    out = save_checkpoint(workdir / "ring.safetensors", project, result.model, result.history)
    return out, "ring_of_moons() trained 300 steps (sample file not built)"


# ------------------------------------------------------------------------------------ pages
def page_state(ckpt_path: Path) -> Any:
    from ragviz.graph.editing import EditHistory
    from ragviz.ui.state import AppState, adopt_checkpoint

    ckpt = load_checkpoint(ckpt_path)
    state = AppState(project=ckpt.project.copy(), edits=EditHistory(ckpt.project.graph))
    adopt_checkpoint(state, ckpt, "benchmark")
    return state


def bench_pages(ckpt_path: Path, repeats: int) -> list[list[Any]]:
    """First render and median rerun of each page, one AppTest session per page, interleaved."""
    from streamlit.testing.v1 import AppTest

    from ragviz.ui.state import STATE_KEY

    pages = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
    sessions: dict[str, Any] = {}
    first: dict[str, float] = {}
    problems: dict[str, str] = {}
    for page in pages:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.session_state[STATE_KEY] = page_state(ckpt_path)
        at.run()
        at.switch_page(f"pages/{page}")
        start = time.perf_counter()
        at.run()
        first[page] = time.perf_counter() - start
        errors = [str(e.value) for e in at.exception]
        if errors:
            problems[page] = errors[0][:80]
        sessions[page] = at
    reruns: dict[str, list[float]] = {p: [] for p in pages}
    for _ in range(repeats):
        for page in pages:
            start = time.perf_counter()
            sessions[page].run()
            reruns[page].append(time.perf_counter() - start)
    rows = []
    for page in pages:
        med = median(reruns[page])
        rows.append([page, first[page], med, max(reruns[page]), problems.get(page, "") or verdict(med <= 1.0)])
    return rows


# ---------------------------------------------------------------------------- counterfactual
MAIN = "edit + trace + the 24 grids (50×50) the page draws: the app's what-if"


def bench_counterfactual(repeats: int) -> tuple[list[list[Any]], str]:
    """A what-if on a trained 100-task graph: edit a copy, compute the trace (and its parts)."""
    from ragviz.inspection.counterfactual import with_edge, without_edge
    from ragviz.training.prepared import prepare

    graph = scale_graph(100, degree=4, train_size=30, test_size=100)
    for k in range(0, 100, 10):
        graph.update_task(f"t{k}", train_size=0)
    result = train(graph, ModelConfig(), TrainConfig(steps=100, device="cpu"))
    model = result.model
    names = graph.task_names()
    edits = [lambda: with_edge(graph, names[0], names[50], "near"),
             lambda: without_edge(graph, names[0], names[1], "near")]
    state = {"i": 0}

    from ragviz.ui.output_widgets import PAGE_SIZE

    def edit_and_trace(shown: int = PAGE_SIZE) -> None:
        """What the Task outputs page does: edit a copy, trace it, read the grids of the tasks it draws."""
        edited = edits[state["i"] % 2]()
        state["i"] += 1
        trace = compute_trace(model, edited)
        for name in trace.task_names[:shown]:
            trace.outputs_grid[name]

    parts: dict[str, Callable[[], Any]] = {
        MAIN: edit_and_trace,
        "edit + trace, no grid read (metrics table only)": lambda: edit_and_trace(0),
        "edit + trace + all 100 grids (what was computed eagerly before)": lambda: edit_and_trace(100),
        "edit only (graph copy + edge)": lambda: edits[0](),
        "prepare (data + tensors) only": lambda: prepare(edits[0](), model),
    }
    for fn in parts.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in parts}
    for _ in range(repeats):
        for name, fn in parts.items():
            samples[name] += times(fn, 1)
    rows = [[name, 1000 * median(v), 1000 * min(v)] for name, v in samples.items()]
    main = median(samples[MAIN])
    return rows, f"{1000 * main:.0f} ms: {verdict(main <= 0.05)}"


# ------------------------------------------------------------------------------------ server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_server(repeats: int, timeout: float = 60.0) -> list[float]:
    """Seconds from ``streamlit run app.py`` to a healthy server that serves the page."""
    out = []
    for _ in range(repeats):
        port = free_port()
        cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ready = None
            while time.perf_counter() - start < timeout:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                        if r.status == 200 and r.read().strip() == b"ok":
                            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                                if page.status == 200 and b"<html" in page.read().lower():
                                    ready = time.perf_counter() - start
                                    break
                except OSError:
                    pass
                time.sleep(0.05)
            out.append(ready if ready is not None else float("inf"))
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return out


# ----------------------------------------------------------------------------------- drawing
def bench_graph_figure(repeats: int) -> list[list[Any]]:
    from ragviz.plots.graph import graph_figure

    graph = scale_graph(1000)
    graph_figure(graph)
    build = times(lambda: graph_figure(graph), repeats)
    fig = graph_figure(graph)
    to_json = times(fig.to_json, repeats)
    size = len(fig.to_json().encode())
    kinds = sorted({type(t).__name__ for t in fig.data})
    return [[f"{graph.number_of_tasks():,} tasks, {graph.number_of_edges():,} edges", 1000 * median(build),
             1000 * median(to_json), f"{size / 1e6:.2f} MB", f"{len(fig.data)} ({', '.join(kinds)})"]]


# ----------------------------------------------------------------------- switch while training
def export_tree(rev: str, folder: Path) -> Path:
    """``rev`` of this repository, exported (no .git) under ``folder``."""
    out = folder / f"tree-{rev}"
    out.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def switch_once(tree: Path, env: dict[str, str] | None = None, hogs: int = 0) -> dict[str, Any]:
    """One ``page_switch.py`` run on ``tree``, in its own process (its own ragviz, its own training),
    with ``env`` added and ``hogs`` busy processes beside it (a class server's other work)."""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "page_switch.py"), "--tree", str(tree)]
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=tree,
                             env={**os.environ, **(env or {})}).stdout
    finally:
        for hog in busy:
            hog.kill()
            hog.wait()
    return json.loads(out.strip().splitlines()[-1])


#: What the page-switch figures compare, side by side on one machine: each name's tree and settings.
SWITCH_VARIANTS = ("before", "thread", "process")


def bench_switch(before: str, runs: int, hogs: int = 0,
                 variants: tuple[str, ...] = SWITCH_VARIANTS) -> tuple[list[list[Any]], list[list[Any]], str]:
    """Page switches during a 1,000-task training, ``runs`` each, alternating: ``before`` (an older
    tree), this tree training in a thread (``RAGVIZ_TRAIN_PROCESS=never``) and this tree as it ships
    (a 1,000-task run trains in a child process)."""
    from page_switch import PAGES

    with tempfile.TemporaryDirectory() as tmp:
        setups = {"before": (export_tree(before, Path(tmp)) if "before" in variants else None, {}),
                  "thread": (ROOT, {"RAGVIZ_TRAIN_PROCESS": "never"}),
                  "process": (ROOT, {"RAGVIZ_TRAIN_PROCESS": "auto"})}
        results: dict[str, list[dict[str, Any]]] = {k: [] for k in variants}
        for _ in range(runs):
            for name in variants:
                tree, env = setups[name]
                results[name].append(switch_once(tree, env, hogs))
    rows = []
    for page in PAGES:
        row: list[Any] = [page]
        for field in ("seconds", "cpu_seconds"):
            for visit in (0, 1):
                row += [median([r[field][page][visit] for r in results[k]]) for k in variants]
        rows.append(row)
    summary = []
    for k in variants:
        worst = max(median([r["seconds"][p][v] for r in results[k]]) for p in PAGES for v in (0, 1))
        summary.append([k, worst, median([r["steps_per_s"] for r in results[k]])])
    errors = sorted({e for k in results for r in results[k] for e in r["errors"]})
    note = "; ".join(errors) if errors else "no page raised"
    print("raw runs:", json.dumps(results), file=sys.stderr)
    return rows, summary, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1)")
    parser.add_argument("--skip", nargs="*", default=[],
                        help="parts to leave out: load pages whatif server switch drawing")
    parser.add_argument("--before", default=SWITCH_BEFORE, help="the git revision page switches are compared with")
    parser.add_argument("--switch-runs", type=int, default=3, help="page_switch.py runs per variant (alternating)")
    parser.add_argument("--switch-variants", nargs="+", default=list(SWITCH_VARIANTS), choices=SWITCH_VARIANTS,
                        help="what to compare; the last one is checked against the target")
    parser.add_argument("--hogs", type=int, default=0,
                        help="busy processes running beside each page-switch run (a loaded class server)")
    add_quick(parser)
    args = parser.parse_args()
    # quick: one repeat, and neither a server start nor page-switch runs (each starts Streamlit)
    args = quick(args, repeats=1, skip=sorted({*args.skip, "server", "switch"}))
    least = 1 if args.quick else 15  # repeats of the cheap parts
    device = setup(args.threads, "cpu")
    print("## App latency\n")
    print(f"Machine: {describe(device)}; {args.repeats} repeats, medians.\n")
    with tempfile.TemporaryDirectory() as tmp:
        ckpt_path, source = sample_checkpoint(Path(tmp))
        print(f"Checkpoint: {source} ({ckpt_path.stat().st_size / 1024:.0f} KiB).\n")
        targets = []
        if "load" not in args.skip:
            loads = times(lambda: load_checkpoint(ckpt_path), max(args.repeats, least))
            ckpt: Checkpoint = load_checkpoint(ckpt_path)
            targets.append(["load a checkpoint ≤ 200 ms", f"{1000 * median(loads):.0f} ms "
                            f"({ckpt.project.graph.number_of_tasks()} tasks)", verdict(median(loads) <= 0.2)])
        if "pages" not in args.skip:
            rows = bench_pages(ckpt_path, args.repeats)
            print(table(["page", "first render s", "median rerun s", "slowest rerun s", "rerun ≤ 1 s"], rows))
            print()
            worst = max(r[2] for r in rows)
            targets.append(["every page's median rerun ≤ 1 s", f"slowest page {worst:.2f} s", verdict(worst <= 1)])
        if "whatif" not in args.skip:
            rows, figure = bench_counterfactual(max(args.repeats, least))
            print(table(["counterfactual on 100 tasks", "median ms", "min ms"], rows))
            print()
            targets.append(["counterfactual edit on 100 tasks ≤ 50 ms", figure.split(":")[0],
                            figure.split(": ")[1]])
        if "server" not in args.skip:
            starts = bench_server(3)
            targets.append(["`streamlit run app.py` ready ≤ 10 s",
                            f"{median(starts):.1f} s (runs: {', '.join(f'{s:.1f}' for s in starts)})",
                            verdict(median(starts) <= 10)])
        if "switch" not in args.skip:
            variants = tuple(args.switch_variants)
            rows, summary, note = bench_switch(args.before, args.switch_runs, args.hogs, variants)
            meaning = {"before": f"before = `{args.before}` (a thread)",
                       "thread": "thread = this tree with RAGVIZ_TRAIN_PROCESS=never",
                       "process": "process = this tree as it ships (a child process)"}
            print(f"Page switches while a 1,000-task ring trains: {', '.join(meaning[k] for k in variants)}; "
                  f"{args.switch_runs} runs each, alternating, medians; {args.hogs} busy processes beside; "
                  f"{note}.\n")
            heads = [f"{what} {k} s" for what in ("first visit", "return", "script CPU first", "CPU return")
                     for k in variants]
            print(table(["page", *heads], rows))
            print()
            print(table(["variant", "slowest page s", "training steps/s meanwhile"], summary))
            print()
            shipped = summary[-1]
            targets.append(["a page switch during a 1,000-task training ≤ 1 s",
                            f"slowest page {shipped[1]:.2f} s ({shipped[0]}; "
                            + ", ".join(f"{k} {w:.2f} s" for k, w, _ in summary[:-1]) + ")",
                            verdict(shipped[1] <= 1)])
    print(table(["target", "figure", "status"], targets))
    if "drawing" not in args.skip:
        print("\n## Drawing a large graph\n")
        try:
            rows = bench_graph_figure(args.repeats)
        except ImportError as err:
            print(f"ragviz.plots.graph.graph_figure is not available: {err}")
        else:
            print(table(["graph", "graph_figure ms", "fig.to_json ms", "figure JSON", "traces"], rows))


if __name__ == "__main__":
    main()
