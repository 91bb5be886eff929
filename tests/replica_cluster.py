"""Helpers for the replica tests and benchmark: ``deploy/run_replicas.sh`` on free loopback ports.

Kept apart from ``test_replicas.py`` so the test reads as the scenario. The script runs in
its own process group; leaving the context manager stops that whole group (SIGTERM, then
SIGKILL) and checks that no replica or nginx is left. Every wait has a timeout.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from streamlit_server import served_env

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "deploy" / "run_replicas.sh"
LOCAL = "127.0.0.1"
COOKIE = "ragviz_replica"
REPLICA_HEADER = "X-Ragviz-Replica"


@dataclass
class Cluster:
    """A running ``run_replicas.sh``: nginx's URL, each replica's URL and process id."""

    url: str
    replica_urls: list[str]
    pids: list[int]
    run_dir: Path
    log: Path
    proc: subprocess.Popen = field(repr=False)

    def replica_index(self, address: str) -> int:
        """0-based replica for an upstream address like ``127.0.0.1:8502``."""
        return self.replica_urls.index(f"http://{address}")

    def timeline(self, replica: int, per_session: int = 5, limit: int = 4000) -> str:
        """The last events of every session on one replica (ragviz/ui/timeline.py), for a failure's message."""
        from ragviz.ui.timeline import read_timeline

        events = [e for e in read_timeline(self.run_dir / "logs" / "timeline") if e["pid"] == str(self.pids[replica])]
        sessions: dict[str, list[dict]] = {}
        for event in events:
            sessions.setdefault(str(event.get("session")), []).append(event)
        lines = [f"--- timeline of replica {replica} ({len(events)} events, {len(sessions)} sessions)"]
        for session, own in sessions.items():
            lines.append(f"session {session[:8]}: {len(own)} events")
            for e in own[-per_session:]:
                extra = {k: v for k, v in e.items() if k not in ("t", "session", "pid", "thread", "event", "script")}
                script = "whole" if e.get("script") == "whole" else "fragment"
                when = f"{time.strftime('%H:%M:%S', time.localtime(e['t']))}.{int(e['t'] % 1 * 100):02d}"
                lines.append(f"  {when} {script}: {e['event']} {extra}")
        text = "\n".join(lines)
        return text if len(text) <= limit else text[-limit:]

    def log_tail(self, n: int = 3000) -> str:
        parts = [self.log.read_text(errors="replace")[-n:]] if self.log.exists() else []
        for path in sorted((self.run_dir / "logs").glob("*.log")):
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-n:]}")
        return "\n".join(parts)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((LOCAL, port))
        except OSError:
            return False
        return True


def free_ports(count: int, tries: int = 50) -> int:
    """The first of ``count`` consecutive free loopback ports (the script numbers replicas that way)."""
    for _ in range(tries):
        with socket.socket() as sock:
            sock.bind((LOCAL, 0))
            first = sock.getsockname()[1]
        if first + count < 65535 and all(_port_free(first + k) for k in range(count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports after {tries} tries")


def nginx_available() -> bool:
    return subprocess.run(["bash", "-c", "command -v nginx"], capture_output=True).returncode == 0


@contextlib.contextmanager
def replica_cluster(n: int, streamlit_args: list[str] | None = None, env: dict[str, str] | None = None,
                    timeout: float = 240.0) -> Iterator[Cluster]:
    """``deploy/run_replicas.sh n`` with nginx and replicas on free loopback ports, until it is ready."""
    first = free_ports(n + 1)
    proxy_port, replica_port = first, first + 1
    run_dir = Path(tempfile.mkdtemp(prefix="ragviz-cluster-"))
    log = run_dir / "script.log"
    script_env = {**served_env({"RAGVIZ_TIMELINE_DIR": str(run_dir / "logs" / "timeline"), **(env or {})}),
                  "RAGVIZ_PROXY_PORT": str(proxy_port),
                  "RAGVIZ_REPLICA_PORT": str(replica_port), "RAGVIZ_RUN_DIR": str(run_dir),
                  "RAGVIZ_START_TIMEOUT": str(int(timeout))}
    with open(log, "wb") as out:
        proc = subprocess.Popen(["bash", str(SCRIPT), str(n), "--", *(streamlit_args or [])], cwd=ROOT,
                                env=script_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    cluster = Cluster(f"http://{LOCAL}:{proxy_port}", [f"http://{LOCAL}:{replica_port + k}" for k in range(n)],
                      [], run_dir, log, proc)
    try:
        deadline = time.monotonic() + timeout + 15
        while "ready:" not in log.read_text(errors="replace"):
            if proc.poll() is not None:
                raise RuntimeError(f"run_replicas.sh exited ({proc.returncode}):\n{cluster.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"replicas not ready within {timeout:.0f} s:\n{cluster.log_tail()}")
            time.sleep(0.5)  # the poll interval: the loop ends as soon as the log says ready
        cluster.pids = [int((run_dir / f"replica-{k + 1}.pid").read_text()) for k in range(n)]
        yield cluster
    finally:
        _stop_group(proc)
        keep = os.environ.get("RAGVIZ_KEEP_LOGS")
        if keep:  # for a post-mortem: nginx's and every replica's log
            import shutil

            shutil.copytree(run_dir / "logs", Path(keep) / run_dir.name, dirs_exist_ok=True)
        leftovers = [pid for pid in cluster.pids if _alive(pid)]
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            for path in sorted(run_dir.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            run_dir.rmdir()
        if leftovers:
            raise RuntimeError(f"replicas {leftovers} outlived run_replicas.sh")


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the script's whole process group (it stops its children), SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is gone for our purposes.
    with contextlib.suppress(OSError):
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]
    return False


def kill_replica(cluster: Cluster, index: int, timeout: float = 10.0) -> float:
    """SIGKILL one replica (a crash, no goodbye); returns the monotonic time it was killed."""
    pid = cluster.pids[index]
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    deadline = killed + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # the poll interval: the loop ends as soon as the process is gone
    return killed


def get(url: str, cookie: str | None = None, timeout: float = 10.0) -> tuple[int, dict[str, str], list[str]]:
    """GET through nginx: (status, headers, the Set-Cookie values)."""
    request = urllib.request.Request(url, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, dict(response.headers.items()), response.headers.get_all("Set-Cookie") or []


def served_by(cluster: Cluster, cookie: str | None) -> int:
    """Which replica (0-based) nginx sends a browser with this cookie to (the last one it tried)."""
    _, headers, _ = get(cluster.url + "/_stcore/health", cookie)
    return cluster.replica_index(headers[REPLICA_HEADER].split(",")[-1].strip())


def new_cookie() -> str:
    """An affinity id of the kind nginx hands out (32 hex digits)."""
    return secrets.token_hex(16)


def cookies_per_replica(cluster: Cluster, per_replica: int, max_probes: int = 500) -> list[list[str]]:
    """``per_replica`` affinity ids for each replica, found by asking nginx where random ids go."""
    buckets: list[list[str]] = [[] for _ in cluster.replica_urls]
    for _ in range(max_probes):
        if all(len(b) >= per_replica for b in buckets):
            return buckets
        cookie = new_cookie()
        bucket = buckets[served_by(cluster, cookie)]
        if len(bucket) < per_replica:
            bucket.append(cookie)
    raise RuntimeError(f"{max_probes} random ids did not cover every replica: {[len(b) for b in buckets]}")


def set_cookie_value(set_cookies: list[str]) -> str | None:
    for header in set_cookies:
        match = re.match(rf"{COOKIE}=([^;]*)", header)
        if match:
            return match.group(1)
    return None
