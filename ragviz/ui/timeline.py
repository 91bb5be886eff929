"""A per-session timeline of what the server did for a tab, for post-mortems of a class's server.

Off unless ``RAGVIZ_TIMELINE_DIR`` names a folder; then every event (a whole run of the app and
what it drew, a watcher tick, a run started, taken in or shown, a redraw asked for) is one JSON line
in ``<folder>/timeline-<pid>.jsonl``: time, session id, the kind of script run (whole, or which
fragments), the event and its fields. The replica and load tests turn it on and quote a failed
session's lines, so a result that never shows says which step never came.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from streamlit.runtime.scriptrunner import get_script_run_ctx

ENV = "RAGVIZ_TIMELINE_DIR"
_lock = threading.Lock()


def timeline_path() -> Path | None:
    """This process's timeline file, or None when the timeline is off."""
    folder = os.environ.get(ENV)
    return Path(folder) / f"timeline-{os.getpid()}.jsonl" if folder else None


def record(event: str, **fields: Any) -> None:
    """Append one event for the current session (a no-op when the timeline is off)."""
    path = timeline_path()
    if path is None:
        return
    ctx = get_script_run_ctx()
    line = {"t": round(time.time(), 3), "session": ctx.session_id if ctx else None,
            "script": (list(ctx.fragment_ids_this_run or []) or "whole") if ctx else None,
            "thread": threading.current_thread().name, "event": event, **fields}
    text = json.dumps(line, default=str) + "\n"
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as out:
            out.write(text)


def read_timeline(folder: Path) -> list[dict[str, Any]]:
    """Every event recorded under ``folder`` (all processes), oldest first."""
    events = []
    for path in sorted(Path(folder).glob("timeline-*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                events.append({"pid": path.stem.removeprefix("timeline-"), **json.loads(line)})
            except json.JSONDecodeError:
                continue  # a line cut short by a killed process
    return sorted(events, key=lambda e: e.get("t", 0))
