"""Whether the tab that started a run is still there, so an abandoned run stops and a waiting one never does.

The app gives a run a *probe*: "is my session still connected?", answered by Streamlit's
runtime (``Runtime.is_active_session``, documented as safe from any thread). A run then stops
only when its session has been disconnected for ``grace_s`` seconds on end: a slow server, whose
page polls arrive late or not at all, never cancels a queued run whose tab is open, and a tab
that reconnects within the grace keeps its run.

Without a probe (the command line, tests, a script that drives a run itself) the old rule
applies: the run lives while someone polls its snapshot at least every ``grace_s`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Probe = Callable[[], bool]


class Liveness:
    """``gone()`` is True once the session has been away for longer than ``grace_s`` seconds."""

    def __init__(self, grace_s: float, probe: Probe | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.grace_s = grace_s
        self.probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._last_seen = clock()

    def polled(self) -> None:
        """A page read the run: proof of life when there is no probe (ignored with one)."""
        if self.probe is None:
            with self._lock:
                self._last_seen = self._clock()

    def connected(self) -> bool:
        """The probe's answer now (True without a probe: the poll rule decides)."""
        if self.probe is None:
            return True
        try:
            return bool(self.probe())
        except Exception:  # noqa: BLE001 - a runtime shutting down: the session is not reachable
            return False

    def gone(self) -> bool:
        now = self._clock()
        with self._lock:
            if self.probe is not None and self.connected():
                self._last_seen = now
            return now - self._last_seen > self.grace_s
