"""File uploaders that show, and hold to, the real size limit of what they take.

Every uploader goes through here, so the widget's own "… per file" text, the help text and
the refusal all state the same limit: the kind's configured limit (:mod:`ragviz.safety.limits`),
or Streamlit's ``server.maxUploadSize`` when that is smaller, since nothing larger reaches
the app at all.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ragviz.safety.uploads import limit_help, read_upload, upload_limit, widget_size_mb


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
