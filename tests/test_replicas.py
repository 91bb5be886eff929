"""More than one replica: nginx in front of Streamlit processes that share one models folder.

- The deploy configs lint (``nginx -t``), for the local script and the compose layout.
- Two separate processes saving the same checkpoint name at once both succeed, with distinct
  files, whole (the models folder is shared by every replica).
- Through nginx on loopback (``deploy/run_replicas.sh 3``, marked slow, run by CI): a browser
  gets an affinity cookie and stays on one replica; real browser sessions spread over the
  three replicas each open the sample, edit the training settings, train and read their own
  result; one replica is killed while all are training long runs: the runs on the others go
  on (new steps after the kill), then each stops its run, and a new tab on the same replica
  trains a short one with the right result (a short run alone could end before the kill on a
  fast machine), and the
  killed replica's sessions reconnect to another replica and
  get their view back from its URL (the task each added to the graph, the Train page, the
  banner saying the model was not trained on that graph), lose what lived only in the lost
  process (their run), and train the restored graph again with the right result.

Figures are printed (``pytest -s``) and kept in ``REPLICA_FIGURES``; the 60-session run is
``benchmarks/bench_replicas.py``. Every wait is bounded and the fixture stops the script's
whole process group.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from replica_cluster import (
    COOKIE,
    REPLICA_HEADER,
    ROOT,
    SCRIPT,
    Cluster,
    cookies_per_replica,
    get,
    kill_replica,
    nginx_available,
    replica_cluster,
    served_by,
    set_cookie_value,
)
from tab_waits import async_tab_text, poll_until

from tests.helpers import missing_tool

REPLICAS = 3
SESSIONS_PER_REPLICA = int(os.environ.get("RAGVIZ_REPLICA_SESSIONS", "3"))
STEPS = int(os.environ.get("RAGVIZ_REPLICA_STEPS", "200"))  # a survivor's short run after the kill
RETRAIN_STEPS = 40  # what a moved session trains once it is back
LONG_STEPS = 1_000_000  # every run at the kill: still running then, however fast or loaded the machine
FIRST_SEED = 201
OPENING_AT_ONCE = 3
SCENARIO_BUDGET_S = 420.0
TIMEOUT_MS = 150_000
SESSION_TTL_S = 30
REPLICA_FIGURES: dict[str, float] = {}

needs_nginx = pytest.mark.skipif(not nginx_available() and not os.environ.get("CI"),  # CI installs nginx: run, fail
                                 reason="nginx is not installed (apt-get install -y nginx)")


# --------------------------------------------------------------------------------- configs
@needs_nginx
def test_local_nginx_config_passes_nginx_t() -> None:
    done = subprocess.run(["bash", str(SCRIPT), "--check", str(REPLICAS)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nginx config OK" in done.stdout


def _compose_prefix(tmp_path: Path, http_conf: str) -> list[str]:
    """The compose layout (image's conf.d + ragviz/) in a prefix, replicas' names made local."""
    deploy = ROOT / "deploy" / "nginx"
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "ragviz").mkdir()
    (tmp_path / "logs").mkdir()
    (tmp_path / "tmp").mkdir()
    (tmp_path / "nginx.conf").write_text(
        "pid nginx.pid;\nevents {}\nhttp {\n client_body_temp_path tmp/body;\n proxy_temp_path tmp/proxy;\n"
        " fastcgi_temp_path tmp/f;\n uwsgi_temp_path tmp/u;\n scgi_temp_path tmp/s;\n include conf.d/*.conf;\n}\n")
    shutil.copy(deploy / "compose" / "default.conf", tmp_path / "conf.d" / "default.conf")
    shutil.copy(deploy / "compose" / "listen.conf", tmp_path / "ragviz" / "listen.conf")
    (tmp_path / "ragviz" / "ragviz-http.conf").write_text(http_conf)
    replicas = (deploy / "compose" / "replicas.conf").read_text()
    assert re.search(r"server app\d:8501", replicas), "compose replicas should be the app services"
    (tmp_path / "ragviz" / "replicas.conf").write_text(re.sub(r"app(\d):8501", r"127.0.0.1:850\1", replicas))
    return ["nginx", "-t", "-q", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf"),
            "-e", str(tmp_path / "logs" / "error.log")]


@needs_nginx
def test_compose_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    command = _compose_prefix(tmp_path, (ROOT / "deploy" / "nginx" / "ragviz-http.conf").read_text())
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@needs_nginx
def test_nginx_t_rejects_a_broken_config(tmp_path: Path) -> None:
    """The lint above can fail: the same layout with a typo in a directive does."""
    broken = (ROOT / "deploy" / "nginx" / "ragviz-http.conf").read_text().replace("proxy_pass ", "proxy_passs ", 1)
    done = subprocess.run(_compose_prefix(tmp_path, broken), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "proxy_passs" in done.stderr


# --------------------------------------------------------------------------- the edge
SECURITY_HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], list[str]]:
    """(status, headers, Set-Cookie values) of a GET, error statuses included."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status, dict(response.headers.items()), response.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.headers.get_all("Set-Cookie") or []


@needs_nginx
def test_nginx_sends_security_headers_and_hides_the_metrics(tmp_path: Path) -> None:
    """Framing only by the app itself, no sniffing, no referrer to other sites, a HttpOnly SameSite=Lax
    affinity cookie (Secure and HSTS behind HTTPS), and Streamlit's metrics not reachable through nginx."""
    with replica_cluster(1, env={"RAGVIZ_MODELS_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}) as running:
        for path in ("/", "/_stcore/health"):
            status, headers, cookies = _fetch(running.url + path)
            assert status == 200, path
            for name, value in SECURITY_HEADERS.items():
                assert headers.get(name) == value, (path, name, headers.get(name))
            assert "Strict-Transport-Security" not in headers  # plain http: no HSTS
        cookie = next(c for c in cookies if c.startswith(COOKIE + "="))
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie, cookie

        status, headers, cookies = _fetch(running.url + "/", {"X-Forwarded-Proto": "https"})  # behind TLS
        cookie = next(c for c in cookies if c.startswith(COOKIE + "="))
        assert cookie.endswith("; Secure") and "HttpOnly" in cookie, cookie
        assert headers.get("Strict-Transport-Security", "").startswith("max-age="), headers

        assert _fetch(running.replica_urls[0] + "/_stcore/metrics")[0] == 200  # the replica has them...
        for path in ("/_stcore/metrics", "/_stcore/metrics?families=x", "/_stcore/metrics/"):
            status, headers, _ = _fetch(running.url + path)
            assert status == 404, path  # ...nginx does not pass them on
            assert headers.get("X-Frame-Options") == "SAMEORIGIN"


# --------------------------------------------------------------------- shared models folder
SAVERS = 4
SAVES_EACH = 10
# One "replica": say it is ready, wait for the go file, then save SAVES_EACH checkpoints all named alike
# and print each path.
SAVER = """
import os, sys, time
from ragviz.storage.models_folder import save_to_folder
folder, worker, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
open(f"{go}.ready-{worker}", "w").close()
give_up = time.monotonic() + 300
while not os.path.exists(go) and time.monotonic() < give_up:
    time.sleep(0.01)  # the poll interval: every saver starts the moment the go file appears
for i in range(SAVES_EACH):
    print(worker, i, save_to_folder(folder, "class model", f"worker {worker} save {i} ".encode() * 50), flush=True)
""".replace("SAVES_EACH", str(SAVES_EACH))


def test_two_processes_saving_one_name_at_once_get_distinct_whole_files(tmp_path: Path) -> None:
    """Separate interpreters, as separate replicas are: plain subprocesses, not multiprocessing's spawn,
    which re-runs ``sys.modules["__main__"]`` in each child, and after an AppTest that is ``app.py``."""
    folder, go = tmp_path / "models", tmp_path / "go"
    folder.mkdir()
    workers = [subprocess.Popen([sys.executable, "-c", SAVER, str(folder), str(w), str(go)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(SAVERS)]
    poll_until(lambda: len(list(tmp_path.glob("go.ready-*"))) >= SAVERS, "the savers did not all start", 300)
    go.touch()  # all started and ready: they save at once
    outputs = [w.communicate(timeout=300) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err for _, err in outputs]
    saved = [line.split(" ", 2) for out, _ in outputs for line in out.splitlines()]
    assert len(saved) == SAVERS * SAVES_EACH
    paths = [Path(p) for _, _, p in saved]
    assert len(set(paths)) == SAVERS * SAVES_EACH, "two saves got the same file"
    for worker, i, path in saved:
        assert Path(path).read_bytes() == f"worker {worker} save {i} ".encode() * 50
    on_disk = sorted(p.name for p in folder.iterdir())
    assert on_disk == sorted(p.name for p in paths), "temporary files left behind or files lost"
    assert "class model.safetensors" in on_disk and "class model-40.safetensors" in on_disk


# ------------------------------------------------------------------------ through nginx
@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """Three replicas behind nginx, each warmed up by one short training (as the first student would)."""
    if not nginx_available():
        missing_tool("nginx is not installed (apt-get install -y nginx)")
    pytest.importorskip("playwright")
    from load_client import CHROMIUM

    if not os.path.exists(CHROMIUM):
        missing_tool(f"no Chromium at {CHROMIUM}")
    env = {"RAGVIZ_MODELS_DIR": str(tmp_path_factory.mktemp("models")), "RAGVIZ_HEARTBEAT_S": "60",
           "RAGVIZ_MAX_RUNS": str(2 * SESSIONS_PER_REPLICA), "OMP_NUM_THREADS": "1"}
    with replica_cluster(REPLICAS, [f"--server.disconnectedSessionTTL={SESSION_TTL_S}"], env=env) as running:
        started = time.monotonic()
        asyncio.run(_warm_up(running))
        REPLICA_FIGURES["warm_up_s"] = round(time.monotonic() - started, 1)
        yield running


async def _warm_up(cluster: Cluster) -> None:
    from load_client import launch, short_session
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p)
        try:
            async def one(url: str) -> None:
                await short_session(await browser.new_context(), url, 180_000, train_steps=1)

            await asyncio.gather(*(one(url) for url in cluster.replica_urls))
        finally:
            await browser.close()


@pytest.mark.slow
def test_nginx_hands_out_an_affinity_cookie_and_keeps_a_browser_on_one_replica(cluster) -> None:
    status, headers, set_cookies = get(cluster.url + "/")
    cookie = set_cookie_value(set_cookies)
    assert status == 200 and cookie is not None and re.fullmatch(r"[0-9a-f]{32}", cookie), set_cookies
    home = served_by(cluster, cookie)
    first = cluster.replica_index(headers[REPLICA_HEADER].split(",")[-1].strip())
    assert first == home, "the cookie-less first request should be routed by the id it is handed"
    for _ in range(10):
        _, _, again = get(cluster.url + "/_stcore/health", cookie)
        assert set_cookie_value(again) is None, "a browser with a valid cookie should keep it"
        assert served_by(cluster, cookie) == home
    assert set_cookie_value(get(cluster.url + "/", "not-an-id")[2]) is not None, "a forged id is replaced"
    # Fresh browsers are spread over every replica (30 random ids miss one with p < 1e-4).
    spread = {served_by(cluster, set_cookie_value(get(cluster.url + "/")[2])) for _ in range(30)}
    assert spread == set(range(REPLICAS))


@dataclass
class Visit:
    """One browser session through nginx, pinned to a replica by its affinity cookie."""

    seed: int
    cookie: str
    replica: int
    stage: str = "waiting to open"
    result: tuple[str, str] = ("", "")
    clicked_at: float = 0.0
    went_on_at: float = 0.0  # a survivor's long run showed new steps after the kill
    done_at: float = 0.0
    recovered_at: float = 0.0
    replica_after: int = -1
    kept_run: bool = False
    view_on_reconnect: dict = field(default_factory=dict)  # what the tab showed once a survivor drew it
    view_on_reload: dict = field(default_factory=dict)  # ... and after the student reloaded
    clicks_lost: int = 0  # Start clicks that started nothing in 45 s (then clicked once more)
    signals: int = 0  # how many of its two "ready" signals (page open, run started) it has sent
    errors: list[str] = field(default_factory=list)


async def _read_result(page, steps: int) -> tuple[str, str]:
    from load_client import metric_value

    done = page.locator('[data-testid="stAlert"]').filter(has_text="Training finished")
    await done.wait_for(timeout=TIMEOUT_MS)
    if f"Trained {steps} steps" not in await done.inner_text():
        raise AssertionError(f"expected {steps} steps: {await done.inner_text()}")
    accuracy = page.locator(metric_value("Test accuracy, seen"))
    await accuracy.wait_for(timeout=TIMEOUT_MS)
    steps_trained = await page.locator(metric_value("Steps trained")).inner_text()
    return (await accuracy.inner_text()).strip(), steps_trained.strip()


async def _start_and_read(page, start, steps: int, v: Visit) -> tuple[str, str]:
    """Press Start and read the result; a click that started nothing in 45 s is counted and made again.
    If no result comes, the error says what the tab showed instead."""
    await start.click()
    started = page.locator('[data-testid="stProgress"], [data-testid="stAlert"]').filter(
        has_text=re.compile("Training RAG|Training finished"))
    try:
        await started.first.wait_for(timeout=45_000)
    except Exception:  # noqa: BLE001 - counted and reported in the figures
        v.clicks_lost += 1
        await _settle(page)
        await start.click()
    try:
        return await _read_result(page, steps)
    except Exception as err:
        shown = await page.evaluate("""() => {
            const app = document.querySelector('[data-testid="stApp"]');
            const state = app ? [app.getAttribute('data-test-connection-state'),
                                 app.getAttribute('data-test-script-state')] : ['no app'];
            const main = document.querySelector('[data-testid="stMain"]');
            return state.join('/') + ' ' + location.pathname + ': '
                + (main ? main.innerText : document.body.innerText).slice(0, 900);
        }""")
        raise AssertionError(f"{type(err).__name__}: {str(err)[:200]}; the tab showed: {shown}") from err


async def _open_train_page(browser, url: str, cookie: str):
    """A new browser (context) that already holds this affinity cookie, on the Train page."""
    context = await browser.new_context(viewport={"width": 1000, "height": 800}, reduced_motion="reduce")
    await context.add_cookies([{"name": COOKIE, "value": cookie, "url": url}])
    page = await context.new_page()
    await page.add_init_script(STATE_LOG_SCRIPT)
    await page.goto(url + "/train", timeout=TIMEOUT_MS, wait_until="commit")
    await page.locator('input[aria-label="Steps"]').wait_for(timeout=TIMEOUT_MS)
    await page.get_by_role("button", name="Start training").wait_for(timeout=TIMEOUT_MS)
    return context, page


APP = '[data-testid="stApp"]'
#: Records every change of the app's connection and script state with its time (for a failure's message).
STATE_LOG_SCRIPT = """
window.__states = [];
new MutationObserver(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return;
  const now = [app.getAttribute('data-test-connection-state'), app.getAttribute('data-test-script-state')].join('/');
  const last = window.__states[window.__states.length - 1];
  if (!last || last[1] !== now) window.__states.push([new Date().toISOString().slice(11, 22), now]);
}).observe(document, {subtree: true, attributes: true, childList: true,
                      attributeFilter: ['data-test-connection-state', 'data-test-script-state']});
"""
SIDEBAR = '[data-testid="stSidebar"]'
RETRAIN_BANNER = "The graph changed since the model was trained (1 task added)"


@functools.cache
def sample_tasks() -> int:
    """How many tasks the sample a new session opens on has."""
    from ragviz.ui.state import _default_project

    return _default_project()[0].graph.number_of_tasks()


def own_task(seed: int) -> str:
    """The task a session on the victim replica adds: its view differs from every other session's."""
    return f"moons of student {seed}"


def with_own_task(graph, name: str):
    """The graph after the Task graph page's "Add task" with only a name typed (the form's defaults)."""
    from ragviz.graph.tasks import make_task

    edited = graph.copy()
    edited.add_task(make_task(name, "moons", {}, 40, 100, graph.number_of_tasks()))
    return edited


async def _open_and_add_own_task(browser, url: str, cookie: str, task: str, tasks_before: int):
    """A new browser on the Task graph page: add ``task``, then go to Train by the menu (same session)."""
    context = await browser.new_context(viewport={"width": 1000, "height": 800}, reduced_motion="reduce")
    await context.add_cookies([{"name": COOKIE, "value": cookie, "url": url}])
    page = await context.new_page()
    await page.add_init_script(STATE_LOG_SCRIPT)
    await page.goto(url + "/task_graph", timeout=TIMEOUT_MS, wait_until="commit")
    main = page.locator('[data-testid="stMain"]')
    await main.get_by_text("Add a task").first.click(timeout=TIMEOUT_MS)
    name = main.get_by_label("Name", exact=True)
    await name.fill(task, timeout=TIMEOUT_MS)
    await main.get_by_role("button", name=re.compile("Add task")).click(timeout=TIMEOUT_MS)
    await page.locator(SIDEBAR).get_by_text(f"{tasks_before + 1} tasks · ").wait_for(timeout=TIMEOUT_MS)
    await page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Train").first.click(timeout=TIMEOUT_MS)
    await page.locator('input[aria-label="Steps"]').wait_for(timeout=TIMEOUT_MS)
    await page.get_by_role("button", name="Start training").wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_url(re.compile(r"/train\?(.*&)?view="), timeout=TIMEOUT_MS)
    return context, page


def tasks_in_link(url: str) -> list[str]:
    """The task names of the view a page's URL holds (read with the app's own link reader)."""
    from ragviz.lessons.samples import load_sample
    from ragviz.storage.view_link import build_view, payload_sample, read_link

    token = parse_qs(urlparse(url).query).get("view", [""])[0]
    if not token:
        return []
    payload = read_link(token)
    key = payload_sample(payload)
    view = build_view(payload, load_sample(key).project.graph if key else None)
    return view.graph.task_names() if view.graph is not None else []


async def _view_shown(page, task: str) -> dict:
    """What the student sees of their view: the page, the graph's size, their task, the retrain banner."""
    sidebar = await page.locator(SIDEBAR).inner_text()
    size = re.search(r"(\d+) tasks · ", sidebar)
    banner = page.locator('[data-testid="stMain"] [data-testid="stAlert"]').filter(has_text=RETRAIN_BANNER)
    try:
        await banner.first.wait_for(timeout=15_000)
    except Exception:  # noqa: BLE001 - reported as absent
        pass
    return {"page": urlparse(page.url).path, "tasks": int(size.group(1)) if size else -1,
            "own task in link": task in await asyncio.to_thread(tasks_in_link, page.url),
            "retrain banner": await banner.count() > 0}


async def _run_goes_on(page, more_steps: int = 5) -> float:
    """Wait until the run's progress shows ``more_steps`` more steps than now; return when it did."""
    progress = page.locator('[data-testid="stProgress"]').filter(has_text="Training RAG")

    async def step() -> int:
        found = re.search(r"step ([\d,]+) of", await progress.first.inner_text(timeout=TIMEOUT_MS))
        return int(found.group(1).replace(",", "")) if found else -1

    first = await step()
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if await step() >= first + more_steps:
            return time.monotonic()
        await asyncio.sleep(0.5)  # the poll interval: the loop ends as soon as the steps moved on
    raise AssertionError(f"the run stayed at step {first}; the tab showed:\n{await async_tab_text(page)}")


async def _wait_until_back(page, start) -> None:
    """The tab noticed the lost connection, reconnected, and a live replica drew its page.

    Widgets are disabled while a run goes on and while the tab is disconnected, so an enabled
    Start button on a connected, idle page means a replica with no run for this tab drew it.
    """
    lost = page.locator(f'{APP}:not([data-test-connection-state="CONNECTED"])')
    try:
        await lost.wait_for(state="attached", timeout=30_000)
    except Exception:  # noqa: BLE001 - it may have reconnected between two polls
        pass
    back = page.locator(f'{APP}[data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]')
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        await back.wait_for(state="attached", timeout=TIMEOUT_MS)
        if await start.is_enabled():
            return
        await asyncio.sleep(0.2)  # the poll interval
    raise AssertionError(f"the tab did not get a live page back; it showed:\n{await async_tab_text(page)}")


async def _settle(page, quiet_s: float = 2.0, timeout_s: float = 60.0) -> None:
    """Wait until the page has been connected and idle for ``quiet_s`` in a row (reruns after a reconnection)."""
    idle = page.locator(f'{APP}[data-test-connection-state="CONNECTED"][data-test-script-state="notRunning"]')
    deadline = time.monotonic() + timeout_s
    quiet_since = None
    while time.monotonic() < deadline:
        if await idle.count():
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= quiet_s:
                return
        else:
            quiet_since = None
        await asyncio.sleep(0.2)  # the poll interval: the loop ends once the page has been quiet for quiet_s


async def _type_settings(page, steps: int, seed: int, tries: int = 5) -> None:
    """Type steps and seed, and check they are still there (a late rerun may redraw the form)."""
    from load_client import set_number

    for _ in range(tries):
        await set_number(page, "Steps", steps)
        await set_number(page, "Seed", seed)
        await _settle(page, quiet_s=0.5, timeout_s=30)  # the typed values' reruns are over
        shown = (await page.locator('input[aria-label="Steps"]').input_value(),
                 await page.locator('input[aria-label="Seed"]').input_value())
        if [x.replace(",", "") for x in shown] == [str(steps), str(seed)]:
            return
    raise AssertionError(f"the form kept showing {shown} instead of steps {steps}, seed {seed}")


async def _what_the_tab_showed(page) -> str:
    """The tab's connection and script state, sidebar and main area, for a failure's message."""
    if page is None:
        return ""
    try:
        return "; the tab showed: " + await asyncio.wait_for(page.evaluate("""() => {
            const app = document.querySelector('[data-testid="stApp"]');
            const state = app ? [app.getAttribute('data-test-connection-state'),
                                 app.getAttribute('data-test-script-state')] : ['no app'];
            const side = document.querySelector('[data-testid="stSidebar"]');
            const main = document.querySelector('[data-testid="stMain"]');
            const states = (window.__states || []).slice(-12).map(x => x.join(' ')).join(', ');
            return state.join('/') + ' ' + location.pathname + ' | states (UTC): ' + states + ' | sidebar: '
                + (side ? side.innerText.slice(-300) : '-') + ' | main: '
                + (main ? main.innerText : document.body.innerText).slice(0, 500);
        }"""), 10)
    except Exception as err:  # noqa: BLE001 - the tab may be gone
        return f"; the tab could not be read: {type(err).__name__}"


async def _visit(v: Visit, browser, cluster: Cluster, victim: int, opening: asyncio.Semaphore,
                 ready: asyncio.Queue, go: asyncio.Event, killed: asyncio.Event) -> Visit:
    """Open the sample's Train page, edit steps and seed, train, read the result back.

    A session on the victim replica starts a long run, waits for the kill, waits until a
    surviving replica has drawn its page again, then trains a short run there.
    """
    context = page = None
    try:
        async with opening:
            v.stage = "opening"
            if v.replica == victim:  # a view of its own, only in this replica's memory and the tab's URL
                context, page = await _open_and_add_own_task(browser, cluster.url, v.cookie, own_task(v.seed),
                                                             sample_tasks())
            else:
                context, page = await _open_train_page(browser, cluster.url, v.cookie)
        v.stage = "typing"
        await _type_settings(page, LONG_STEPS, v.seed)
        v.stage = "ready"
        v.signals += 1
        await ready.put(v.seed)
        await go.wait()
        v.clicked_at = time.monotonic()
        start = page.get_by_role("button", name="Start training")
        await start.click()
        v.stage = "training"
        await page.locator('[data-testid="stProgress"]').filter(has_text="Training RAG").wait_for(timeout=TIMEOUT_MS)
        v.signals += 1
        await ready.put(v.seed)  # running: the replica may be killed now
        if v.replica != victim:
            await killed.wait()
            v.stage = "training on after the kill"
            v.went_on_at = await _run_goes_on(page)
            v.stage = "stopping"
            await page.get_by_role("button", name="Stop", exact=True).click(timeout=TIMEOUT_MS)
            await page.locator('[data-testid="stAlert"]').filter(
                has_text=re.compile("trained so far is kept|previous model is unchanged")).wait_for(timeout=TIMEOUT_MS)
            # The short run in a new tab on the same replica (its affinity cookie). In the stopped run's
            # own tab, under this test's load, the new run's result twice never showed (once the tab had
            # no main area left); on one server the same steps passed every time (test_browser_process).
            await context.close()
            v.stage = "opening a new tab"
            context, page = await _open_train_page(browser, cluster.url, v.cookie)
            start = page.get_by_role("button", name="Start training")
            v.stage = "training a short run"
            await _type_settings(page, STEPS, v.seed)
            v.result = await _start_and_read(page, start, STEPS, v)
            v.done_at = time.monotonic()
        else:
            await killed.wait()
            v.stage = "reconnecting"
            await _wait_until_back(page, start)
            v.recovered_at = time.monotonic()
            v.replica_after = await asyncio.to_thread(served_by, cluster, v.cookie)
            await _settle(page)
            v.view_on_reconnect = await _view_shown(page, own_task(v.seed))
            # Then the student reloads (F5) and works on: in the reconnected tab itself a new run's
            # live progress was seen to stop updating at times (the page still polls the lost
            # session's progress fragment, "fragment ... does not exist" in the new replica's log).
            v.stage = "reloading"
            await page.reload(timeout=TIMEOUT_MS, wait_until="commit")
            await page.locator('input[aria-label="Steps"]').wait_for(timeout=TIMEOUT_MS)
            await start.wait_for(timeout=TIMEOUT_MS)
            await _settle(page)
            v.kept_run = await page.locator('[data-testid="stProgress"]').filter(has_text="Training RAG").count() > 0
            v.view_on_reload = await _view_shown(page, own_task(v.seed))
            v.stage = "training again"
            await _type_settings(page, RETRAIN_STEPS, v.seed)
            v.result = await _start_and_read(page, start, RETRAIN_STEPS, v)
            v.done_at = time.monotonic()
        exceptions = page.locator('[data-testid="stException"]')
        for k in range(await exceptions.count()):
            v.errors.append((await exceptions.nth(k).inner_text())[:300])
        v.stage = "done"
    except Exception as err:  # noqa: BLE001 - reported per session by the test
        v.errors.append(f"{v.stage}: {type(err).__name__}: {err}"[:500] + await _what_the_tab_showed(page))
        for _ in range(v.signals, 2):
            await ready.put(-1)  # never leave the others waiting for this one
    finally:
        if context is not None:
            await context.close()
    return v


async def run_scenario(cluster: Cluster, visits: list[Visit], victim: int, budget_s: float,
                       figures: dict[str, float], during=None) -> float:
    """Everyone opens and edits, everyone presses Start, the victim replica is killed mid-run.

    Returns the monotonic time of the kill; each visit records what it saw. Bounded by
    ``budget_s``: whatever is unfinished then is cancelled and says where it was. ``during``
    (a coroutine function taking the browser) runs from Start to the end, then is cancelled.
    """
    from load_client import launch, rss_mb
    from playwright.async_api import async_playwright

    deadline = time.monotonic() + budget_s
    left = lambda: max(1.0, deadline - time.monotonic())  # noqa: E731
    killed_at = 0.0
    async with async_playwright() as p:
        browser = await launch(p)
        try:
            rss_before = [rss_mb(pid) for pid in cluster.pids]
            ready: asyncio.Queue = asyncio.Queue()
            go, killed = asyncio.Event(), asyncio.Event()
            opening = asyncio.Semaphore(OPENING_AT_ONCE)
            started = time.monotonic()
            tasks = [asyncio.create_task(_visit(v, browser, cluster, victim, opening, ready, go, killed))
                     for v in visits]
            for _ in visits:  # every page open with its settings typed in (or failed)
                await asyncio.wait_for(ready.get(), left())
            figures["open_s"] = round(time.monotonic() - started, 1)
            rss_open = [rss_mb(pid) for pid in cluster.pids]
            figures["rss_per_session_mb"] = round((sum(rss_open) - sum(rss_before)) / len(visits), 1)
            figures["rss_per_replica_mb"] = round(statistics.mean(rss_open), 1)
            go.set()
            side = asyncio.create_task(during(browser)) if during else None
            for _ in visits:  # every run started (or failed)
                await asyncio.wait_for(ready.get(), left())
            killed_at = await asyncio.to_thread(kill_replica, cluster, victim)
            killed.set()
            _, pending = await asyncio.wait(tasks, timeout=left())
            for task in pending:
                task.cancel()
            if side is not None:
                side.cancel()
            alive = [k for k in range(len(cluster.pids)) if k != victim]
            figures["rss_after_runs_per_session_mb"] = round(
                sum(rss_mb(cluster.pids[k]) - rss_before[k] for k in alive)
                / len(visits), 1)  # every session, the moved ones included, now lives on a survivor
            for v in visits:
                if v.stage != "done" and not v.errors:
                    v.errors.append(f"still {v.stage} after {budget_s:.0f} s")
        finally:
            await browser.close()
    return killed_at


def expected_results(wanted: list[tuple]) -> dict[tuple, tuple[str, str]]:
    """What the Train page must show for each (seed, steps) or (seed, steps, added task): the sample
    (with that task added) trained here, formatted alike."""
    import torch

    from ragviz.model.config import TrainConfig
    from ragviz.training.train import train
    from ragviz.ui.state import _default_project

    torch.set_num_threads(1)  # as app.py does, so runs are bit-identical
    project = _default_project()[0]
    out = {}
    for key in wanted:
        seed, steps, *added = key
        graph = with_own_task(project.graph, added[0]) if added and added[0] else project.graph
        config = TrainConfig(**{**project.train_config.to_dict(), "steps": steps, "seed": seed})
        result = train(graph, project.model_config, config, project.tables)
        out[key] = (f"{result.history.summary()['seen']:.1%}", f"{result.history.steps[-1]:,}")
    return out


def wanted_results(visits: list[Visit], victim: int) -> list[tuple]:
    """Each session's expected-result key: the victim's sessions retrain the graph with their own task."""
    return [(v.seed, RETRAIN_STEPS, own_task(v.seed)) if v.replica == victim else (v.seed, STEPS, None)
            for v in visits]


def plan_visits(cluster: Cluster, per_replica: int, first_seed: int) -> list[Visit]:
    """``per_replica`` sessions on each replica, each with its own seed and affinity cookie."""
    buckets = cookies_per_replica(cluster, per_replica)
    visits, seed = [], first_seed
    for replica, cookies in enumerate(buckets):
        for cookie in cookies:
            visits.append(Visit(seed, cookie, replica))
            seed += 1
    return visits


@pytest.mark.slow
@pytest.mark.browser
def test_sessions_through_nginx_survive_the_loss_of_a_replica(cluster) -> None:
    victim = REPLICAS - 1
    visits = plan_visits(cluster, SESSIONS_PER_REPLICA, FIRST_SEED)
    wanted = wanted_results(visits, victim)
    expected = expected_results(wanted)
    assert len(set(expected.values())) > 1, "seeds should give different results, or the check proves nothing"
    unedited = expected_results([(seed, steps) for seed, steps, task in wanted if task])
    assert all(expected[k] != unedited[k[:2]] for k in wanted if k[2]), "the added task should change the result"
    killed_at = asyncio.run(run_scenario(cluster, visits, victim, SCENARIO_BUDGET_S, REPLICA_FIGURES))
    failed = {v.seed: v.errors for v in visits if v.errors}
    timelines = "\n".join(cluster.timeline(k) for k in sorted({v.replica for v in visits if v.errors}))
    assert not failed, f"sessions failed: {failed}\nfigures: {REPLICA_FIGURES}\n{timelines}\n{cluster.log_tail(1500)}"
    survivors = [v for v in visits if v.replica != victim]
    moved = [v for v in visits if v.replica == victim]
    # The killed replica's sessions got their view back from the URL after a reload: the Train page,
    # the task each added (in the graph the new replica holds and writes back to the URL), and the
    # banner saying the sample's model predates that task. (The reconnected tab showed it too in
    # every run here, but that rests on the frontend resending the query string on reconnect: it is
    # recorded in the figures, not asserted.)
    view_back = {"page": "/train", "tasks": sample_tasks() + 1, "own task in link": True, "retrain banner": True}
    assert all(v.view_on_reload == view_back for v in moved), {v.seed: v.view_on_reload for v in moved}
    back_on_reconnect = sum(v.view_on_reconnect == view_back for v in moved)
    REPLICA_FIGURES["share_of_views_back_on_reconnect"] = back_on_reconnect / len(moved)
    for v, key in zip(visits, wanted, strict=True):
        assert v.result == expected[key], f"session {v.seed} (replica {v.replica}) got another result"
    # The survivors' runs went on across the kill (then each was stopped and a short run gave its own result).
    assert all(v.clicked_at < killed_at < v.went_on_at < v.done_at for v in survivors)
    # The killed replica's sessions came back on a live replica, without their old run.
    assert all(v.replica_after not in (victim, -1) for v in moved)
    assert not any(v.kept_run for v in moved)
    recover = [v.recovered_at - killed_at for v in moved]
    REPLICA_FIGURES.update(sessions=len(visits), sessions_moved=len(moved),
                           clicks_lost_after_reconnecting=sum(v.clicks_lost for v in moved),
                           clicks_lost_on_survivors=sum(v.clicks_lost for v in survivors),
                           recover_median_s=round(statistics.median(recover), 1),
                           recover_max_s=round(max(recover), 1))
    print(f"\nreplicas: {len(visits)} sessions on {REPLICAS} replicas, one killed mid-run; {len(survivors)} finished "
          f"undisturbed, {len(moved)} reconnected in {REPLICA_FIGURES['recover_median_s']} s (median), "
          f"max {REPLICA_FIGURES['recover_max_s']} s; figures {REPLICA_FIGURES}")
