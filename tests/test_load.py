"""Many users on one server: real browser sessions against ``streamlit run app.py``.

1. ``N_CONCURRENT`` (20) sessions open the Train page at once, each sets a small number of
   steps and its own seed, all press Start together, and each reads back its own result:
   the step count it asked for and the seen-task accuracy that ``ragviz.training.train.train`` gives
   for that seed in this process. Nobody gets another session's model.
2. ``N_SEQUENTIAL`` (100) short sessions one after another (open Train, press Start with
   0 steps and get the refusal message, close the tab) while the server's resident memory is
   sampled: after a warm-up it must level off.

One Chromium, localhost only (a dead proxy for everything else); every wait is bounded, and
each phase has its own time budget (``CONCURRENT_BUDGET_S``, ``SEQUENTIAL_BUDGET_S``, about
2.2–2.5 times what an idle 2-core machine needs), and all 100 sequential sessions must fit in it. Figures are
printed (``pytest -s`` shows them) and kept in ``LOAD_FIGURES``. The server keeps a closed session for
``server.disconnectedSessionTTL`` seconds (Streamlit's default is 120); the test sets 5 so
that 100 sessions fit in a few minutes, as a class server should (see ragviz/safety/limits.py).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import pytest
from load_client import (
    CHROMIUM,
    TrainOutcome,
    cpu_seconds,
    launch,
    rss_mb,
    short_session,
    start_long_run_and_close,
    streamlit_server,
    train_session,
)

from tests.helpers import missing_tool, training_children

pytestmark = [pytest.mark.slow, pytest.mark.browser]

N_CONCURRENT = int(os.environ.get("RAGVIZ_LOAD_SESSIONS", "20"))
N_SEQUENTIAL = int(os.environ.get("RAGVIZ_LOAD_SEQUENTIAL", "100"))
STEPS = 20
FIRST_SEED = 101
CONCURRENT_BUDGET_S = 360.0  # opening 20 pages, then training: 145 s on an idle 2-core machine
SEQUENTIAL_BUDGET_S = 1200.0  # 540 s (5.4 s a session) on an idle 2-core machine
WARM_UP = 10  # sequential sessions before memory is compared
WINDOW = 30  # sessions averaged at the start and at the end
MIN_SEQUENTIAL = N_SEQUENTIAL
MAX_GROWTH_MB = 40.0  # last WINDOW sessions over the first WINDOW after warm-up
SESSION_TTL_S = 5
OPENING_AT_ONCE = 4  # pages loading at the same time while the sessions get ready
LOAD_FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A running server that has already served one training (a server in use, not a cold one).

    The very first training in a process pays one-off imports (torch's optimizer pulls in
    torch._dynamo: seconds of CPU); one warm-up session takes that, as the first student would.
    """
    pytest.importorskip("playwright")
    if not os.path.exists(CHROMIUM):
        missing_tool(f"no Chromium at {CHROMIUM}")
    # Every session's run trains at once, as the figures above were measured (the server's default
    # cap, RAGVIZ_MAX_RUNS=4, would queue 16 of them: the queue has its own tests).
    env = {"RAGVIZ_MODELS_DIR": str(tmp_path_factory.mktemp("models")), "RAGVIZ_HEARTBEAT_S": "60",
           "RAGVIZ_MAX_RUNS": str(N_CONCURRENT)}
    with streamlit_server([f"--server.disconnectedSessionTTL={SESSION_TTL_S}"], env=env) as srv:
        started = time.monotonic()
        asyncio.run(_warm_up(srv.url))
        LOAD_FIGURES["warm_up_s"] = round(time.monotonic() - started, 1)
        yield srv


async def _warm_up(url: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p)
        try:
            context = await browser.new_context()
            await short_session(context, url, 180_000, train_steps=1)
        finally:
            await browser.close()


def expected_results(seeds: list[int]) -> dict[int, tuple[str, str]]:
    """What the Train page must show for each seed: the default project trained here, formatted alike."""
    import torch

    from ragviz.model.config import TrainConfig
    from ragviz.training.train import train
    from ragviz.ui.state import _default_project

    torch.set_num_threads(1)  # as app.py does, so runs are bit-identical
    project = _default_project()[0]
    out = {}
    for seed in seeds:
        config = TrainConfig(**{**project.train_config.to_dict(), "steps": STEPS, "seed": seed})
        result = train(project.graph, project.model_config, config, project.tables)
        out[seed] = (f"{result.history.summary()['seen']:.1%}", f"{result.history.steps[-1]:,}")
    return out


async def _concurrent(url: str, seeds: list[int], timeout_ms: float) -> list[TrainOutcome]:
    """All sessions open and fill in the form (a few pages loading at a time), then all press Start.

    Returns every session's outcome; one still unfinished at the deadline says where it was.
    """
    from playwright.async_api import async_playwright

    deadline = time.monotonic() + CONCURRENT_BUDGET_S
    outcomes = [TrainOutcome(seed) for seed in seeds]
    async with async_playwright() as p:
        browser = await launch(p)
        try:
            ready: asyncio.Queue = asyncio.Queue()
            go = asyncio.Event()
            opening = asyncio.Semaphore(OPENING_AT_ONCE)
            tasks = [asyncio.create_task(train_session(o, browser, url, STEPS, ready, go, timeout_ms, opening))
                     for o in outcomes]
            for _ in seeds:  # everyone has the page open with its settings typed in (or has failed)
                await asyncio.wait_for(ready.get(), max(1.0, deadline - time.monotonic()))
            LOAD_FIGURES["concurrent_open_s"] = round(CONCURRENT_BUDGET_S - (deadline - time.monotonic()), 1)
            go.set()
            _, pending = await asyncio.wait(tasks, timeout=max(1.0, deadline - time.monotonic()))
            for task in pending:
                task.cancel()
            for o in outcomes:
                if o.stage != "done" and not o.errors:
                    o.errors.append(f"still {o.stage} after {CONCURRENT_BUDGET_S:.0f} s")
            return outcomes
        finally:
            await browser.close()


def test_concurrent_sessions_each_train_and_get_their_own_result(server) -> None:
    seeds = list(range(FIRST_SEED, FIRST_SEED + N_CONCURRENT))
    expected = expected_results(seeds)
    assert len(set(expected.values())) > 1, "seeds should give different results, or the check proves nothing"
    started = time.monotonic()
    cpu_before = cpu_seconds(server.pid)
    outcomes = asyncio.run(_concurrent(server.url, seeds, 150_000))
    wall = time.monotonic() - started
    failed = {o.seed: o.errors for o in outcomes if o.errors}
    assert not failed, f"sessions failed: {failed}\nfigures: {LOAD_FIGURES}\nserver log:\n{server.log_tail(1500)}"
    for o in outcomes:
        assert (o.seen_accuracy, o.steps_trained) == expected[o.seed], f"seed {o.seed} got another result"
        assert f"Trained {STEPS} steps" in o.status_text
    # All sessions were training at the same moment: the last Start came before the first result.
    overlap = sum(1 for o in outcomes if o.clicked_at <= min(x.done_at for x in outcomes))
    trained_in = max(o.done_at for o in outcomes) - min(o.clicked_at for o in outcomes)
    LOAD_FIGURES.update(concurrent_sessions=len(outcomes), concurrent_wall_s=round(wall, 1),
                        concurrent_training_s=round(trained_in, 1),
                        concurrent_server_cpu_s=round(cpu_seconds(server.pid) - cpu_before, 1),
                        concurrent_overlap=overlap, distinct_results=len({o.seen_accuracy for o in outcomes}),
                        rss_after_concurrent_mb=round(rss_mb(server.pid), 1))
    print(f"\nload: {len(outcomes)} concurrent sessions opened and trained in {wall:.1f} s (Start to last "
          f"result {trained_in:.1f} s), {overlap} training at once; "
          f"{LOAD_FIGURES['distinct_results']} distinct accuracies")
    assert overlap == N_CONCURRENT


async def _sequential(url: str, count: int, pid: int, timeout_ms: float) -> tuple[list[float], int]:
    from playwright.async_api import async_playwright

    samples: list[float] = []
    deadline = time.monotonic() + SEQUENTIAL_BUDGET_S
    async with async_playwright() as p:
        browser = await launch(p)
        try:
            context = await browser.new_context(viewport={"width": 1200, "height": 900})
            for _ in range(count):
                if time.monotonic() > deadline:
                    break
                await short_session(context, url, timeout_ms)
                samples.append(rss_mb(pid))
        finally:
            await browser.close()
    return samples, count


def test_memory_levels_off_over_many_sessions(server) -> None:
    """Open Train, submit refused settings, close the tab: 100 times. Memory after warm-up must stay flat.

    Bounded by ``SEQUENTIAL_BUDGET_S``: sessions that do not fit in it fail the test.
    """
    started = time.monotonic()
    baseline = rss_mb(server.pid)
    samples, _ = asyncio.run(_sequential(server.url, N_SEQUENTIAL, server.pid, 60_000))
    wall = time.monotonic() - started
    assert len(samples) >= MIN_SEQUENTIAL, f"only {len(samples)} sessions fitted in the time budget"
    window = min(WINDOW, (len(samples) - WARM_UP) // 3)
    first = statistics.median(samples[WARM_UP:WARM_UP + window])
    last = statistics.median(samples[-window:])
    LOAD_FIGURES.update(sequential_sessions=len(samples), sequential_wall_s=round(wall, 1),
                        rss_baseline_mb=round(baseline, 1), rss_first_window_mb=round(first, 1),
                        rss_last_window_mb=round(last, 1), rss_growth_mb=round(last - first, 1),
                        rss_peak_mb=round(max(samples), 1))
    print(f"\nload: {len(samples)} sequential sessions in {wall:.1f} s; RSS {baseline:.0f} MB at start, median "
          f"{first:.0f} MB after warm-up, {last:.0f} MB over the last {window} (growth {last - first:+.1f} MB)")
    assert last - first < MAX_GROWTH_MB, f"server memory kept growing: {[round(s) for s in samples]}"


def test_closing_a_tab_stops_its_training(server) -> None:
    """End to end: a closed tab's run stops once its session is dropped, well before the heartbeat.

    Streamlit keeps a closed session ``disconnectedSessionTTL`` seconds and evicts it at the
    next session event after that (another tab closing); the dropped AppState's finalizer
    then stops the run. The heartbeat (60 s here, 90 s by default) is the slower fallback.
    """
    async def visit(long_run: bool) -> None:
        from playwright.async_api import async_playwright

        async with async_playwright() as p:
            browser = await launch(p)
            try:
                if long_run:
                    await start_long_run_and_close(browser, server.url, 120_000)
                else:
                    await short_session(await browser.new_context(), server.url, 120_000)
            finally:
                await browser.close()

    asyncio.run(visit(long_run=True))
    closed = time.monotonic()
    busy = _cpu_rate(server.pid, 2.0)
    # The grace itself is what is tested here: the closed session must outlive its TTL before other traffic
    # evicts it, so this waits out the TTL (no outcome to wait for: the point is that time passes).
    time.sleep(max(0.0, SESSION_TTL_S + 1 - (time.monotonic() - closed)))
    asyncio.run(visit(long_run=False))  # other traffic: the expired session is evicted
    quiet_after = None
    while time.monotonic() - closed < 50:
        if _cpu_rate(server.pid, 2.0) < 0.15:
            quiet_after = time.monotonic() - closed
            break
    LOAD_FIGURES.update(run_cpu_while_training=round(busy, 2),
                        run_stopped_after_close_s=None if quiet_after is None else round(quiet_after, 1))
    print(f"\nload: a closed tab's run used {busy:.0%} CPU; the server was quiet {quiet_after} s after the close")
    assert busy > 0.3, "the run should have been training when the tab closed"
    assert quiet_after is not None and quiet_after < 50, "the closed session's run kept training"


def _cpu_rate(pid: int, seconds: float) -> float:
    """The CPU rate of the server and its training children (runs train in a child by default)."""
    def total() -> float:
        return sum(_cpu_or_zero(p) for p in (pid, *training_children(pid)))

    before = total()
    time.sleep(seconds)  # the measuring window of a rate, not a wait for an outcome
    return (total() - before) / seconds


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except Exception:  # noqa: BLE001 - a child that ended meanwhile (psutil's or /proc's error)
        return 0.0
