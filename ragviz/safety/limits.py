"""Configurable limits for a shared server, in one place.

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
``RAGVIZ_MAX_AUDIO_MB``        2        a recording or audio file for speech tasks
``RAGVIZ_MAX_AUDIO_S``         10       its length in seconds
``RAGVIZ_HEARTBEAT_S``         90       seconds a run survives without its page polling
``RAGVIZ_MAX_TASKS``           20000    tasks in one graph (work budget)
``RAGVIZ_MAX_EDGES``           200000   edges in one graph (work budget)
``RAGVIZ_MAX_POINTS``          5000000  train + test points over all tasks (work budget)
``RAGVIZ_MAX_ACTIVATIONS_M``   400      millions of numbers a model holds for a graph:
                                        model size × points (work budget)
``RAGVIZ_MAX_RUNS``            4        training runs at once on the server (more wait)
``RAGVIZ_MAX_EVALUATIONS``     500      evaluations kept per run (eval_every is raised)
``RAGVIZ_MAX_UNDO_MB``         50       memory of one session's undo history
``RAGVIZ_MAX_KEPT_UPLOADS``    10       uploaded checkpoints one session keeps listed
``RAGVIZ_MAX_KEPT_UPLOADS_MB`` 400      their total size
=============================  =======  ============================================

The work budget (:func:`check_budget`) is checked wherever work enters, before anything
is allocated: graph validation, every importer, the generator, opening a checkpoint,
preparing data for training and tracing a model for the pages.

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
from typing import Any

from ragviz.safety.errors import GraphError

MB = 1_000_000

#: name -> (environment variable, default)
_SPEC: dict[str, tuple[str, float]] = {
    "upload_mb": ("RAGVIZ_MAX_UPLOAD_MB", 200.0),
    "graph_mb": ("RAGVIZ_MAX_GRAPH_MB", 5.0),
    "table_mb": ("RAGVIZ_MAX_TABLE_MB", 20.0),
    "checkpoint_mb": ("RAGVIZ_MAX_CHECKPOINT_MB", 200.0),
    "audio_mb": ("RAGVIZ_MAX_AUDIO_MB", 2.0),
    "audio_s": ("RAGVIZ_MAX_AUDIO_S", 10.0),
    "heartbeat_s": ("RAGVIZ_HEARTBEAT_S", 90.0),
    "max_tasks": ("RAGVIZ_MAX_TASKS", 20_000.0),
    "max_edges": ("RAGVIZ_MAX_EDGES", 200_000.0),
    "max_points": ("RAGVIZ_MAX_POINTS", 5_000_000.0),
    "max_activations_m": ("RAGVIZ_MAX_ACTIVATIONS_M", 400.0),
    "max_runs": ("RAGVIZ_MAX_RUNS", 4.0),
    "max_evaluations": ("RAGVIZ_MAX_EVALUATIONS", 500.0),
    "undo_mb": ("RAGVIZ_MAX_UNDO_MB", 50.0),
    "kept_uploads": ("RAGVIZ_MAX_KEPT_UPLOADS", 10.0),
    "kept_uploads_mb": ("RAGVIZ_MAX_KEPT_UPLOADS_MB", 400.0),
}

#: Upload kinds and the limit each uses.
KINDS = ("graph", "table", "checkpoint", "audio")


@dataclass(frozen=True)
class Limits:
    """One consistent reading of every limit (sizes in bytes)."""

    upload_bytes: int
    graph_bytes: int
    table_bytes: int
    checkpoint_bytes: int
    heartbeat_s: float
    max_tasks: int = 20_000
    max_edges: int = 200_000
    max_points: int = 5_000_000
    max_activations: int = 400_000_000
    max_runs: int = 4
    max_evaluations: int = 500
    undo_bytes: int = 50 * MB
    kept_uploads: int = 10
    kept_uploads_bytes: int = 400 * MB
    audio_bytes: int = 2 * MB
    max_audio_s: float = 10.0

    def upload_bytes_for(self, kind: str) -> int:
        """The size limit of one kind of upload: ``graph``, ``table``, ``checkpoint`` or ``audio``."""
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
        max_tasks=max(1, int(v["max_tasks"])),
        max_edges=max(1, int(v["max_edges"])),
        max_points=max(1, int(v["max_points"])),
        max_activations=max(1, int(v["max_activations_m"] * 1_000_000)),
        max_runs=max(1, int(v["max_runs"])),
        max_evaluations=max(2, int(v["max_evaluations"])),
        undo_bytes=int(v["undo_mb"] * MB),
        kept_uploads=max(1, int(v["kept_uploads"])),
        kept_uploads_bytes=int(v["kept_uploads_mb"] * MB),
        audio_bytes=min(upload, int(v["audio_mb"] * MB)),
        max_audio_s=float(v["audio_s"]),
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


# ----------------------------------------------------------------------------- work budget
class BudgetError(GraphError):
    """A graph, a generator's request or a checkpoint asks for more work than this server allows.

    A :class:`GraphError`, so every place that already explains a bad graph explains this too.
    """


def activation_count(
    tasks: int, edges: int, points: int, *, input_dim: int = 2, n_outputs: int = 2,
    embed_dim: int = 16, hidden: int = 32, layers: int = 2,
) -> int:
    """About how many numbers a model holds while it trains on or traces a graph: model size × points.

    Points pass through the encoder (input and H numbers each); each task gets its generated
    decoder (FiLM γ, β and a head: H·(2 + outputs)); every layer keeps each task's state and each
    message (2 per edge plus a self-loop per task, d numbers each), as the trace does.
    """
    per_layer = (2 * tasks + 2 * edges) * embed_dim
    return int(points * (input_dim + hidden) + tasks * hidden * (2 + n_outputs) + (layers + 1) * per_layer)


def _refuse(what: str, value: int, limit: int, variable: str, advice: str) -> BudgetError:
    return BudgetError(f"{what} is {value:,}; this server's limit is {limit:,}. {advice} "
                       f"(The server's administrator can raise the limit with {variable}.)")


def check_budget(
    *,
    tasks: int = 0,
    edges: int = 0,
    points: int = 0,
    model: Any = None,
    input_dim: int = 2,
    n_outputs: int = 2,
    grid_points: int = 0,
    limits: Limits | None = None,
    subject: str = "The graph",
) -> None:
    """Refuse work over this server's budget before anything is allocated; raises :class:`BudgetError`.

    ``model`` is anything with ``embed_dim``, ``hidden`` and ``layers`` (a ``ModelConfig``);
    without one only the counts are checked. ``grid_points`` are the points a page evaluates
    per task to draw a decision surface. The message names the number that is too big.
    """
    lim = get_limits() if limits is None else limits
    tasks, edges, points = int(tasks), int(edges), int(points)
    if tasks > lim.max_tasks:
        raise _refuse(f"{subject}'s number of tasks", tasks, lim.max_tasks, "RAGVIZ_MAX_TASKS",
                      "Use fewer tasks.")
    if edges > lim.max_edges:
        raise _refuse(f"{subject}'s number of edges", edges, lim.max_edges, "RAGVIZ_MAX_EDGES",
                      "Use fewer edges (a sparser graph or fewer tasks).")
    if points > lim.max_points:
        raise _refuse(f"{subject}'s total of train + test points", points, lim.max_points, "RAGVIZ_MAX_POINTS",
                      "Use smaller train and test sizes, or fewer tasks.")
    if model is not None:
        count = activation_count(tasks, edges, points + grid_points, input_dim=input_dim, n_outputs=n_outputs,
                                 embed_dim=int(model.embed_dim), hidden=int(model.hidden), layers=int(model.layers))
        if count > lim.max_activations:
            raise _refuse(
                f"The work of this model on {subject[0].lower() + subject[1:]} (model size × points: about "
                f"{count / 1e6:,.0f} million numbers for {tasks:,} tasks, {edges:,} edges, {points:,} points, "
                f"embedding {model.embed_dim}, width {model.hidden}, {model.layers} layers)",
                count, lim.max_activations, "RAGVIZ_MAX_ACTIVATIONS_M",
                "Use a smaller embedding size, encoder width or number of layers, or fewer tasks or points.")


def graph_points(graph: Any) -> int:
    """The train + test points a graph declares (what preparing its data would allocate)."""
    return sum(int(t.train_size) + int(t.test_size) for t in graph.tasks())


def _declared_size(value: Any, default: int) -> int:
    """A size as a file declares it; what cannot be read counts as the default (the reader refuses it later)."""
    if value is None:
        return default
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return int(number) if math.isfinite(number) and number > 0 else 0


def declared_points(nodes: Any, default_train: int = 40, default_test: int = 100) -> int:
    """The train + test points that a file's task records (dicts) declare, read before any task is built."""
    total = 0
    for node in nodes:
        if isinstance(node, Mapping):
            total += _declared_size(node.get("train_size"), default_train)
            total += _declared_size(node.get("test_size"), default_test)
    return total


def check_graph_budget(graph: Any, model: Any = None, *, input_dim: int = 2, n_outputs: int = 2,
                       grid_points: int = 0, limits: Limits | None = None) -> None:
    """:func:`check_budget` for a built :class:`~ragviz.graph.task_graph.TaskGraph` (and optionally a model config)."""
    check_budget(tasks=graph.number_of_tasks(), edges=graph.number_of_edges(), points=graph_points(graph),
                 model=model, input_dim=input_dim, n_outputs=n_outputs, grid_points=grid_points, limits=limits)


def keep_bounded(files: dict[str, bytes], limits: Limits | None = None) -> list[str]:
    """Drop a session's oldest kept uploads until their count and total size fit; returns the dropped names.

    The newest file is always kept (it was checked against the upload limit already).
    """
    lim = get_limits() if limits is None else limits
    dropped: list[str] = []
    while len(files) > 1 and (len(files) > lim.kept_uploads or sum(map(len, files.values())) > lim.kept_uploads_bytes):
        oldest = next(iter(files))
        del files[oldest]
        dropped.append(oldest)
    return dropped
