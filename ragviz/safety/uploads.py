"""Reading an upload, the one way every uploader does it.

Graph files, data tables and checkpoints all arrive as a browser upload, a path or raw
bytes. :func:`read_upload` reads any of them no further than the kind's configured limit
(:mod:`ragviz.safety.limits`) and refuses a larger one with the kind's own error and the one
wording of :func:`~ragviz.safety.limits.too_big_message`, before anything is parsed.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from ragviz.safety.errors import CheckpointError, DataError, GraphError, RagvizError
from ragviz.safety.limits import KINDS, Limits, get_limits, max_upload_bytes, size_text, too_big_message

#: Streamlit's megabyte (``server.maxUploadSize``, an uploader's ``max_upload_size``) is 2**20 bytes.
STREAMLIT_MB = 1024 * 1024

#: kind -> (what the message calls it, the error a refusal raises)
UPLOAD_KINDS: dict[str, tuple[str, type[RagvizError]]] = {
    "graph": ("graph file", GraphError),
    "table": ("table", DataError),
    "checkpoint": ("checkpoint", CheckpointError),
    "audio": ("recording", DataError),
}


def upload_limit(kind: str, server_limit_mb: float | None = None) -> int:
    """The real size limit of one upload kind in bytes.

    ``server_limit_mb`` is Streamlit's ``server.maxUploadSize`` when known (in Streamlit's
    megabytes of 2**20 bytes): nothing larger reaches the app, so the real limit is the smaller.
    """
    limit = max_upload_bytes(kind)
    if server_limit_mb is not None and server_limit_mb > 0:
        limit = min(limit, int(server_limit_mb * STREAMLIT_MB))
    return limit


def widget_size_mb(limit_bytes: int) -> int:
    """The whole number of Streamlit megabytes (2**20 bytes) an uploader takes: the browser refuses a
    larger file at once, before sending it, and the app's exact check refuses what slips between."""
    return max(1, math.ceil(limit_bytes / STREAMLIT_MB))


def server_upload_mb(limits: Limits | None = None) -> int:
    """The value for Streamlit's ``server.maxUploadSize``: the largest real per-kind limit, in Streamlit's
    megabytes. Streamlit holds any upload up to that size in memory before the app sees it, so no larger."""
    lim = get_limits() if limits is None else limits
    return widget_size_mb(max(lim.upload_bytes_for(kind) for kind in KINDS))


def limit_help(kind: str, limit_bytes: int) -> str:
    """One sentence for an uploader's help text: the real limit in human units."""
    what, _ = UPLOAD_KINDS[kind]
    return f"A {what} may be at most {size_text(limit_bytes)}."


def _declared_size(source: Any) -> int | None:
    size = getattr(source, "size", None)
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _read_size(limit: int) -> int:
    """How much to read: one byte past the limit shows a file is too big (-1: no limit)."""
    return limit + 1 if limit < sys.maxsize else -1


def read_upload(source: Any, kind: str, max_bytes: int | None = None, what: str | None = None) -> bytes:
    """The bytes of an upload (a browser file, a file object, a path or bytes), within its limit.

    ``kind`` is ``graph``, ``table`` or ``checkpoint``; ``max_bytes`` overrides the
    configured limit (``None``: the limit of ``kind``). A larger file raises the kind's
    error (:class:`GraphError`, :class:`DataError`, :class:`CheckpointError`) with
    :func:`too_big_message`; at most ``max_bytes + 1`` bytes are ever read.
    """
    if kind not in UPLOAD_KINDS:
        raise ValueError(f"Unknown upload kind {kind!r}; use one of {', '.join(UPLOAD_KINDS)}.")
    default_what, error = UPLOAD_KINDS[kind]
    what = what or default_what
    limit = max_upload_bytes(kind) if max_bytes is None else int(max_bytes)

    def too_big(size: int | None) -> RagvizError:
        return error(too_big_message(what, size, limit))

    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) > limit:
            raise too_big(len(source))
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        name = os.path.basename(path)
        try:
            size = os.path.getsize(path)
        except OSError as err:
            raise error(f"Cannot open '{name}': {err.strerror or err}.") from None
        if size > limit:
            raise too_big(size)
        try:
            with open(path, "rb") as handle:
                data = handle.read(_read_size(limit))
        except OSError as err:
            raise error(f"Cannot read '{name}': {err.strerror or err}.") from None
    elif hasattr(source, "read"):
        declared = _declared_size(source)
        if declared is not None and declared > limit:
            raise too_big(declared)
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except (OSError, ValueError):
                pass
        try:
            data = source.read(_read_size(limit))
        except (OSError, ValueError) as err:
            raise error(f"Could not read the {what}: {err}.") from None
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, (bytes, bytearray)):
            raise error(f"Could not read the {what}: it gave {type(data).__name__}, not bytes.")
    else:
        raise error(f"Cannot read a {what} from {type(source).__name__}; give a file, a path or bytes.")
    if len(data) > limit:  # the file grew, or its declared size was wrong: cut off at the limit
        raise too_big(None)
    return bytes(data)
