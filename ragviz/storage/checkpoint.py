"""Checkpoints: one ``.safetensors`` file, never a pickle (docs/DESIGN.md §5).

Tensors: the model's state dict under ``model.``, embedding snapshots, and user tables (a text
table's texts too, :mod:`ragviz.storage.text_checkpoint`).
Header metadata: JSON strings for the project, vocabulary, domain, history, metrics and
provenance. Loading parses the header by hand first (so a huge or broken header is refused
before anything is allocated), then validates every field against the tensors.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import safetensors
import safetensors.torch
import torch

from ragviz import __version__
from ragviz.data.domains import DomainSpec, domain_spec
from ragviz.model.config import ModelConfig
from ragviz.model.rag import RAGModel
from ragviz.model.tensors import Vocab, make_vocab
from ragviz.safety import checks
from ragviz.safety.errors import CheckpointError, RagvizError
from ragviz.safety.limits import BudgetError, check_budget, declared_points
from ragviz.safety.safe_text import without_lone_surrogates
from ragviz.safety.uploads import read_upload
from ragviz.storage.models_folder import atomic_write
from ragviz.storage.text_checkpoint import restore_table_texts, table_text_tensors
from ragviz.training.history import History
from ragviz.training.project import Project

FORMAT = "ragviz-checkpoint"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 50 * 1024 * 1024


@dataclass
class Checkpoint:
    """A loaded checkpoint: the project, the restored model, its history and provenance."""

    project: Project
    model: RAGModel
    history: History | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return self.info.get("metrics", {})


def _spec_to_dict(spec: DomainSpec) -> dict[str, Any]:
    return {"name": spec.name, "input_dim": spec.input_dim, "n_outputs": spec.n_outputs, "kind": spec.kind,
            "x_range": list(spec.x_range)}


def _spec_from_dict(data: Any) -> DomainSpec:
    try:
        spec = DomainSpec(str(data["name"]), int(data["input_dim"]), int(data["n_outputs"]), str(data["kind"]),
                          (float(data["x_range"][0]), float(data["x_range"][1])))
    except (KeyError, TypeError, ValueError, IndexError):
        raise CheckpointError("The checkpoint's domain description ('spec') is malformed.") from None
    if spec.kind not in ("classification", "regression") or not 1 <= spec.input_dim <= 100_000 \
            or not 1 <= spec.n_outputs <= 1000:
        raise CheckpointError("The checkpoint's domain description ('spec') has out-of-range values.")
    return spec


def _tables_to_tensors(tables: dict[str, pd.DataFrame]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors, meta = {}, {}
    for name, table in tables.items():
        numeric = [c for c in table.columns if c != "task"]
        tensors[f"table.{name}"] = torch.from_numpy(table[numeric].to_numpy(dtype=np.float64).copy())
        meta[name] = {"columns": numeric, "tasks": table["task"].astype(str).tolist()}
        text_tensors, text_meta = table_text_tensors(name, table)  # a text table's texts and class names
        tensors.update(text_tensors)
        meta[name].update(text_meta)
    return tensors, meta


def checkpoint_bytes(
    project: Project,
    model: RAGModel,
    history: History | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """Serialise a trained project to the bytes of one ``.safetensors`` file."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if history is not None and history.snapshots:
        tensors["snapshots"] = torch.from_numpy(np.stack(history.snapshots).astype(np.float32))
    table_tensors, table_meta = _tables_to_tensors(project.tables)
    tensors.update(table_tensors)
    info = dict(extra or {})
    metrics = history.final_metrics() if history is not None else {}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "project": json.dumps(project.to_dict()),
        "vocab": json.dumps(model.vocab.to_dict()),
        "spec": json.dumps(_spec_to_dict(model.spec)),
        "history": json.dumps(history.to_dict() if history is not None else None),
        "metrics": json.dumps({k: (None if not math.isfinite(v) else v) for k, v in metrics.items()}),
        "tables": json.dumps(table_meta),
        "versions": json.dumps({"ragviz": __version__, "torch": torch.__version__, "python": platform.python_version(),
                                "safetensors": safetensors.__version__}),
        "created": info.pop("created", _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")),
        "info": json.dumps(info),
    }
    return safetensors.torch.save(tensors, metadata=metadata)


def save_checkpoint(
    path: str | Path,
    project: Project,
    model: RAGModel,
    history: History | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    return atomic_write(path, checkpoint_bytes(project, model, history, extra))


# ---------------------------------------------------------------------------------- load
def looks_like_pickle(prefix: bytes) -> bool:
    """A zip (torch.save) or raw pickle, not a safetensors file whose header length starts with 0x80.

    A safetensors file starts with its header's length (8 bytes, little-endian) and then ``{``;
    a header of 128, 384, … 31,104 bytes makes the first byte 0x80 like a pickle's, so the ``{``
    decides.
    """
    if len(prefix) >= 9 and prefix[8:9] == b"{":
        return False
    return prefix[:2] == b"PK" or prefix[:1] == b"\x80"


def read_header(data: bytes) -> dict[str, Any]:
    """The checkpoint's JSON header, checked, without reading any tensor (the gallery lists files this way)."""
    if looks_like_pickle(data[:9]):
        raise CheckpointError(
            "This looks like a PyTorch pickle file (.pt/.pth). ragviz never unpickles files, because a "
            "pickle can run code; save a ragviz checkpoint as .safetensors instead."
        )
    if len(data) < 10:
        raise CheckpointError("The file is too short to be a .safetensors checkpoint.")
    (size,) = struct.unpack("<Q", data[:8])
    if size > MAX_HEADER_BYTES:
        raise CheckpointError(f"The checkpoint header claims {size:,} bytes, more than the {MAX_HEADER_BYTES:,} "
                              "allowed: the file is not a .safetensors checkpoint.")
    if 8 + size > len(data):
        raise CheckpointError("The checkpoint is truncated: its header runs past the end of the file.")
    try:
        header = json.loads(data[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CheckpointError("The checkpoint header is not valid JSON; the file is not a .safetensors file.") from None
    if not isinstance(header, dict):
        raise CheckpointError("The checkpoint header must be a JSON object.")
    return header


def _meta_json(meta: dict[str, Any], key: str) -> Any:
    if key not in meta:
        raise CheckpointError(f"The checkpoint metadata has no '{key}' field.")
    if not isinstance(meta[key], str):
        raise CheckpointError(f"The checkpoint metadata field '{key}' must be a JSON string.")
    try:
        return json.loads(meta[key])
    except (ValueError, RecursionError):  # JSONDecodeError, over-long integers, absurd nesting
        raise CheckpointError(f"The checkpoint metadata field '{key}' is not valid JSON.") from None


def _tables_from(tensors: dict[str, torch.Tensor], meta: Any) -> dict[str, pd.DataFrame]:
    if not isinstance(meta, dict):
        raise CheckpointError("The checkpoint metadata field 'tables' must be an object.")
    tables = {}
    for name, info in meta.items():
        key = f"table.{name}"
        if key not in tensors:
            raise CheckpointError(f"The checkpoint lists table '{name}' but has no tensor '{key}'.")
        values = tensors[key].numpy()
        try:
            columns, tasks = list(info["columns"]), list(info["tasks"])
        except (KeyError, TypeError):
            raise CheckpointError(f"The checkpoint's description of table '{name}' is malformed.") from None
        if values.ndim != 2 or values.shape != (len(tasks), len(columns)):
            raise CheckpointError(f"Table '{name}' has shape {tuple(values.shape)}, which does not match its columns.")
        clean = [without_lone_surrogates(c) for c in columns] if all(isinstance(c, str) for c in columns) else []
        if len(set(clean)) != len(columns):  # lone surrogates replaced first: they may make two names one
            raise CheckpointError(f"The column names of table '{name}' must be distinct text.")
        columns = clean
        if not np.isfinite(values).all():
            raise CheckpointError(f"Table '{name}' contains NaN or infinite values.")
        frame = pd.DataFrame(values, columns=columns)
        frame.insert(0, "task", [without_lone_surrogates(str(t)) for t in tasks])  # shown in messages
        restore_table_texts(name, frame, tensors, info)
        tables[name] = frame
    return tables


def load_checkpoint(source: str | Path | bytes, max_bytes: int | None = None, trusted: bool = False) -> Checkpoint:
    """Load and validate a checkpoint; a bad file raises CheckpointError and changes nothing.

    ``max_bytes`` defaults to the configured limit (:mod:`ragviz.safety.limits`, ``RAGVIZ_MAX_CHECKPOINT_MB``).
    ``trusted`` files (the samples the app ships) are validated the same way but are not
    held to the upload limit.
    """
    if trusted:
        max_bytes = sys.maxsize
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix.lower() in (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt"):
            raise CheckpointError(
                f"'{path.name}' is a pickle-based file; ragviz only opens .safetensors checkpoints "
                "and never unpickles anything."
            )
        data = read_upload(path, "checkpoint", max_bytes=max_bytes)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = read_upload(source, "checkpoint", max_bytes=max_bytes)
    else:
        raise CheckpointError(f"Cannot read a checkpoint from {type(source).__name__}; give a path or bytes.")
    header = read_header(data)
    meta = header.get("__metadata__")
    if not isinstance(meta, dict):
        raise CheckpointError("The file has no ragviz metadata: it is a .safetensors file but not a ragviz checkpoint.")
    if meta.get("format") != FORMAT:
        raise CheckpointError("The file is a .safetensors file but not a ragviz checkpoint (no 'format' marker).")
    try:
        version = int(meta.get("format_version", ""))
    except (TypeError, ValueError, OverflowError):
        raise CheckpointError("The checkpoint's format version is not a number.") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(f"The checkpoint has format version {version}; this ragviz reads up to {FORMAT_VERSION}. "
                              "Upgrade ragviz to open it.")
    _check_declared_budget(meta)
    try:
        tensors = safetensors.torch.load(data)
    except Exception as err:  # safetensors raises its own SafetensorError and others
        raise CheckpointError(f"The checkpoint's tensors cannot be read: {err}.") from None
    try:
        tables = _tables_from(tensors, _meta_json(meta, "tables"))
        project = Project.from_dict(_meta_json(meta, "project"), tables)
        vocab_raw = _meta_json(meta, "vocab")
        if not isinstance(vocab_raw, dict):
            raise CheckpointError("The checkpoint metadata field 'vocab' must be an object.")
        vocab = Vocab.from_dict(vocab_raw)
        spec = _spec_from_dict(_meta_json(meta, "spec"))
    except CheckpointError:
        raise
    except RagvizError as err:
        raise CheckpointError(f"The checkpoint's project is invalid: {err}") from None
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise CheckpointError(f"The checkpoint's metadata is malformed ({type(err).__name__}: {err}).") from None
    _check_matches_project(project, spec, vocab)
    model = _restore_model(project, spec, vocab, tensors)
    history = _restore_history(_meta_json(meta, "history"), tensors.get("snapshots"))
    _check_snapshots(history, project, model)
    info_raw = _meta_json(meta, "info") if "info" in meta else {}
    info = dict(info_raw) if isinstance(info_raw, dict) else {}
    info["metrics"] = _meta_json(meta, "metrics") if "metrics" in meta else {}
    info["versions"] = _meta_json(meta, "versions") if "versions" in meta else {}
    info["created"] = str(meta.get("created", ""))
    return Checkpoint(project, model, history, info)


def _check_declared_budget(meta: dict[str, Any]) -> None:
    """The work a checkpoint declares (tasks, edges, points, model size) must fit this server's budget.

    Checked from the metadata alone, before any tensor is read or any task's data is made; metadata
    too malformed to count is left for the full reading, which says what is wrong with it.
    """
    project = _meta_json(meta, "project")
    try:
        link = project["task_graph"]["graph"]
        nodes, edges = link.get("nodes", []), link.get("edges", link.get("links", []))
        config = ModelConfig.from_stored(project["model_config"])
        spec = _meta_json(meta, "spec") if "spec" in meta else {}
        input_dim, n_outputs = int(spec.get("input_dim", 2)), int(spec.get("n_outputs", 2))
        relations = project["task_graph"].get("relations", [])
    except (RagvizError, KeyError, TypeError, AttributeError, ValueError, OverflowError):
        return
    if not isinstance(nodes, list) or not isinstance(edges, list):
        return
    try:
        check_budget(tasks=len(nodes), edges=len(edges), points=declared_points(nodes), model=config,
                     relations=len(relations) if isinstance(relations, list) else 0,
                     input_dim=input_dim, n_outputs=n_outputs, subject="The checkpoint's graph")
    except BudgetError as err:
        raise CheckpointError(str(err)) from None


def _check_matches_project(project: Project, spec: DomainSpec, vocab: Vocab) -> None:
    """The domain and vocabulary must be the ones training derives from the stored project."""
    try:
        derived = domain_spec(project.graph, project.tables)
    except RagvizError as err:
        raise CheckpointError(f"The checkpoint's project is invalid: {err}") from None
    if spec.name == derived.name == "text" and spec.input_dim != derived.input_dim:
        raise CheckpointError(f"This text checkpoint's model reads {spec.input_dim} numbers per sentence, but this "
                              f"version of ragviz gives text models {derived.input_dim} (the sentence vectors' main "
                              "directions): train the task graph again to use it here.")
    for key in ("name", "input_dim", "n_outputs", "kind"):
        if getattr(spec, key) != getattr(derived, key):
            raise CheckpointError(f"The checkpoint's domain description says {key} = {getattr(spec, key)!r}, but its "
                                  f"task graph gives {getattr(derived, key)!r}: the metadata does not match.")
    expected = make_vocab(project.graph)
    for key in ("tasks", "relations"):
        if getattr(vocab, key) != getattr(expected, key):
            raise CheckpointError(f"The checkpoint's vocabulary lists {key} that are not those of its task graph: "
                                  "the metadata does not match.")


def _restore_model(project: Project, spec: DomainSpec, vocab: Vocab, tensors: dict[str, torch.Tensor]) -> RAGModel:
    try:
        with torch.device("meta"):  # shapes only: nothing is allocated until the file's tensors match them
            skeleton = RAGModel(project.model_config, spec, vocab)
    except Exception as err:
        raise CheckpointError(f"The checkpoint's model settings cannot build a model: {err}") from None
    expected = skeleton.state_dict()
    given = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    if missing:
        raise CheckpointError(f"The checkpoint is missing tensor(s): {', '.join('model.' + m for m in missing[:5])}.")
    if extra:
        raise CheckpointError(f"The checkpoint has unexpected tensor(s): {', '.join('model.' + e for e in extra[:5])}.")
    for name, tensor in given.items():
        want = expected[name]
        if tensor.dtype != want.dtype:
            raise CheckpointError(f"Tensor model.{name} has dtype {tensor.dtype}, expected {want.dtype}.")
        if tuple(tensor.shape) != tuple(want.shape):
            raise CheckpointError(
                f"Tensor model.{name} has shape {tuple(tensor.shape)}, expected {tuple(want.shape)} for this project."
            )
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"Tensor model.{name} contains NaN or infinite values.")
    try:
        model = RAGModel(project.model_config, spec, vocab)
    except Exception as err:
        raise CheckpointError(f"The checkpoint's model settings cannot build a model: {err}") from None
    model.load_state_dict(given)
    return model.eval()


def _restore_history(raw: Any, snapshots: torch.Tensor | None) -> History | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CheckpointError("The checkpoint's training history must be an object.")
    for key in ("tasks", "zero_shot"):
        if not isinstance(raw.get(key), list) or not all(isinstance(t, str) for t in raw[key]):
            raise CheckpointError(f"The training history's '{key}' must be a list of task names.")
    if raw.get("metric") not in ("accuracy", "mse"):
        raise CheckpointError("The training history's 'metric' must be 'accuracy' or 'mse'.")
    try:
        history = History.from_dict(raw, None if snapshots is None else snapshots.numpy())
    except TypeError as err:
        raise CheckpointError(f"The checkpoint's training history is malformed: {err}.") from None
    for key in ("steps", "snapshot_steps"):
        _check_numbers(getattr(history, key), key, whole=True)
    for key in ("wall_time", "step_loss"):
        _check_numbers(getattr(history, key), key)
    n_evals = len(history.steps)
    for key in ("train_loss", "test_loss", "train_metric", "test_metric", "wall_time"):
        if not isinstance(getattr(history, key), list):
            raise CheckpointError(f"The training history's '{key}' must be a list.")
        if len(getattr(history, key)) != n_evals:
            raise CheckpointError(f"The training history's '{key}' has {len(getattr(history, key))} entries, "
                                  f"expected {n_evals}.")
    for key in ("train_loss", "test_loss", "train_metric", "test_metric"):
        for row in getattr(history, key):
            _check_numbers(row, key, len(history.tasks))
    if len(history.snapshots) != len(history.snapshot_steps):
        raise CheckpointError("The embedding snapshots do not match the history's snapshot steps.")
    return history


def _check_numbers(values: Any, key: str, length: int | None = None, whole: bool = False) -> None:
    checks.numbers(values, f"The training history's '{key}'", CheckpointError, length, whole)


def _check_snapshots(history: History | None, project: Project, model: RAGModel) -> None:
    """History rows and embedding snapshots must describe this graph and this model."""
    if history is None:
        return
    names = project.graph.task_names()
    if history.tasks != names:
        raise CheckpointError("The training history's tasks are not the tasks of the checkpoint's graph.")
    want = (model.config.layers + 1, len(names), model.config.embed_dim)
    for snap in history.snapshots:
        if tuple(snap.shape) != want:
            raise CheckpointError(f"An embedding snapshot has shape {tuple(snap.shape)}, expected {want} for this "
                                  "model and graph.")
        if not np.isfinite(snap).all():
            raise CheckpointError("An embedding snapshot contains NaN or infinite values.")
