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
``RAGVIZ_HEARTBEAT_S``         90       seconds a run survives its tab's disconnection (or,
                                        outside the app, without anyone polling it)
``RAGVIZ_SESSION_SWEEP_S``     10       seconds between sweeps that release a closed tab's
                                        uploads (:mod:`ragviz.ui.session_uploads`)
``RAGVIZ_MAX_TASKS``           20000    tasks in one graph (work budget)
``RAGVIZ_MAX_EDGES``           200000   edges in one graph (work budget)
``RAGVIZ_MAX_RELATIONS``       1000     relation types one graph declares (work budget)
``RAGVIZ_MAX_POINTS``          5000000  train + test points over all tasks (work budget)
``RAGVIZ_MAX_ACTIVATIONS_M``   400      millions of numbers a model holds for a graph:
                                        model size × points (work budget); K times that
                                        for the K models of "How sure is the model?"
``RAGVIZ_MAX_TEXT_ROWS``       20000    rows of one text table (each is encoded once)
``RAGVIZ_MAX_TEXT_CHARS``      2000000  characters of all texts of one text table
``RAGVIZ_MAX_RUNS``            4        training runs at once on the server (more wait)
``RAGVIZ_MAX_STEPS``           1000000  training steps one run may ask for
``RAGVIZ_MAX_RUN_SECONDS``     3600     seconds one run may train (then it stops, keeping
                                        what it learned)
``RAGVIZ_MAX_EVALUATIONS``     500      evaluations kept per run (eval_every is raised)
``RAGVIZ_MAX_UNDO_MB``         50       memory of one session's undo history
``RAGVIZ_MAX_KEPT_UPLOADS``    10       uploaded checkpoints one session keeps listed
``RAGVIZ_MAX_KEPT_UPLOADS_MB`` 400      their total size
``RAGVIZ_MAX_MODELS_FILES``    1000     checkpoints in the shared models folder
``RAGVIZ_MAX_MODELS_MB``       2000     their total size
=============================  =======  ============================================

One more, too long a name for the table: ``RAGVIZ_MAX_SESSIONS_PER_ADDRESS`` (default 12), the
live sessions (tabs) one client address may hold, room for a classroom behind one NAT address
(:mod:`ragviz.safety.client_address`; behind a proxy, set ``RAGVIZ_TRUSTED_PROXIES``).

The work budget (:func:`check_budget`) is checked wherever work enters, before anything
is allocated: graph validation, every importer, the generator, opening a checkpoint,
preparing data for training and tracing a model for the pages.

Streamlit's own ``server.maxUploadSize`` caps what reaches the app at all, and Streamlit holds
any upload up to it in memory: set it to the largest per-kind limit, in Streamlit's megabytes
of 2**20 bytes (:func:`ragviz.safety.uploads.server_upload_mb`: 191 for the 200 MB checkpoint
limit). On a shared server also set ``server.disconnectedSessionTTL`` low (say 30 s) so closed
tabs free their memory soon.

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
    "max_relations": ("RAGVIZ_MAX_RELATIONS", 1_000.0),
    "max_text_rows": ("RAGVIZ_MAX_TEXT_ROWS", 20_000.0),
    "max_text_chars": ("RAGVIZ_MAX_TEXT_CHARS", 2_000_000.0),
    "max_points": ("RAGVIZ_MAX_POINTS", 5_000_000.0),
    "max_activations_m": ("RAGVIZ_MAX_ACTIVATIONS_M", 400.0),
    "max_runs": ("RAGVIZ_MAX_RUNS", 4.0),
    "max_evaluations": ("RAGVIZ_MAX_EVALUATIONS", 500.0),
    "max_steps": ("RAGVIZ_MAX_STEPS", 1_000_000.0),
    "max_run_seconds": ("RAGVIZ_MAX_RUN_SECONDS", 3600.0),
    "undo_mb": ("RAGVIZ_MAX_UNDO_MB", 50.0),
    "kept_uploads": ("RAGVIZ_MAX_KEPT_UPLOADS", 10.0),
    "kept_uploads_mb": ("RAGVIZ_MAX_KEPT_UPLOADS_MB", 400.0),
    "models_files": ("RAGVIZ_MAX_MODELS_FILES", 1000.0),
    "models_mb": ("RAGVIZ_MAX_MODELS_MB", 2000.0),
    "sessions_per_address": ("RAGVIZ_MAX_SESSIONS_PER_ADDRESS", 12.0),
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
    max_steps: int = 1_000_000
    max_run_seconds: float = 3600.0
    max_relations: int = 1_000
    max_text_rows: int = 20_000
    max_text_chars: int = 2_000_000
    models_files: int = 1000
    models_bytes: int = 2000 * MB
    audio_bytes: int = 2 * MB
    max_audio_s: float = 10.0
    sessions_per_address: int = 12

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
        max_steps=max(1, int(v["max_steps"])),
        max_run_seconds=float(v["max_run_seconds"]),
        max_relations=max(1, int(v["max_relations"])),
        max_text_rows=max(2, int(v["max_text_rows"])),
        max_text_chars=max(1, int(v["max_text_chars"])),
        models_files=max(1, int(v["models_files"])),
        models_bytes=int(v["models_mb"] * MB),
        audio_bytes=min(upload, int(v["audio_mb"] * MB)),
        max_audio_s=float(v["audio_s"]),
        sessions_per_address=max(1, int(v["sessions_per_address"])),
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


#: The propagated strategy's sizes (:mod:`ragviz.model.unseen.propagated`, which this layer may not import;
#: ``tests/test_budget.py`` checks they agree).
PROPAGATION_SOLVE_MAX_TASKS = 256
PROPAGATION_SWEEPS = 24


def activation_count(
    tasks: int, edges: int, points: int, *, input_dim: int = 2, n_outputs: int = 2,
    embed_dim: int = 16, hidden: int = 32, layers: int = 2, relations: int = 0,
    composition: str = "mult", aggregation: str = "mean", n_bases: int = 4, decoder: str = "linear",
    unseen_state: str = "propagated",
) -> int:
    """About how many numbers a model holds while it trains on or traces a graph: model size × points.

    Derived from the code that allocates (:mod:`ragviz.model.rag`, :mod:`ragviz.model.layouts`).
    Points pass through the encoder (input and H numbers each); each task gets its generated
    decoder (FiLM γ, β and a head: H·(2 + outputs)); every layer keeps each task's state and each
    message (2 per edge plus a self-loop per task, d numbers each), as the trace does, and the
    relation states of its 2R + 1 slots (forward, inverse, self-loop). Sum and mean aggregation of
    ``mult``/``sub``/``none`` messages (``aggregate_sparse``) compose every task with every slot:
    N × (2R + 1) × d per layer, so declared relations count even without edges. ``rgcn`` holds
    B bases of d × d per layer, each task through each basis (N × B × d, the einsum) and each
    message's basis mix before the sum (E' × B × d). The ``mix`` and ``blended`` decoders pass
    every message's head, (H + 1) × outputs numbers, at each of max(L, 1) hops, about six times
    over (the head sent, its label flip, their blend, weighted; autograd keeps most of them).
    The ``propagated`` unseen-task strategy (:mod:`ragviz.model.unseen.propagated`) solves its fixed
    point twice a pass (start and close): up to :data:`PROPAGATION_SOLVE_MAX_TASKS` tasks as two
    N × N systems and their inverse (kept for autograd), beyond that by :data:`PROPAGATION_SWEEPS`
    sparse sweeps, each holding every task's state twice, after one sparse matrix of the messages.
    """
    d = embed_dim
    slots = 2 * relations + 1
    messages = 2 * edges + tasks
    per_layer = (2 * tasks + 2 * edges) * d + slots * d
    if composition == "rgcn":
        per_layer += n_bases * d * d + (tasks + messages) * n_bases * d + slots * n_bases
    elif aggregation in ("sum", "mean"):
        per_layer += tasks * slots * d
    heads = 6 * max(layers, 1) * messages * (hidden + 1) * n_outputs if decoder in ("mix", "blended") else 0
    propagation = 0
    if unseen_state == "propagated":
        propagation = 2 * (8 * tasks * tasks if tasks <= PROPAGATION_SOLVE_MAX_TASKS
                           else PROPAGATION_SWEEPS * 2 * tasks * d + 4 * messages)
    return int(points * (input_dim + hidden) + tasks * hidden * (2 + n_outputs) + (layers + 1) * per_layer + heads
               + propagation)


def _refuse(what: str, value: int, limit: int, variable: str, advice: str, at_least: bool = False) -> BudgetError:
    amount = f"at least {value:,}" if at_least else f"{value:,}"
    return BudgetError(f"{what} is {amount}; this server's limit is {limit:,}. {advice} "
                       f"(The server's administrator can raise the limit with {variable}.)")


def check_budget(
    *,
    tasks: int = 0,
    edges: int = 0,
    points: int = 0,
    relations: int = 0,
    model: Any = None,
    input_dim: int = 2,
    n_outputs: int = 2,
    grid_points: int = 0,
    limits: Limits | None = None,
    subject: str = "The graph",
    at_least: bool = False,
    models: int = 1,
) -> None:
    """Refuse work over this server's budget before anything is allocated; raises :class:`BudgetError`.

    ``model`` is anything with ``embed_dim``, ``hidden`` and ``layers`` (a ``ModelConfig``; its
    ``composition``, ``aggregation`` and ``n_bases`` are read when present); without one only the
    counts are checked. ``relations`` is the number of relation types the graph declares.
    ``grid_points`` are the points a page evaluates per task to draw a decision surface. The
    message names the number that is too big; ``at_least`` says the counts stopped at the limit
    (a file refused while it is read). ``models`` is how many models train together: the ensemble of
    "How sure is the model?" trains K in one vectorised run, each member holding its own activations,
    so it weighs K times one model's work.
    """
    lim = get_limits() if limits is None else limits
    models = max(1, int(models))
    tasks, edges, points, relations = int(tasks), int(edges), int(points), int(relations)
    if tasks > lim.max_tasks:
        raise _refuse(f"{subject}'s number of tasks", tasks, lim.max_tasks, "RAGVIZ_MAX_TASKS",
                      "Use fewer tasks.", at_least)
    if edges > lim.max_edges:
        raise _refuse(f"{subject}'s number of edges", edges, lim.max_edges, "RAGVIZ_MAX_EDGES",
                      "Use fewer edges (a sparser graph or fewer tasks).", at_least)
    if relations > lim.max_relations:
        raise _refuse(f"{subject}'s number of relation types", relations, lim.max_relations, "RAGVIZ_MAX_RELATIONS",
                      "Use fewer relation types.", at_least)
    if points > lim.max_points:
        raise _refuse(f"{subject}'s total of train + test points", points, lim.max_points, "RAGVIZ_MAX_POINTS",
                      "Use smaller train and test sizes, or fewer tasks.")
    if model is not None:
        composition = str(getattr(model, "composition", "mult"))
        n_bases = int(getattr(model, "n_bases", 4))
        count = activation_count(tasks, edges, points + grid_points, input_dim=input_dim, n_outputs=n_outputs,
                                 embed_dim=int(model.embed_dim), hidden=int(model.hidden), layers=int(model.layers),
                                 relations=relations, composition=composition,
                                 aggregation=str(getattr(model, "aggregation", "mean")), n_bases=n_bases,
                                 decoder=str(getattr(model, "decoder", "linear")),
                                 unseen_state=str(getattr(model, "unseen_state", "propagated"))) * models
        if count > lim.max_activations:
            bases = f", {n_bases} rgcn bases" if composition == "rgcn" else ""
            which = "this model" if models == 1 else f"these {models} models trained together"
            size = "model size × points" if models == 1 else f"{models} × model size × points"
            raise _refuse(
                f"The work of {which} on {subject[0].lower() + subject[1:]} ({size}: about "
                f"{count / 1e6:,.0f} million numbers for {tasks:,} tasks, {edges:,} edges, {relations:,} relation "
                f"type{'' if relations == 1 else 's'}, {points:,} points, embedding {model.embed_dim}, "
                f"width {model.hidden}, {model.layers} layers{bases})",
                count, lim.max_activations, "RAGVIZ_MAX_ACTIVATIONS_M",
                "Use a smaller embedding size, encoder width or number of layers, or fewer tasks, edges, "
                "relation types or points" + ("." if models == 1 else ", or fewer models."))


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


def check_graph_budget(tasks: int, edges: int, points: int, model: Any = None, *, relations: int = 0,
                       input_dim: int = 2, n_outputs: int = 2, grid_points: int = 0,
                       limits: Limits | None = None, models: int = 1) -> None:
    """:func:`check_budget` for a graph's counts (``TaskGraph.work_counts()``, its relation types) and
    optionally a model config (``models`` of them trained together). Takes numbers, not the graph:
    limits sit below the graph and never call up.
    """
    check_budget(tasks=tasks, edges=edges, points=points, relations=relations, model=model, input_dim=input_dim,
                 n_outputs=n_outputs, grid_points=grid_points, limits=limits, models=models)


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
