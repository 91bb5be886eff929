"""Replicas behind nginx on this machine: sessions per core, memory per session, recovery time.

Starts ``deploy/run_replicas.sh`` (loopback only), then runs a class at a given number of
concurrent sessions. By default (``--clients ws``) each session is a lightweight websocket
client that speaks Streamlit's protocol (``benchmarks/ws_session.py``, scenario in
``benchmarks/replica_load.py``): a browser per student would load the machine more than the
app does. ``--clients browser`` runs the replica test's scenario in headless Chromium instead:
each opens the sample's Train page, edits steps and seed, trains and reads its result back
(checked against the same training done here); one replica is killed while all train, and its
sessions reconnect to another. While that happens a probe tab on a surviving replica switches
pages and times every rerun (click to the page drawn in full). Prints a markdown table per
session count.

    python benchmarks/bench_replicas.py                       # 60 websocket sessions, 3 replicas
    python benchmarks/bench_replicas.py --sessions 12 24 60   # several loads, one cluster each
    timeout 3600 python benchmarks/bench_replicas.py --replicas 15 --sessions 60 120 240 --timeout 600  # 16 cores

Needs nginx (``apt-get install -y nginx``); the browser clients also need Playwright and Chromium.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

import test_replicas as scenario  # noqa: E402
from common import add_quick, quick  # noqa: E402
from replica_cluster import cookies_per_replica, replica_cluster  # noqa: E402

PROBE_PAGES = ("Task graph", "Train")
PROBE_MAX_RERUNS = 500


async def probe_reruns(browser, url: str, cookie: str, timings: list[float]) -> None:
    """Switch between two pages as fast as they come, timing each rerun (until cancelled)."""
    context, page = await scenario._open_train_page(browser, url, cookie)
    try:
        drawn = page.locator(f'{scenario.APP}[data-test-script-state="notRunning"]')
        for k in range(PROBE_MAX_RERUNS):
            title = PROBE_PAGES[k % 2]
            link = page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title)
            started = time.monotonic()
            await link.click(timeout=60_000)
            await page.wait_for_url(f"**/{title.lower().replace(' ', '_')}", timeout=60_000)
            await drawn.wait_for(state="attached", timeout=60_000)
            timings.append(time.monotonic() - started)
    finally:
        await context.close()


def run_once(sessions: int, replicas: int, budget_s: float, server_env: dict[str, str] | None = None
             ) -> dict[str, float]:
    per_replica = max(1, sessions // replicas)
    env = {"RAGVIZ_MODELS_DIR": str(Path(os.environ.get("TMPDIR", "/tmp")) / "ragviz-bench-models"),
           "RAGVIZ_HEARTBEAT_S": "60", "RAGVIZ_MAX_RUNS": str(2 * per_replica), "OMP_NUM_THREADS": "1",
           **(server_env or {})}
    figures: dict[str, float] = {"replicas": replicas}
    with replica_cluster(replicas, [f"--server.disconnectedSessionTTL={scenario.SESSION_TTL_S}"], env=env) as cluster:
        started = time.monotonic()
        asyncio.run(scenario._warm_up(cluster))
        figures["warm_up_s"] = round(time.monotonic() - started, 1)
        visits = scenario.plan_visits(cluster, per_replica, scenario.FIRST_SEED)
        victim = replicas - 1
        probe_cookie = cookies_per_replica(cluster, 1)[0][0]  # replica 0 is never killed
        wanted = scenario.wanted_results(visits, victim)
        expected = scenario.expected_results(wanted)
        timings: list[float] = []
        killed_at = asyncio.run(scenario.run_scenario(
            cluster, visits, victim, budget_s, figures,
            during=lambda browser: probe_reruns(browser, cluster.url, probe_cookie, timings)))
    moved = [v for v in visits if v.replica == victim]
    recovered = [v.recovered_at - killed_at for v in moved if v.recovered_at]
    correct = sum(v.result == expected[w] and not v.errors for v, w in zip(visits, wanted, strict=True))
    figures.update(
        sessions=len(visits), correct=correct, failed=len(visits) - correct,
        survivors_undisturbed=sum(v.clicked_at < killed_at < v.went_on_at < v.done_at and v.result == expected[w]
                                  for v, w in zip(visits, wanted, strict=True) if v.replica != victim),
        moved=len(moved), recover_median_s=round(statistics.median(recovered), 1) if recovered else float("nan"),
        recover_max_s=round(max(recovered), 1) if recovered else float("nan"),
        reruns=len(timings),
        rerun_median_s=round(statistics.median(timings), 2) if timings else float("nan"),
        rerun_p90_s=round(sorted(timings)[int(0.9 * (len(timings) - 1))], 2) if timings else float("nan"),
        cores=os.cpu_count() or 1, load_1min=round(os.getloadavg()[0], 1))
    errors = {v.seed: v.errors for v in visits if v.errors}
    if errors:
        print(f"<!-- sessions with errors: {errors} -->")
    return figures


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; ``--quick`` is the smallest class that still kills a replica (2 replicas, 2 sessions)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[60])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--timeout", "--budget", dest="budget", type=float, default=600.0,
                        help="seconds for one load's scenario (what is unfinished then counts as failed)")
    parser.add_argument("--clients", choices=("ws", "browser"), default="ws")
    parser.add_argument("--steps", type=int, default=100, help="training steps per session (websocket clients)")
    parser.add_argument("--ramp", type=float, default=30.0, help="seconds over which the sessions arrive")
    parser.add_argument("--think", type=float, default=5.0, help="seconds between a training student's clicks")
    parser.add_argument("--server-env", nargs="*", default=[], metavar="NAME=VALUE",
                        help="settings for every replica, e.g. RAGVIZ_WARM_CHILDREN=0 (runs in threads)")
    add_quick(parser)
    return quick(parser.parse_args(argv), sessions=[2], replicas=2, budget=60.0, steps=5, ramp=1.0, think=1.0)


def main() -> None:
    args = parse()
    server_env = dict(item.split("=", 1) for item in args.server_env)
    if server_env:
        print(f"<!-- replicas' settings: {server_env} -->")
    if args.clients == "ws":
        from replica_load import run_ws

        rows = [run_ws(n, args.replicas, args.budget, args.steps, args.ramp, args.think, scenario.expected_results,
                       server_env) for n in args.sessions]
    else:
        rows = [run_once(n, args.replicas, args.budget, server_env) for n in args.sessions]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("| " + " | ".join("---" for _ in keys) + " |")
    for row in rows:
        print("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")


if __name__ == "__main__":
    main()
