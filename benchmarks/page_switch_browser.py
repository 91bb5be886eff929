"""Page switches while a 1,000-task graph trains, in headless Chromium against ``streamlit run``.

What ``page_switch.py`` measures inside the server, seen from the browser: a student opens the
app, generates a 1,000-task ring on the Task graph page (Generate tab, its defaults but 1,000
tasks), starts training it (1,000,000 steps) on the Train page, then clicks page after page in
the sidebar. For each click: seconds until the page's title is on screen, and until the server
says the page's script run finished (its ``script_finished`` message on the websocket). Every
page is visited twice. Runs the app of ``--tree`` (default: this checkout); prints one JSON object.

    python benchmarks/page_switch_browser.py [--tree DIR] [--shots DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
TITLES = {"Task graph": "Task graph", "Train": "Train", "Message passing": "Message passing",
          "Embeddings": "Embeddings", "Task outputs": "Task outputs", "Checkpoints": "Checkpoints",
          "Home": "ragviz: the RAG lab"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(tree: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
           str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise TimeoutError("streamlit did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--shots", default="", help="a folder for a screenshot of each page at its first visit")
    parser.add_argument("--visits", type=int, default=2, help="visits of every page")
    parser.add_argument("--quick", action="store_true", help="30 tasks, one visit: a smoke run for the tests")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.visits = 30, 1
    from playwright.sync_api import sync_playwright
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    finished: list[float] = []  # times a full (not fragment) script run finished

    def on_frame(payload: bytes | str) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg.FromString(payload)
            if msg.WhichOneof("type") == "script_finished" and \
                    msg.script_finished == ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY:
                finished.append(time.perf_counter())

    proc, url = start_server(Path(args.tree).resolve())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                       "--disable-background-networking"])
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
            page.goto(url)
            page.get_by_text("Relation-Aware Generative", exact=False).first.wait_for(timeout=120_000)

            def click(title: str) -> tuple[float, float]:
                before = len(finished)
                start = time.perf_counter()
                page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()
                page.locator('[data-testid="stMain"] h1').filter(has_text=TITLES[title]).first.wait_for(
                    timeout=300_000)
                shown = time.perf_counter() - start
                deadline = time.monotonic() + 300
                while len(finished) == before and time.monotonic() < deadline:
                    page.wait_for_timeout(20)
                return shown, (finished[before] - start) if len(finished) > before else float("nan")

            click("Task graph")
            page.get_by_role("tab", name="Generate").click()
            tasks = page.get_by_label("Tasks", exact=True)
            tasks.fill(str(args.tasks))
            tasks.press("Tab")
            page.get_by_role("button", name=re.compile("Generate")).click()
            page.get_by_text(re.compile(f"{args.tasks} tasks")).first.wait_for(timeout=300_000)
            click("Train")
            steps = page.get_by_label("Steps", exact=True)
            steps.fill("1000000")
            steps.press("Tab")
            page.get_by_role("button", name=re.compile("Start training")).click()
            page.get_by_text(re.compile("Training RAG: step")).first.wait_for(timeout=300_000)
            page.wait_for_timeout(3000)
            shown: dict[str, list[float]] = {t: [] for t in TITLES}
            done: dict[str, list[float]] = {t: [] for t in TITLES}
            for visit in range(args.visits):
                for title in TITLES:
                    a, b = click(title)
                    shown[title].append(a)
                    done[title].append(b)
                    page.wait_for_timeout(1000)
                    if args.shots and visit == 0:  # after the timing: what the student sees meanwhile
                        Path(args.shots).mkdir(parents=True, exist_ok=True)
                        page.wait_for_timeout(1500)
                        page.screenshot(path=str(Path(args.shots) / f"{title.lower().replace(' ', '_')}.png"))
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(json.dumps({"shown": shown, "finished": done, "tasks": args.tasks}))


if __name__ == "__main__":
    main()
