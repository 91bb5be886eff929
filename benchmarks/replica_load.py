"""The replica scenario with websocket clients (:mod:`ws_session`) instead of browsers.

Each session, through nginx with its own affinity cookie: opens Home, opens the default sample
(a click), goes to Train, submits the settings form with its own steps and seed (the edit) and
presses Start, then clicks between Task graph and Train every ``think_s`` seconds while it trains, and
reads the result (checked against the same training done here). Sessions arrive over a ramp,
as a class does. Once every session is training, one replica is killed: its sessions (they
trained a run too long to end first) see their socket close, reconnect through nginx to a
survivor, get the Train page back (a new session: the edits and the run of the lost one are
gone, as in a browser without the view in its URL), and train a short run there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from dataclasses import dataclass, field

from load_client import rss_mb
from replica_cluster import Cluster, cookies_per_replica, kill_replica, replica_cluster, served_by
from ws_session import WsSession

from ragviz.lessons.samples import DEFAULT_SAMPLE

LONG_STEPS = 1_000_000  # the killed replica's runs: still running at the kill
RETRAIN_STEPS = 40
SESSION_TTL_S = 30


@dataclass
class WsVisit:
    seed: int
    cookie: str
    replica: int
    steps: int
    stage: str = "waiting"
    result: tuple[str, str] = ("", "")
    started_at: float = 0.0
    training_at: float = 0.0
    done_at: float = 0.0
    recovered_at: float = 0.0
    clicks_lost: int = 0
    reruns: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _result(session: WsSession) -> tuple[str, str]:
    seen = next((v for k, v in session.view.metrics.items() if k.startswith("Test") and k.endswith(", seen")), "")
    return seen, session.view.metrics.get("Steps trained", "")


async def _train(session: WsSession, v: WsVisit, steps: int, timeout: float, think_s: float) -> None:
    """Train page, the form submitted with ``steps`` and the seed, then clicks until the result is read."""
    await session.open_page("train")
    await session.click(session.button_id("Start training"), steps=steps, seed=v.seed)
    if not session.running() and not any("Training finished" in a for a in session.view.alerts):
        v.clicks_lost += 1  # nothing started (seen right after a reconnect): the student clicks again
        await session.click(session.button_id("Start training"), steps=steps, seed=v.seed)
    v.training_at = v.training_at or time.monotonic()
    v.stage = "training"
    deadline = time.monotonic() + timeout
    page = 0
    while time.monotonic() < deadline:
        if any("Training finished" in a for a in session.view.alerts):
            v.result = _result(session)
            return
        with contextlib.suppress(TimeoutError):  # a lost replica is noticed at once, as a browser does
            await asyncio.wait_for(session.closed.wait(), think_s)
        if session.closed.is_set():
            raise ConnectionError("the server closed the session")
        page += 1  # a student clicks around while the run goes on, and comes back to Train
        await session.open_page("task_graph" if page % 2 else "train")
    raise TimeoutError(f"no result within {timeout:.0f} s")


async def _visit(v: WsVisit, cluster: Cluster, delay: float, killed: asyncio.Event, timeout: float,
                 think_s: float) -> None:
    await asyncio.sleep(delay)
    session = WsSession(cluster.url, v.cookie, timeout=timeout)
    try:
        v.started_at = time.monotonic()
        v.stage = "opening"
        await session.connect()
        await session.open_page("")
        await session.click(session.button_id("Open", f"sample:{DEFAULT_SAMPLE}"))
        try:
            await _train(session, v, v.steps, timeout, think_s)
        except (ConnectionError, TimeoutError, OSError):
            if not killed.is_set():
                raise
            v.stage = "reconnecting"
            await killed.wait()
            v.reruns += session.reruns
            await session.close()
            session = await _reconnect(cluster, v, timeout)
            v.stage = "training again"
            await _train(session, v, RETRAIN_STEPS, timeout, think_s)
        v.done_at = time.monotonic()
        v.errors += session.view.exceptions
        v.stage = "done"
    except Exception as err:  # noqa: BLE001 - counted and reported per session
        v.errors.append(f"{v.stage}: {type(err).__name__}: {err}"[:400])
    finally:
        v.reruns += session.reruns
        await session.close()


async def _reconnect(cluster: Cluster, v: WsVisit, timeout: float) -> WsSession:
    """A new socket with the same cookie until a survivor draws the Train page (what a browser retries)."""
    deadline = time.monotonic() + timeout
    while True:
        session = WsSession(cluster.url, v.cookie, timeout=timeout)
        try:
            await session.connect()
            await session.open_page("train")
            v.recovered_at = time.monotonic()
            return session
        except (TimeoutError, ConnectionError, OSError) as err:
            await session.close()
            if time.monotonic() > deadline:
                raise TimeoutError(f"no replica took the session back: {err}") from err
            await asyncio.sleep(0.5)


async def _scenario(cluster: Cluster, visits: list[WsVisit], victim: int, ramp_s: float, budget_s: float,
                    think_s: float, figures: dict) -> float:
    deadline = time.monotonic() + budget_s
    killed = asyncio.Event()
    rss_before = [rss_mb(pid) for pid in cluster.pids]
    per_session = min(300.0, budget_s)
    tasks = [asyncio.create_task(_visit(v, cluster, k * ramp_s / max(len(visits), 1), killed, per_session, think_s))
             for k, v in enumerate(visits)]
    killed_at = 0.0
    while time.monotonic() < deadline and not all(v.training_at or v.errors for v in visits):
        await asyncio.sleep(0.5)
    figures["all_training_s"] = round(time.monotonic() - (deadline - budget_s), 1)
    rss_now = [rss_mb(pid) for pid in cluster.pids]
    figures["rss_per_session_mb"] = round((sum(rss_now) - sum(rss_before)) / len(visits), 1)
    figures["rss_per_replica_mb"] = round(statistics.mean(rss_now), 1)
    await asyncio.sleep(3.0)  # every run under way for a moment
    killed.set()  # before the kill: its sessions see their sockets close while kill_replica still waits
    killed_at = await asyncio.to_thread(kill_replica, cluster, victim)
    _, pending = await asyncio.wait(tasks, timeout=max(1.0, deadline - time.monotonic()))
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(BaseException):
            await task
    for v in visits:
        if v.stage != "done" and not v.errors:
            v.errors.append(f"still {v.stage} after {budget_s:.0f} s")
    return killed_at


def run_ws(sessions: int, replicas: int, budget_s: float, steps: int, ramp_s: float, think_s: float,
           expected_results, server_env: dict[str, str] | None = None) -> dict[str, float | str]:
    """The scenario at ``sessions`` concurrent sessions on ``replicas`` replicas; its figures.
    ``server_env``: settings for the replicas on top of the scenario's (e.g. ``RAGVIZ_WARM_CHILDREN``)."""
    per_replica = max(1, sessions // replicas)
    victim = replicas - 1
    first_seed = 301
    wanted = [(first_seed + k, RETRAIN_STEPS if k // per_replica == victim else steps)
              for k in range(per_replica * replicas)]
    started = time.monotonic()
    expected = expected_results(wanted)  # before the cluster starts, so it does not compete
    figures: dict[str, float | str] = {"clients": "websocket", "replicas": replicas, "steps": steps,
                                       "ramp_s": ramp_s, "think_s": think_s,
                                       "expected_s": round(time.monotonic() - started, 1)}
    env = {"RAGVIZ_MODELS_DIR": str(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ragviz-bench-models")),
           "RAGVIZ_HEARTBEAT_S": "60", "RAGVIZ_MAX_RUNS": str(2 * per_replica), "OMP_NUM_THREADS": "1",
           **(server_env or {})}
    with replica_cluster(replicas, [f"--server.disconnectedSessionTTL={SESSION_TTL_S}"], env=env) as cluster:
        started = time.monotonic()
        asyncio.run(_warm_up(cluster))
        figures["warm_up_s"] = round(time.monotonic() - started, 1)
        buckets = cookies_per_replica(cluster, per_replica)
        visits = [WsVisit(seed, cookie, replica, LONG_STEPS if replica == victim else steps)
                  for (seed, _), (replica, cookie) in zip(
                      wanted, [(r, c) for r, cs in enumerate(buckets) for c in cs], strict=True)]
        killed_at = asyncio.run(_scenario(cluster, visits, victim, ramp_s, budget_s, think_s, figures))
        after = {v.seed: served_by(cluster, v.cookie) for v in visits if v.replica == victim}
    want = {v.seed: expected[v.seed, RETRAIN_STEPS if v.replica == victim else steps] for v in visits}
    moved = [v for v in visits if v.replica == victim]
    recovered = [v.recovered_at - killed_at for v in moved if v.recovered_at]
    reruns = sorted(t for v in visits for t in v.reruns)
    p90 = reruns[int(0.9 * (len(reruns) - 1))] if reruns else float("nan")
    cores = os.cpu_count() or 1
    figures.update(
        sessions=len(visits), correct=sum(v.result == want[v.seed] and not v.errors for v in visits),
        survivors_undisturbed=sum(v.result == want[v.seed] and not v.errors and not v.recovered_at
                                  for v in visits if v.replica != victim),
        moved=len(moved), moved_to_survivor=sum(after[v.seed] != victim for v in moved),
        clicks_lost=sum(v.clicks_lost for v in visits),
        recover_median_s=round(statistics.median(recovered), 1) if recovered else float("nan"),
        recover_max_s=round(max(recovered), 1) if recovered else float("nan"),
        reruns=len(reruns), rerun_median_s=round(statistics.median(reruns), 2) if reruns else float("nan"),
        rerun_p90_s=round(p90, 2), cores=cores,
        sessions_per_core=round(len(visits) / cores, 1) if p90 < 1.0 else f"<{len(visits) / cores:.1f} (p90 ≥ 1 s)",
        load_1min=round(os.getloadavg()[0], 1))
    errors = {v.seed: v.errors for v in visits if v.errors}
    if errors:
        print(f"<!-- sessions with errors: {dict(list(errors.items())[:8])} -->")
    wrong = {v.seed: (v.result, want[v.seed]) for v in visits if not v.errors and v.result != want[v.seed]}
    if wrong:
        print(f"<!-- results that differ from the same training done here: {wrong} -->")
    return figures


async def _warm_up(cluster: Cluster) -> None:
    """Each replica imports torch and loads the sample once before the clock starts."""
    async def one(url: str) -> None:
        session = WsSession(url, timeout=180)
        try:
            await session.connect()
            await session.open_page("train")
        finally:
            await session.close()

    await asyncio.gather(*(one(url) for url in cluster.replica_urls))
