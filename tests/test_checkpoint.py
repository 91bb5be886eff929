"""Checkpoints restore the identical model, graph and history; bad files are refused clearly."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest
import safetensors.torch
import torch

from ragviz.inspection.trace import compute_trace
from ragviz.safety.errors import CheckpointError
from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint, save_checkpoint
from ragviz.storage.models_folder import safe_file_name, save_to_folder


def test_reload_is_bit_exact(trained_ring, tmp_path) -> None:
    project, result = trained_ring
    path = save_checkpoint(tmp_path / "ring.safetensors", project, result.model, result.history)
    ckpt = load_checkpoint(path)
    assert ckpt.project.graph == project.graph
    assert ckpt.project.model_config == project.model_config
    assert ckpt.history.test_metric == result.history.test_metric
    assert ckpt.history.snapshot_steps == result.history.snapshot_steps
    assert all(np.array_equal(a, b) for a, b in zip(ckpt.history.snapshots, result.history.snapshots, strict=False))
    before = compute_trace(result.model, project.graph)
    after = compute_trace(ckpt.model, ckpt.project.graph)
    for name in before.task_names:
        assert np.array_equal(before.outputs_test[name], after.outputs_test[name])
        assert np.array_equal(before.outputs_grid[name], after.outputs_grid[name])
    assert np.array_equal(before.layers, after.layers)


def test_tables_travel_inside_the_checkpoint(trained_ring) -> None:
    import pandas as pd

    project, result = trained_ring
    project = project.copy()
    project.tables["data"] = pd.DataFrame({"task": ["a", "a", "b"], "target": [0.0, 1.0, 0.0], "f1": [0.5, 1.5, 2.5]})
    ckpt = load_checkpoint(checkpoint_bytes(project, result.model, result.history))
    pd.testing.assert_frame_equal(ckpt.project.tables["data"], project.tables["data"])


def _rewrite(data: bytes, change) -> bytes:
    tensors = safetensors.torch.load(data)
    (size,) = struct.unpack("<Q", data[:8])
    meta = json.loads(data[8 : 8 + size])["__metadata__"]
    tensors, meta = change(tensors, meta)
    return safetensors.torch.save(tensors, metadata=meta)


def _set(meta, key, value):
    meta = dict(meta)
    meta[key] = value
    return meta


BAD_FILES = {
    "pickle": (lambda good: pickle.dumps({"a": 1}), "pickle"),
    "torch zip": (lambda good: b"PK\x03\x04" + b"\x00" * 100, "pickle"),
    "empty": (lambda good: b"", "too short"),
    "truncated": (lambda good: good[: len(good) // 2], "truncated|tensors cannot be read"),
    "huge header": (lambda good: struct.pack("<Q", 10**12) + b"{}", "header claims"),
    "broken header": (lambda good: struct.pack("<Q", 5) + b"{nope", "not valid JSON"),
    "not ragviz": (lambda good: safetensors.torch.save({"x": torch.zeros(2)}), "not a ragviz checkpoint"),
    "missing tensor": (lambda good: _rewrite(good, lambda t, m: ({k: v for k, v in t.items()
                                                                  if k != "model.unknown_task"}, m)), "missing"),
    "extra tensor": (lambda good: _rewrite(good, lambda t, m: ({**t, "model.evil": torch.zeros(1)}, m)), "unexpected"),
    "wrong shape": (lambda good: _rewrite(good, lambda t, m: ({**t, "model.unknown_task": torch.zeros(3)}, m)),
                    "shape"),
    "wrong dtype": (lambda good: _rewrite(good, lambda t, m: (
        {**t, "model.unknown_task": t["model.unknown_task"].double()}, m)), "dtype"),
    "nan weights": (lambda good: _rewrite(good, lambda t, m: (
        {**t, "model.unknown_task": torch.full_like(t["model.unknown_task"], float("nan"))}, m)), "NaN"),
    "future version": (lambda good: _rewrite(good, lambda t, m: (t, _set(m, "format_version", "99"))), "version 99"),
    "project not json": (lambda good: _rewrite(good, lambda t, m: (t, _set(m, "project", "{oops"))), "project"),
    "unknown layer count": (lambda good: _rewrite(good, lambda t, m: (t, _set(m, "project", json.dumps(
        {**json.loads(m["project"]), "model_config": {**json.loads(m["project"])["model_config"], "layers": 12}}
    )))), "layers"),
    "history mismatch": (lambda good: _rewrite(good, lambda t, m: (t, _set(m, "history", json.dumps(
        {**json.loads(m["history"]), "test_metric": []})))), "history"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_checkpoints_are_refused_with_a_clear_message(trained_ring, case) -> None:
    project, result = trained_ring
    good = checkpoint_bytes(project, result.model, result.history)
    make, message = BAD_FILES[case]
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(make(good))


def test_pickle_suffix_is_refused_without_reading(tmp_path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps(object))
    with pytest.raises(CheckpointError, match="never unpickles"):
        load_checkpoint(path)


def test_size_limit(trained_ring) -> None:
    project, result = trained_ring
    good = checkpoint_bytes(project, result.model, result.history)
    with pytest.raises(CheckpointError, match="limit"):
        load_checkpoint(good, max_bytes=100)


def test_saving_stays_inside_the_models_folder(trained_ring, tmp_path) -> None:
    project, result = trained_ring
    data = checkpoint_bytes(project, result.model, result.history)
    path = save_to_folder(tmp_path / "models", "../../etc/passwd", data)
    assert path.parent == (tmp_path / "models").resolve()
    assert path.name == "etc_passwd.safetensors"  # separators become "_", dots in front go
    assert safe_file_name("..") == "checkpoint.safetensors"
    assert not list((tmp_path / "models").glob(".tmp-*"))
    assert load_checkpoint(path).project.graph == project.graph
