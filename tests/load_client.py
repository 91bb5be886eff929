"""Helpers for the load test: a localhost Streamlit server, its memory, and browser sessions.

Kept apart from ``test_load.py`` so the test reads as the scenario. Everything here is
bounded: every wait has a timeout, and the server is always stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamlit_server import served_env

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOCAL = "127.0.0.1"
#: Every non-local request goes to a dead proxy and fails: the browser talks to 127.0.0.1 only.
#: (A proxy rather than request interception: routing each request through Python is slow.)
LOCAL_ONLY_PROXY = {"server": f"http://{LOCAL}:9", "bypass": f"{LOCAL},localhost"}


@dataclass
class Server:
    url: str
    pid: int
    log: Path

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                     timeout: float = 90.0) -> Iterator[Server]:
    """``streamlit run app.py`` on a free localhost port; output goes to a file (a full pipe would hang it)."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
           "--server.address", LOCAL, "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           *(extra_args or [])]
    log = Path(tempfile.mkstemp(prefix="ragviz-load-", suffix=".log")[1])
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=served_env(env), stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://{LOCAL}:{port}", proc.pid, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(server.url + "/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"streamlit did not answer on {server.url} within {timeout:.0f} s")
            time.sleep(0.3)  # the poll interval: the loop ends as soon as the server answers
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.unlink(missing_ok=True)


def rss_mb(pid: int) -> float:
    """Resident memory of the server process in MB (psutil when installed, else /proc)."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 1e6
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"cannot read the memory of process {pid}")


async def launch(playwright: Any) -> Any:
    """One headless Chromium that can reach 127.0.0.1 and nothing else."""
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, proxy=LOCAL_ONLY_PROXY)


# ------------------------------------------------------------------------------------------ sessions
@dataclass
class TrainOutcome:
    """What one browser session saw after training."""

    seed: int
    stage: str = "waiting to open"
    seen_accuracy: str = ""
    steps_trained: str = ""
    status_text: str = ""
    clicked_at: float = 0.0
    done_at: float = 0.0
    errors: list[str] = field(default_factory=list)


def metric_value(label: str) -> str:
    return f'[data-testid="stMetric"]:has-text("{label}") [data-testid="stMetricValue"]'


async def open_train_page(browser: Any, url: str, timeout_ms: float) -> tuple[Any, Any]:
    context = await browser.new_context(viewport={"width": 1000, "height": 800}, reduced_motion="reduce")
    page = await context.new_page()
    await page.goto(url + "/train", timeout=timeout_ms, wait_until="commit")
    await page.locator('input[aria-label="Steps"]').wait_for(timeout=timeout_ms)
    await page.get_by_role("button", name="Start training").wait_for(timeout=timeout_ms)
    return context, page


async def set_number(page: Any, label: str, value: int) -> None:
    box = page.locator(f'input[aria-label="{label}"]')
    await box.fill(str(value))
    await box.press("Tab")


async def train_session(outcome: TrainOutcome, browser: Any, url: str, steps: int, ready: asyncio.Queue,
                        go: asyncio.Event, timeout_ms: float, opening: asyncio.Semaphore) -> TrainOutcome:
    """Open the Train page, set steps and seed, wait for everyone, press Start, read the result back.

    ``opening`` limits how many pages load at once (two cores thrash with twenty); the runs
    themselves all start together once every session is ready. ``outcome.stage`` says how far
    it got, also when the caller gives up waiting.
    """
    seed = outcome.seed
    context = page = None
    try:
        async with opening:
            outcome.stage = "opening"
            context, page = await open_train_page(browser, url, timeout_ms)
        outcome.stage = "typing"
        await set_number(page, "Steps", steps)
        await set_number(page, "Seed", seed)
        outcome.stage = "ready"
        await ready.put(seed)
        await go.wait()  # the caller bounds the whole phase and cancels what is left at its deadline
        outcome.clicked_at = time.monotonic()
        await page.get_by_role("button", name="Start training").click()
        outcome.stage = "training"
        done = page.locator('[data-testid="stAlert"]').filter(has_text="Training finished")
        await done.wait_for(timeout=timeout_ms)
        outcome.done_at = time.monotonic()
        outcome.stage = "reading"
        outcome.status_text = await done.inner_text()
        accuracy = page.locator(metric_value("Test accuracy, seen"))
        await accuracy.wait_for(timeout=timeout_ms)
        outcome.seen_accuracy = (await accuracy.inner_text()).strip()
        outcome.steps_trained = (await page.locator(metric_value("Steps trained")).inner_text()).strip()
        exceptions = page.locator('[data-testid="stException"]')
        for k in range(await exceptions.count()):
            outcome.errors.append((await exceptions.nth(k).inner_text())[:300])
        outcome.stage = "done"
    except Exception as err:  # noqa: BLE001 - reported per session by the test
        from tab_waits import async_tab_text

        shown = f"; the tab showed: {await async_tab_text(page, 900)}" if page is not None else ""
        outcome.errors.append(f"{type(err).__name__}: {err}"[:500] + shown)
        if not go.is_set():
            await ready.put(-1)  # never leave the others waiting for this one
    finally:
        if context is not None:
            await context.close()
    return outcome


async def short_session(context: Any, url: str, timeout_ms: float, train_steps: int = 0) -> None:
    """One short visit in a new tab (a new Streamlit session): open Train, press Start, close the tab.

    With ``train_steps=0`` the server refuses the settings with its message ("Steps must be
    ...") - a cheap round trip; with more it trains that many steps and waits for the result.
    Tabs share one browser context so its HTTP cache spares reloading Streamlit's scripts;
    each tab is still its own session on the server, with its own state.
    """
    page = await context.new_page()
    try:
        await page.goto(url + "/train", timeout=timeout_ms, wait_until="commit")
        await page.locator('input[aria-label="Steps"]').wait_for(timeout=timeout_ms)
        await set_number(page, "Steps", train_steps)
        await page.get_by_role("button", name="Start training").click()
        answer = "Training finished" if train_steps else "Training did not start"
        await page.locator('[data-testid="stAlert"]').filter(has_text=answer).wait_for(timeout=timeout_ms)
    finally:
        await page.close()


async def start_long_run_and_close(browser: Any, url: str, timeout_ms: float) -> None:
    """A student starts a long training and closes the tab while it runs."""
    context, page = await open_train_page(browser, url, timeout_ms)
    try:
        await set_number(page, "Steps", 1_000_000)
        await page.get_by_role("button", name="Start training").click()
        await page.locator('[data-testid="stProgress"]').filter(has_text="Training RAG").wait_for(timeout=timeout_ms)
    finally:
        await context.close()


def cpu_seconds(pid: int) -> float:
    """CPU time the server process has used so far (psutil when installed, else /proc)."""
    try:
        import psutil

        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    except ImportError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
