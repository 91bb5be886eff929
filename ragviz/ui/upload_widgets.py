"""File uploaders that show, and hold to, the real size limit of what they take.

Every uploader goes through here, so the widget's own "… per file" text, the help text and
the refusal all state the same limit: the kind's configured limit (:mod:`ragviz.safety.limits`),
or Streamlit's ``server.maxUploadSize`` when that is smaller, since nothing larger reaches
the app at all.

An upload is held only while the app needs it: once read, :func:`release_upload` drops
Streamlit's copy of the bytes and gives the uploader a new key, so the widget starts empty (what
the app keeps is the parsed result). What a session still holds when it ends is released by
:mod:`ragviz.ui.session_uploads`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ragviz.safety.uploads import limit_help, read_upload, upload_limit, widget_size_mb
from ragviz.ui.state import AppState


def real_limit(kind: str) -> int:
    """The size limit in bytes that an upload of ``kind`` really meets on this server."""
    return upload_limit(kind, float(st.get_option("server.maxUploadSize")))


def file_uploader(label: str, kind: str, help: str | None = None, **kwargs: Any) -> Any:
    """``st.file_uploader`` whose per-file limit and help text are the real limit of ``kind``."""
    limit = real_limit(kind)
    text = limit_help(kind, limit)
    return st.file_uploader(label, max_upload_size=widget_size_mb(limit), help=f"{help} {text}" if help else text,
                            **kwargs)


def read_uploaded(file: Any, kind: str) -> bytes:
    """An uploaded file's bytes within the real limit of ``kind``; too big raises the kind's error."""
    return read_upload(file, kind, max_bytes=real_limit(kind))


def uploader_key(state: AppState, key: str) -> str:
    """The widget key of the uploader ``key`` now: a new one after each release, so it starts empty."""
    return f"{key}#{state.upload_rounds.get(key, 0)}"


def release_upload(state: AppState, key: str, file: Any) -> None:
    """The app has read ``file`` (the uploader ``key``'s value): stop holding its bytes.

    Streamlit keeps an upload in its ``UploadedFileManager`` until the session ends and offers no
    public call to drop one; ``st.chat_input`` drops its own files after reading them with the memory
    manager's ``remove_file``, and so does this, for that manager only (another keeps its files
    until the session ends, as before).
    """
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    file_id = getattr(file, "file_id", None)
    if ctx is not None and isinstance(file_id, str) and isinstance(ctx.uploaded_file_mgr, MemoryUploadedFileManager):
        ctx.uploaded_file_mgr.remove_file(ctx.session_id, file_id)
    close = getattr(file, "close", None)
    if callable(close):
        close()  # the widget's own copy (a BytesIO over the same bytes)
    state.upload_rounds[key] = state.upload_rounds.get(key, 0) + 1
