"""The limit on live sessions per client address (``RAGVIZ_MAX_SESSIONS_PER_ADDRESS``), at the door.

Every script run asks :func:`admit_session` first, before the session's state or anything else is
made. A session already admitted always goes on; a new one goes on while its client address has
fewer live sessions than the limit, else it sees one message and nothing more is allocated for it.

The address comes from what Streamlit exposes publicly: ``st.context.ip_address`` and, only when
that peer is a trusted proxy (``RAGVIZ_TRUSTED_PROXIES``), its ``X-Real-IP``/``X-Forwarded-For``
header from ``st.context.headers`` (:mod:`ragviz.safety.client_address`). A session is live while
``Runtime.is_active_session`` says so (public and thread-safe): a closed tab stops counting at once.
"""

from __future__ import annotations

import os
import threading

import streamlit as st

from ragviz.safety import client_address as clients
from ragviz.safety.limits import get_limits
from ragviz.safety.safe_text import md_escape

_lock = threading.Lock()
_sessions: dict[str, str | None] = {}  # admitted session id -> client address


def _is_live(session_id: str) -> bool:
    from streamlit import runtime

    return runtime.exists() and runtime.get_instance().is_active_session(session_id)


def this_client() -> str | None:
    """This session's client address (see :func:`ragviz.safety.client_address.client_address`)."""
    return clients.client_address(st.context.ip_address, dict(st.context.headers),
                                  clients.trusted_proxies(os.environ.get(clients.TRUSTED_PROXIES_ENV)))


def admit_session() -> bool:
    """Whether this session may go on; when not, it has been shown why (and should stop)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return True
    session_id, address = ctx.session_id, this_client()
    limit = get_limits().sessions_per_address
    with _lock:
        if session_id in _sessions:
            return True
        for gone in [sid for sid in _sessions if not _is_live(sid)]:  # closed tabs free their place
            del _sessions[gone]
        if clients.may_open(session_id, address, _sessions, _is_live, limit):
            _sessions[session_id] = address
            return True
    st.error(md_escape(clients.refusal_message(limit)), icon=":material/block:")
    return False
