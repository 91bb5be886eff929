"""A class on one server: N browser tabs train the ring sample at once, R rounds, runs in threads or children.

Issue 20's scenario: 8 tabs, each training the default sample for 400 steps, 4 rounds, on one
``streamlit run app.py``. It runs twice in one invocation, side by side: ``thread`` (every run
trains in a thread of the server, ``RAGVIZ_WARM_CHILDREN=0``) and ``pool`` (the shipped default:
every run trains in a warm child process). Per mode it prints, over every run of every round:

* results lost (a tab that never showed "Training finished") and runs that stopped by themselves;
* each run's wall time, Start to result on screen, over the same run alone on the same server, and in seconds
  (on a machine shared with other work "alone" varies from run to run: compare the seconds too);
* the longest time a training tab went without a new step on screen (from the server's
  per-session timeline, ``ragviz/ui/timeline.py``: the live panel's draws);
* the server process's CPU share (its children excluded) while the class trained, and the CPU seconds
  its training children used meanwhile (training, and each new child's torch import).

    python benchmarks/class_tabs.py [--tabs 8] [--rounds 4] [--steps 400] [--modes thread pool]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, add_quick, median, quick, table

sys.path.insert(0, str(ROOT / "tests"))

from load_client import (  # noqa: E402
    LOCAL_ONLY_PROXY,
    TrainOutcome,
    cpu_seconds,
    launch,
    streamlit_server,
    train_session,
)

MODES = {"thread": "0", "pool": None}  # None: the shipped default of RAGVIZ_WARM_CHILDREN
TIMEOUT_MS = 600_000
_ = LOCAL_ONLY_PROXY  # launch() uses it: the browser reaches 127.0.0.1 only


async def one_round(browser, url: str, seeds: list[int], steps: int) -> list[TrainOutcome]:
    """Every tab opens and types, then all press Start together; each reads its own result."""
    ready: asyncio.Queue = asyncio.Queue()
    go = asyncio.Event()
    opening = asyncio.Semaphore(4)
    outcomes = [TrainOutcome(seed) for seed in seeds]
    tasks = [asyncio.create_task(train_session(o, browser, url, steps, ready, go, TIMEOUT_MS, opening))
             for o in outcomes]
    for _ in seeds:
        await ready.get()
    go.set()
    await asyncio.gather(*tasks)
    return outcomes


def progress_gaps(folder: Path) -> list[float]:
    """Per training session, the longest gap between two live-panel draws that showed a new step."""
    from ragviz.ui.timeline import read_timeline

    last: dict[str, tuple[float, int]] = {}
    gaps: dict[str, float] = {}
    for event in read_timeline(folder):
        if event["event"] != "live panel" or event.get("status") != "running":
            continue
        session, step, t = event["session"], event.get("step", 0), event["t"]
        if session in last and step != last[session][1]:
            gaps[session] = max(gaps.get(session, 0.0), t - last[session][0])
        if session not in last or step != last[session][1]:
            last[session] = (t, step)
    return list(gaps.values())


def children_cpu(pid: int) -> float:
    """CPU seconds the server's children have used (Linux /proc): those it has waited for, plus those alive
    (a reused training child lives on). Mostly the training and the children's torch imports, whatever else
    the machine runs."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(path: Path) -> list[str]:
        return path.read_text().rsplit(")", 1)[1].split()

    total = sum(int(v) for v in fields(Path(f"/proc/{pid}/stat"))[13:15])  # cutime, cstime
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            f = fields(stat)
            if int(f[1]) == pid:
                total += int(f[11]) + int(f[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return total / tick


async def measure(mode: str, tabs: int, rounds: int, steps: int) -> dict[str, float]:
    from playwright.async_api import async_playwright

    folder = Path(tempfile.mkdtemp(prefix="ragviz-class-"))
    env = {"RAGVIZ_TIMELINE_DIR": str(folder), "OMP_NUM_THREADS": "1"}
    if MODES[mode] is not None:
        env["RAGVIZ_WARM_CHILDREN"] = MODES[mode]
    with streamlit_server(["--server.disconnectedSessionTTL=5"], env=env, timeout=180) as server:
        async with async_playwright() as p:
            browser = await launch(p)
            try:
                alone = await one_round(browser, server.url, [1], steps)  # warms the server up too
                alone = await one_round(browser, server.url, [2], steps)
                alone_s = alone[0].done_at - alone[0].clicked_at
                cpu0, t0, kids0 = cpu_seconds(server.pid), time.monotonic(), children_cpu(server.pid)
                outcomes: list[TrainOutcome] = []
                for r in range(rounds):
                    outcomes += await one_round(browser, server.url, [100 + r * tabs + k for k in range(tabs)], steps)
                share = (cpu_seconds(server.pid) - cpu0) / (time.monotonic() - t0)
                kids = children_cpu(server.pid) - kids0
            finally:
                await browser.close()
    walls = [o.done_at - o.clicked_at for o in outcomes if o.stage == "done"]
    stopped = sum("Stopped" in o.status_text or "Left the queue" in o.status_text for o in outcomes)
    gaps = progress_gaps(folder)
    return {"runs": len(outcomes), "lost": sum(o.stage != "done" for o in outcomes), "stopped": stopped,
            "alone_s": alone_s, "median_ratio": median(walls) / alone_s if walls else float("nan"),
            "max_ratio": max(walls) / alone_s if walls else float("nan"),
            "median_wall_s": median(walls) if walls else float("nan"), "max_wall_s": max(walls, default=float("nan")),
            "max_gap_s": max(gaps) if gaps else float("nan"), "server_cpu": share, "children_cpu_s": kids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=["thread", "pool"])
    add_quick(parser)
    args = quick(parser.parse_args(), tabs=2, rounds=1, steps=60)
    rows = []
    for mode in args.modes:
        f = asyncio.run(measure(mode, args.tabs, args.rounds, args.steps))
        rows.append([mode, f["runs"], f["lost"], f["stopped"], f"{f['alone_s']:.1f}", f"{f['median_ratio']:.1f}×",
                     f"{f['max_ratio']:.1f}×", f"{f['median_wall_s']:.1f}", f"{f['max_wall_s']:.1f}",
                     f"{f['max_gap_s']:.1f}", f"{f['server_cpu']:.0%}", f"{f['children_cpu_s']:.0f}"])
    print(f"## {args.tabs} tabs × {args.rounds} rounds, {args.steps} steps of the default sample, one server\n")
    print(table(["training in", "runs", "results lost", "stopped by themselves", "alone (s)",
                 "run wall ÷ alone, median", "max", "run wall median (s)", "max (s)",
                 "longest gap between steps on screen (s)",
                 "server process CPU", "training children CPU (s)"], rows))


if __name__ == "__main__":
    main()
