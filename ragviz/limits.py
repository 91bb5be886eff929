"""Configurable limits for a shared server, in one place (issue 6).

Everything a stranger's upload or click can make big is bounded here, so an
administrator can tune a class server with environment variables instead of code:

=============================  =======  ============================================
variable                       default  what it bounds
=============================  =======  ============================================
``RAGVIZ_MAX_UPLOAD_MB``       200      any upload (the ceiling for the three below)
``RAGVIZ_MAX_GRAPH_MB``        5        a task-graph file (.json, .graphml, .csv, .zip;
                                        also each file unpacked from a .zip)
``RAGVIZ_MAX_TABLE_MB``        20       a data table (.csv) for ``csv`` tasks
``RAGVIZ_MAX_CHECKPOINT_MB``   200      a checkpoint (.safetensors)
``RAGVIZ_HEARTBEAT_S``         90       seconds a run survives without its page polling
=============================  =======  ============================================

Streamlit's own ``server.maxUploadSize`` (default 200 MB) caps what reaches the app at
all; keep it at or above these. On a shared server also set
``server.disconnectedSessionTTL`` low (say 30 s) so closed tabs free their memory soon.

Values are read from the environment on every call (cheap), so tests and a restarted
server see changes at once. A value that is not a positive number is ignored with a
warning and the default is used: a typo in a server's environment must not take the app
down. Megabytes are decimal (1 MB = 1,000,000 bytes), as file browsers show them.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

MB = 1_000_000

#: name -> (environment variable, default)
_SPEC: dict[str, tuple[str, float]] = {
    "upload_mb": ("RAGVIZ_MAX_UPLOAD_MB", 200.0),
    "graph_mb": ("RAGVIZ_MAX_GRAPH_MB", 5.0),
    "table_mb": ("RAGVIZ_MAX_TABLE_MB", 20.0),
    "checkpoint_mb": ("RAGVIZ_MAX_CHECKPOINT_MB", 200.0),
    "heartbeat_s": ("RAGVIZ_HEARTBEAT_S", 90.0),
}

#: Upload kinds and the limit each uses.
KINDS = ("graph", "table", "checkpoint")


@dataclass(frozen=True)
class Limits:
    """One consistent reading of every limit (sizes in bytes)."""

    upload_bytes: int
    graph_bytes: int
    table_bytes: int
    checkpoint_bytes: int
    heartbeat_s: float

    def upload_bytes_for(self, kind: str) -> int:
        """The size limit of one kind of upload: ``graph``, ``table`` or ``checkpoint``."""
        if kind not in KINDS:
            raise ValueError(f"Unknown upload kind {kind!r}; use one of {', '.join(KINDS)}.")
        return getattr(self, f"{kind}_bytes")


def _read(environ: Mapping[str, str], name: str) -> float:
    variable, default = _SPEC[name]
    raw = environ.get(variable)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        warnings.warn(f"{variable}={raw!r} is not a positive number; using the default {default:g}.", stacklevel=3)
        return default
    return value


def get_limits(environ: Mapping[str, str] | None = None) -> Limits:
    """Read every limit from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    v = {name: _read(env, name) for name in _SPEC}
    upload = int(v["upload_mb"] * MB)
    return Limits(
        upload_bytes=upload,
        graph_bytes=min(upload, int(v["graph_mb"] * MB)),
        table_bytes=min(upload, int(v["table_mb"] * MB)),
        checkpoint_bytes=min(upload, int(v["checkpoint_mb"] * MB)),
        heartbeat_s=float(v["heartbeat_s"]),
    )


def max_upload_bytes(kind: str) -> int:
    """Shorthand for pages and importers: the current size limit of one upload kind."""
    return get_limits().upload_bytes_for(kind)


def size_text(n_bytes: float) -> str:
    """Bytes as people read them: '512 bytes', '3.2 kB', '20 MB'."""
    if n_bytes < 1000:
        return f"{int(n_bytes)} bytes"
    if n_bytes < MB:
        return f"{n_bytes / 1000:.1f} kB"
    return f"{n_bytes / MB:.1f} MB".replace(".0 MB", " MB")


def too_big_message(what: str, size: int | None, limit: int) -> str:
    """The one wording of a size refusal, so every upload explains it alike.

    ``size`` is None when only 'more than the limit' is known (a stream cut short).
    """
    got = f"is {size_text(size)}" if size is not None else f"is larger than {size_text(limit)}"
    return (f"The {what} {got}; the limit is {size_text(limit)}. "
            "Use a smaller file, or ask the server's administrator to raise the limit.")
