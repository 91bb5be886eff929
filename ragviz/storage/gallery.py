"""Listing and comparing checkpoints without loading their weights (docs/DESIGN.md §5).

A gallery may hold many files; reading a summary parses only the safetensors header
(8 bytes of length, then the JSON with ``__metadata__``), never the tensors, so the
Checkpoints page stays fast however many models the folder holds.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ragviz.safety.errors import CheckpointError
from ragviz.storage.checkpoint import FORMAT, MAX_HEADER_BYTES, looks_like_pickle, read_header
from ragviz.training.history import History

MODELS_DIR_ENV = "RAGVIZ_MODELS_DIR"
SUFFIX = ".safetensors"
MEAN_SEEN = "Mean (seen tasks)"
MEAN_ZERO_SHOT = "Mean (zero-shot tasks)"


def models_dir() -> Path:
    """The folder the app saves to and lists: ``$RAGVIZ_MODELS_DIR`` or ``./models``."""
    return Path(os.environ.get(MODELS_DIR_ENV) or "models")


def list_checkpoint_files(folder: str | Path) -> list[Path]:
    """The ``.safetensors`` files directly in ``folder`` (none if it does not exist), by name."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.is_file() and p.name.endswith(SUFFIX)
                   and not p.name.startswith(".")), key=lambda p: p.name.lower())


@dataclass
class MetricSet:
    """One model's final per-task test metric, as the comparison table and bars need it."""

    label: str
    metric: str  # "accuracy" or "mse"
    values: dict[str, float]
    zero_shot: list[str] = field(default_factory=list)

    @classmethod
    def from_history(cls, label: str, history: History) -> MetricSet:
        return cls(label, history.metric, history.final_metrics(), list(history.zero_shot))


@dataclass
class CheckpointSummary:
    """What a checkpoint card shows, read from the header metadata alone."""

    name: str
    source: str  # "sample" | "session" | "folder" | "upload"
    project_name: str = ""
    domain: str = ""
    n_tasks: int = 0
    n_edges: int = 0
    relations: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    zero_shot: list[str] = field(default_factory=list)
    metric: str = "accuracy"
    metrics: dict[str, float] = field(default_factory=dict)
    steps: int | None = None
    created: str = ""
    device: str = ""
    size: int = 0
    model_config: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)
    graph: dict[str, Any] | None = None  # TaskGraph.to_dict(), for a thumbnail
    error: str | None = None  # set when the header cannot be read: the card says why

    @property
    def metric_set(self) -> MetricSet:
        return MetricSet(self.label, self.metric, dict(self.metrics), list(self.zero_shot))

    @property
    def label(self) -> str:
        return self.project_name or self.name

    @property
    def means(self) -> dict[str, float]:
        return metric_means(self.metrics, self.zero_shot)

    @property
    def settings_line(self) -> str:
        m, t = self.model_config, self.train_config
        if not m:
            return ""
        parts = [f"decoder {m.get('decoder', '?')}", f"{m.get('composition', '?')}/{m.get('aggregation', '?')}",
                 f"{m.get('layers', '?')} layers"]
        if isinstance(t.get("lr"), (int, float)):
            parts.append(f"lr {t['lr']:g}")
        return " · ".join(parts)


def _json_field(meta: dict[str, Any], key: str, default: Any) -> Any:
    raw = meta.get(key)
    if not isinstance(raw, str):
        return default
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return default


def _finite_metrics(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        return {}
    out = {}
    for task, value in raw.items():
        try:
            out[str(task)] = float("nan") if value is None else float(value)
        except (TypeError, ValueError):
            out[str(task)] = float("nan")
    return out


def summary_from_header(header: dict[str, Any], name: str, source: str, size: int = 0) -> CheckpointSummary:
    """Build a card summary from a parsed header; a non-ragviz header raises CheckpointError."""
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError("The file is not a ragviz checkpoint (no ragviz metadata in its header).")
    project = _json_field(meta, "project", {})
    project = project if isinstance(project, dict) else {}
    history = _json_field(meta, "history", None)
    history = history if isinstance(history, dict) else {}
    info = _json_field(meta, "info", {})
    info = info if isinstance(info, dict) else {}
    graph = project.get("task_graph") if isinstance(project.get("task_graph"), dict) else None
    link = (graph or {}).get("graph", {}) if isinstance((graph or {}).get("graph", {}), dict) else {}
    nodes = [n for n in link.get("nodes", []) if isinstance(n, dict)]
    edges = link.get("edges", link.get("links", []))
    tasks = [str(n.get("id")) for n in nodes]
    zero = history.get("zero_shot")
    if not isinstance(zero, list):
        zero = [str(n.get("id")) for n in nodes if n.get("train_size", 40) == 0]
    spec = _json_field(meta, "spec", {})
    kind = spec.get("kind") if isinstance(spec, dict) else None
    metric = history.get("metric") or ("mse" if kind == "regression" else "accuracy")
    steps = history.get("steps")
    return CheckpointSummary(
        name=name,
        source=source,
        project_name=str(project.get("name", "")),
        domain=str(project.get("domain") or ""),
        n_tasks=len(nodes),
        n_edges=len(edges) if isinstance(edges, list) else 0,
        relations=[str(r.get("name")) for r in (graph or {}).get("relations", []) if isinstance(r, dict)],
        tasks=tasks,
        zero_shot=[str(z) for z in zero],
        metric=str(metric),
        metrics=_finite_metrics(_json_field(meta, "metrics", {})),
        steps=int(steps[-1]) if isinstance(steps, list) and steps and isinstance(steps[-1], (int, float)) else None,
        created=str(meta.get("created", "")),
        device=str(info.get("device", "")),
        size=size,
        model_config=project.get("model_config") if isinstance(project.get("model_config"), dict) else {},
        train_config=project.get("train_config") if isinstance(project.get("train_config"), dict) else {},
        graph=graph,
    )


def read_header_bytes(path: str | Path) -> bytes:
    """Only the header of a safetensors file: its 8-byte length and the JSON after it."""
    with open(path, "rb") as handle:
        prefix = handle.read(9)
        if looks_like_pickle(prefix):
            return prefix  # a pickle: read_header explains why it is refused
        prefix, first = prefix[:8], prefix[8:]
        if len(prefix) < 8:
            raise CheckpointError("The file is too short to be a .safetensors checkpoint.")
        (size,) = struct.unpack("<Q", prefix)
        if size > MAX_HEADER_BYTES:
            raise CheckpointError(f"The checkpoint header claims {size:,} bytes, more than allowed.")
        body = (first + handle.read(max(size - len(first), 0)))[:size]
    if len(body) < size:
        raise CheckpointError("The checkpoint is truncated: its header runs past the end of the file.")
    return prefix + body


#: What a stranger's header can make the summary code raise; a card says so instead of crashing the page.
_MALFORMED = (TypeError, ValueError, OverflowError, AttributeError, KeyError, IndexError, RecursionError)
_MALFORMED_TEXT = "The checkpoint's metadata is malformed, so it cannot be summarised."


def summarize_file(path: str | Path, source: str = "folder") -> CheckpointSummary:
    """A summary of a checkpoint file, or one whose ``error`` says why it cannot be read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        return summary_from_header(read_header(read_header_bytes(path)), path.name, source, size)
    except CheckpointError as err:
        return CheckpointSummary(name=path.name, source=source, error=str(err))
    except _MALFORMED:
        return CheckpointSummary(name=path.name, source=source, error=_MALFORMED_TEXT)
    except OSError as err:
        return CheckpointSummary(name=path.name, source=source, error=f"Cannot read the file: {err.strerror}.")


def summarize_bytes(data: bytes, name: str, source: str) -> CheckpointSummary:
    """A summary of checkpoint bytes held in memory (saved or uploaded in this session)."""
    try:
        return summary_from_header(read_header(data), name, source, len(data))
    except CheckpointError as err:
        return CheckpointSummary(name=name, source=source, error=str(err))
    except _MALFORMED:
        return CheckpointSummary(name=name, source=source, error=_MALFORMED_TEXT)


# ------------------------------------------------------------------------ comparing
def metric_means(values: dict[str, float], zero_shot: list[str]) -> dict[str, float]:
    """Mean over seen tasks and over zero-shot tasks, ignoring tasks without a value."""
    seen = [v for k, v in values.items() if k not in zero_shot and math.isfinite(v)]
    zero = [v for k, v in values.items() if k in zero_shot and math.isfinite(v)]
    return {"seen": float(np.mean(seen)) if seen else float("nan"),
            "zero_shot": float(np.mean(zero)) if zero else float("nan")}


def metric_label(metric: str) -> str:
    return "test accuracy (higher is better)" if metric == "accuracy" else "test MSE (lower is better)"


def comparable(a: MetricSet, b: MetricSet) -> str | None:
    """Why two metric sets cannot be compared task by task, or None if they can."""
    if a.metric != b.metric:
        return f"'{a.label}' reports {a.metric} and '{b.label}' reports {b.metric}: the numbers are not comparable."
    if not set(a.values) & set(b.values):
        return f"'{a.label}' and '{b.label}' share no task names, so there is nothing to compare task by task."
    return None


def comparison_table(a: MetricSet, b: MetricSet) -> pd.DataFrame:
    """Per-task test metric of two models side by side (union of tasks), zero-shot marked, with means.

    ``Δ`` is b − a. Means are over the tasks each model has, seen and zero-shot apart.
    """
    tasks = list(a.values) + [t for t in b.values if t not in a.values]
    zero = set(a.zero_shot) | set(b.zero_shot)
    la, lb = a.label, b.label if b.label != a.label else f"{b.label} (2)"
    rows = []
    for task in tasks:
        va, vb = a.values.get(task, float("nan")), b.values.get(task, float("nan"))
        rows.append({"task": task, "zero-shot": "★" if task in zero else "", la: va, lb: vb, "Δ": vb - va})
    ma, mb = metric_means(a.values, a.zero_shot), metric_means(b.values, b.zero_shot)
    for label, key in ((MEAN_SEEN, "seen"), (MEAN_ZERO_SHOT, "zero_shot")):
        rows.append({"task": label, "zero-shot": "★" if key == "zero_shot" else "", la: ma[key], lb: mb[key],
                     "Δ": mb[key] - ma[key]})
    return pd.DataFrame(rows, columns=["task", "zero-shot", la, lb, "Δ"])
