"""A student's session without a browser: Streamlit's own websocket protocol, a few KB of memory.

A headless Chromium costs a core's worth of CPU and ~150 MB per tab, so on a small machine the
browsers, not the app, are what saturate. This client speaks what the browser speaks to the
server (``/_stcore/stream``, protobuf ``BackMsg``/``ForwardMsg`` from ``streamlit.proto``):
it asks for a page run, clicks a button or submits a form by sending widget states, answers
the server's auto-rerun requests for fragments (the sidebar's run status polls every second),
and reads what the page drew (alerts, metrics, exceptions). Through nginx it sends the
affinity cookie, so it sticks to one replica like a browser does.

It does not render anything, so it measures the server's side of a rerun: request sent to
``script_finished`` received.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
            ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
#: How long an auto-rerun of a fragment is waited for: the server drops one for a fragment that no longer exists.
FRAGMENT_WAIT_S = 15.0


@dataclass
class PageView:
    """What the last full run drew that a student reads: alerts, metrics, widgets, exceptions."""

    alerts: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    widgets: dict[str, Any] = field(default_factory=dict)  # label -> proto (number_input, button)
    buttons: dict[str, Any] = field(default_factory=dict)  # id -> proto
    exceptions: list[str] = field(default_factory=list)


class WsSession:
    """One Streamlit session over one websocket; every wait is bounded by ``timeout``."""

    def __init__(self, url: str, cookie: str | None = None, timeout: float = 120.0) -> None:
        self.ws_url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.cookie = cookie
        self.timeout = timeout
        self.view = PageView()
        self.page_name = ""
        self.page_hash = ""
        self.reruns: list[float] = []  # seconds per full page run this client asked for
        self._ws: Any = None
        self._finished = 0
        self._changed = asyncio.Condition()
        self._auto: dict[str, float] = {}  # fragment id -> interval (s)
        self._busy = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        self.closed = asyncio.Event()

    async def connect(self) -> None:
        headers = {"Cookie": f"ragviz_replica={self.cookie}"} if self.cookie else None
        self._ws = await asyncio.wait_for(websockets.connect(
            self.ws_url, subprotocols=["streamlit"], additional_headers=headers, max_size=2**26,
            open_timeout=self.timeout, ping_interval=20, ping_timeout=60), self.timeout)
        self.closed.clear()
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._auto_reruns())]

    async def close(self, wait_s: float = 2.0) -> None:
        """Stop reading and polling, and close the socket; bounded (a lost peer never answers a close)."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=wait_s)
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), wait_s)
        self.closed.set()

    # ------------------------------------------------------------------ receiving
    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                if isinstance(raw, str):
                    continue
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                await self._handle(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            async with self._changed:
                self._changed.notify_all()

    async def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session" and not msg.metadata.run.fragment_ids:
            self.view = PageView()  # a full run redraws the page
        elif kind == "navigation" and msg.navigation.page_script_hash:
            self.page_hash = msg.navigation.page_script_hash  # later runs (fragments too) name the page by it
            self._auto.clear()
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element)
        elif kind == "auto_rerun":
            self._auto[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            self._auto.pop(str(getattr(msg, "stop_auto_rerun", "")), None)
        elif kind == "script_finished" and msg.script_finished in FINISHED:
            async with self._changed:
                self._finished += 1
                self._changed.notify_all()

    def _element(self, element: Any) -> None:
        kind = element.WhichOneof("type")
        if kind == "alert":
            self.view.alerts.append(element.alert.body)
        elif kind == "metric":
            self.view.metrics[element.metric.label] = element.metric.body
        elif kind == "exception":
            self.view.exceptions.append(f"{element.exception.type}: {element.exception.message}"[:300])
        elif kind in ("number_input", "button"):
            proto = getattr(element, kind)
            self.view.widgets[proto.label] = proto
            if kind == "button":
                self.view.buttons[proto.id] = proto

    # ------------------------------------------------------------------ sending
    async def _run(self, widget_states: list[WidgetState] | None = None, fragment_id: str = "",
                   wait_s: float | None = None) -> float:
        """Ask for a run and wait (``wait_s``, default the session's timeout) until it has finished; its seconds."""
        async with self._busy:
            async with self._changed:
                seen = self._finished
            back = BackMsg()
            state = back.rerun_script
            state.page_name = self.page_name
            state.page_script_hash = self.page_hash
            state.widget_states.widgets.extend(widget_states or [])
            if fragment_id:
                state.fragment_id = fragment_id
                state.is_auto_rerun = True
            started = time.monotonic()
            try:
                await self._ws.send(back.SerializeToString())
            except websockets.ConnectionClosed as err:
                raise ConnectionError(f"the server closed the session: {err}") from err
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: self._finished > seen or self.closed.is_set()),
                                       self.timeout if wait_s is None else wait_s)
            if self.closed.is_set():
                raise ConnectionError("the server closed the session")
            return time.monotonic() - started

    async def _auto_reruns(self) -> None:
        """What the browser does for ``st.fragment(run_every=…)``: rerun the fragment on its interval.

        The wait for its end is short: a request for a fragment that a full run has just removed (the
        page changed in between) is dropped by the server with "does not exist anymore", and no run ends.
        Waiting the session's whole timeout for it held every click behind it for 300 s, which the 60-session
        runs counted as results never shown; a browser never waits for a fragment's run.
        """
        while True:
            await asyncio.sleep(min(self._auto.values(), default=1.0))
            for fragment_id in list(self._auto):
                if not self._busy.locked():
                    with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
                        await self._run(fragment_id=fragment_id, wait_s=FRAGMENT_WAIT_S)

    async def open_page(self, page_name: str) -> float:
        """Go to a page (``""`` is Home), timing the full run; the time is kept in :attr:`reruns`."""
        self.page_name, self.page_hash = page_name, ""
        took = await self._run()
        self.reruns.append(took)
        return took

    async def click(self, button_id: str, **numbers: int) -> float:
        """Press a button (a form's submit button sends the form's numbers with it), timed."""
        states = []
        for label, value in numbers.items():
            proto = self.view.widgets[label.replace("_", " ").capitalize()]
            states.append(WidgetState(id=proto.id, int_value=value) if proto.data_type == proto.INT
                          else WidgetState(id=proto.id, double_value=float(value)))
        states.append(WidgetState(id=button_id, trigger_value=True))
        took = await self._run(states)
        self.reruns.append(took)
        return took

    def running(self) -> bool:
        """A run is going or queued: the sidebar's status fragment asked to be polled."""
        return bool(self._auto)

    def button_id(self, label_start: str = "", id_part: str = "") -> str:
        for bid, proto in self.view.buttons.items():
            if proto.label.startswith(label_start) and id_part in bid:
                return bid
        raise LookupError(f"no button {label_start!r} / {id_part!r} among "
                          f"{[p.label for p in self.view.buttons.values()]}")

    async def wait_for_alert(self, text: str, timeout: float) -> str:
        """Until an alert containing ``text`` is on the page (fragment polls bring the run's end)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for alert in self.view.alerts:
                if text in alert:
                    return alert
            if self.closed.is_set():
                raise ConnectionError("the server closed the session")
            await asyncio.sleep(0.2)
        raise TimeoutError(f"no alert with {text!r} within {timeout:.0f} s: {self.view.alerts}")
