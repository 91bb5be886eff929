"""Give back what Streamlit holds for a session that has ended: its uploads (and its media files).

Streamlit (1.67) keeps every upload's bytes in its ``UploadedFileManager`` until the session
shuts down. A tab that closes is only *disconnected*: the session waits in ``MemorySessionStorage``
for ``server.disconnectedSessionTTL`` seconds so the tab can reconnect, and when that time runs out
the storage forgets it without shutting it down, so ``remove_session_files`` never runs and the
uploads stay held for the life of the server (issue 23: 800 MB still held minutes after the tab
closed). Streamlit gives no public hook for "session ended", so a daemon thread sweeps every
``RAGVIZ_SESSION_SWEEP_S`` seconds (default 10): a session that holds uploads (or that ran this
app) and has not been active for longer than the TTL can no longer be resumed (the storage treats
it as gone), so its uploads and media references are released.

Two more rules bound what a live session holds, since Streamlit keeps any number of uploads under
any file id a client PUTs: a session that never ran this app (a client that only uploads; a browser
always runs the app before it shows an uploader) has its uploads released at the next sweep, and a
session that holds more than one file per kind of upload can hold (:func:`session_upload_cap`, the
sum of the per-kind limits) loses its oldest files until it fits.

Runtime API used: ``runtime.exists``/``get_instance``, ``Runtime.is_active_session`` (thread-safe,
as documented there), ``Runtime.uploaded_file_mgr.remove_session_files`` (the manager's abstract
interface), ``Runtime.media_file_mgr.clear_session_refs``/``remove_orphaned_files`` (thread-safe).
One name is not part of any interface and cannot be avoided: the sessions that hold uploads, and
the sizes of their files, are read from ``MemoryUploadedFileManager.file_storage`` (and a surplus
file is dropped with its ``remove_file``, as ``st.chat_input`` drops its own), because a session that never
ran the script (a client that only uploads) is known nowhere else; a manager of another kind is
left alone. ``tests/test_upload_memory.py`` fails if an upgrade changes this.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable

from ragviz.safety.limits import KINDS, Limits, get_limits

_LOGGER = logging.getLogger(__name__)
SWEEP_ENV = "RAGVIZ_SESSION_SWEEP_S"
DEFAULT_SWEEP_S = 10.0
_MAX_TRACKED = 100_000  # sessions remembered at once (a bound, far above any class)

_lock = threading.Lock()
_tracked: set[str] = set()  # sessions that ran this app, until released
_inactive_since: dict[str, float] = {}
_started = False


def ended_sessions(candidates: Iterable[str], is_active: Callable[[str], bool], inactive_since: dict[str, float],
                   now: float, ttl_s: float) -> list[str]:
    """The sessions that have not been active for longer than ``ttl_s``; updates ``inactive_since``.

    Pure bookkeeping: a session seen active is forgotten from ``inactive_since``; one seen inactive
    for the first time starts its clock at ``now`` (so the clock never starts before the real
    disconnection, and nothing is released early); one whose clock passed ``ttl_s`` is returned
    and forgotten. Sessions no longer among the candidates are forgotten too.
    """
    candidates = set(candidates)
    ended = []
    for session_id in candidates:
        if is_active(session_id):
            inactive_since.pop(session_id, None)
            continue
        since = inactive_since.setdefault(session_id, now)
        if now - since > ttl_s:
            ended.append(session_id)
            del inactive_since[session_id]
    for session_id in set(inactive_since) - candidates:
        del inactive_since[session_id]
    return sorted(ended)


def surplus_files(files: list[tuple[str, int]], cap: int) -> list[str]:
    """The oldest of ``files`` ((file id, bytes), oldest first) to drop so the rest fit in ``cap`` bytes.

    The newest file is always kept: it passed Streamlit's own size limit and is what the student just sent.
    """
    total = sum(size for _, size in files)
    drop: list[str] = []
    for file_id, size in files[:-1]:
        if total <= cap:
            break
        drop.append(file_id)
        total -= size
    return drop


def session_upload_cap(limits: Limits | None = None) -> int:
    """The most upload bytes one session may have held: one file of each kind at its limit."""
    lim = get_limits() if limits is None else limits
    return sum(lim.upload_bytes_for(kind) for kind in KINDS)


def sweep_interval(environ: dict[str, str] | None = None) -> float:
    """Seconds between sweeps, from ``RAGVIZ_SESSION_SWEEP_S`` (a bad value: the default)."""
    raw = (os.environ if environ is None else environ).get(SWEEP_ENV, "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_SWEEP_S
    return value if 0.1 <= value <= 3600 else DEFAULT_SWEEP_S


def _held(manager: object) -> dict[str, list[tuple[str, int]]]:
    """Session id -> its uploads (file id, bytes), oldest first; empty for a manager of another kind."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    if not isinstance(manager, MemoryUploadedFileManager):
        return {}
    for _ in range(5):  # another thread may add a file while they are copied
        try:
            return {sid: [(fid, len(rec.data)) for fid, rec in list(files.items())]
                    for sid, files in list(manager.file_storage.items())}
        except RuntimeError:
            continue
    return {}


def _give_back_freed_memory() -> None:
    """Ask glibc to return freed pages to the system, so other processes (replicas) can use them."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the allocator keeps the pages for this process's next uploads


def sweep_once(now: float | None = None) -> list[str]:
    """Release what Streamlit holds for every session that has ended; returns their ids."""
    import streamlit as st
    from streamlit import runtime

    if not runtime.exists():
        return []
    instance = runtime.get_instance()
    manager = instance.uploaded_file_mgr
    ttl = float(st.get_option("server.disconnectedSessionTTL"))
    held = _held(manager)
    with _lock:
        strangers = set(held) - _tracked  # never ran this app: no uploader of ours asked for these files
        ended = ended_sessions(_tracked | set(held), instance.is_active_session, _inactive_since,
                               time.monotonic() if now is None else now, ttl)
        _tracked.difference_update(ended)
    for session_id in ended:
        manager.remove_session_files(session_id)
        instance.media_file_mgr.clear_session_refs(session_id)
    for session_id in strangers - set(ended):
        manager.remove_session_files(session_id)
    cap = session_upload_cap()
    trimmed = 0
    for session_id in set(held) - strangers - set(ended):
        for file_id in surplus_files(held[session_id], cap):
            manager.remove_file(session_id, file_id)  # type: ignore[attr-defined]  # the memory manager's own
            trimmed += 1
    if strangers or trimmed:
        _give_back_freed_memory()
        _LOGGER.info("Released the uploads of %d session(s) that never ran the app and %d file(s) over a "
                     "session's share.", len(strangers), trimmed)
    if ended:
        instance.media_file_mgr.remove_orphaned_files()
        _give_back_freed_memory()
        _LOGGER.info("Released the uploads and media of %d ended session(s).", len(ended))
    return ended


def _sweep_forever(interval: float) -> None:
    while True:
        time.sleep(interval)
        try:
            sweep_once()
        except Exception:  # noqa: BLE001 - the sweeper must outlive a bad moment; the log says what
            _LOGGER.exception("The upload sweep failed; it tries again in %.0f s.", interval)


def track_session() -> None:
    """Call on every script run: remember this session and make sure the sweeper runs."""
    global _started
    from streamlit import runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None or not runtime.exists():
        return  # not a served app (AppTest, scripts): Streamlit holds nothing to release
    with _lock:
        if len(_tracked) < _MAX_TRACKED:
            _tracked.add(ctx.session_id)
        if _started:
            return
        _started = True
    threading.Thread(target=_sweep_forever, args=(sweep_interval(),), name="ragviz-upload-sweeper",
                     daemon=True).start()
