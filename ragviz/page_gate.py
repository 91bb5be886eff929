"""Pages first: training threads step aside while the server draws a page.

Training runs in a thread of the server process (``ragviz.runner``), so it shares Python's
global interpreter lock with the threads that run page scripts. A page script hands the lock
over many times a run (every message it queues for the browser), and each time a busy
training thread can keep it for a switch interval or, on a loaded machine, for as long as the
operating system leaves that thread waiting for a core. On a 1,000-task graph this made a page
switch several times slower than the same page with no training (``benchmarks/bench_app.py``).

So every page run holds the gate (:meth:`PageGate.page_running`, around ``app.py``: all runs
but a server's first request, which Streamlit gives the page file alone, see
``ragviz.ui.routing``; fragment reruns are not gated either), and a training thread calls
:meth:`PageGate.yield_to_pages` between steps (the runner's stop flag does, which the loop
checks every step and between chunks of work): while a page runs, the thread sleeps without
the lock. It sleeps at most ``max_pause`` seconds at a time and then works at least
``min_work`` seconds, so a server that draws pages without a break still trains. Nothing in
the computation changes: training does the same steps, later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

MAX_PAUSE_S = 1.0  # the longest a training thread waits for pages at once
MIN_WORK_S = 0.25  # after waiting that long, how long it works before it waits again


class PageGate:
    """Counts the page runs going on; lets training threads wait until there are none."""

    def __init__(self, max_pause: float = MAX_PAUSE_S, min_work: float = MIN_WORK_S) -> None:
        self.max_pause = max_pause
        self.min_work = min_work
        self._cond = threading.Condition()
        self._pages = 0
        self._work_until = 0.0

    @contextmanager
    def page_running(self) -> Iterator[None]:
        """Hold the gate while a page script runs (however it ends: rerun, stop, error)."""
        with self._cond:
            self._pages += 1
        try:
            yield
        finally:
            with self._cond:
                self._pages -= 1
                if self._pages == 0:
                    self._cond.notify_all()

    @property
    def pages_running(self) -> int:
        return self._pages

    def _busy(self) -> bool:
        return self._pages > 0

    def yield_to_pages(self) -> float:
        """Wait while a page runs (at most ``max_pause``); the seconds waited."""
        if not self._busy() or time.monotonic() < self._work_until:  # the common case: no lock taken
            return 0.0
        start = time.monotonic()
        with self._cond:
            self._cond.wait_for(lambda: not self._busy(), timeout=self.max_pause)
        end = time.monotonic()
        if end - start >= self.max_pause:
            self._work_until = end + self.min_work
        return end - start


#: The one gate of this server process.
GATE = PageGate()
