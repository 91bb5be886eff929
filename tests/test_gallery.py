"""Gallery helpers: summaries from the header alone, folder listing, and model comparison tables."""

from __future__ import annotations

import json
import math
import struct

import pytest
import safetensors.torch
import torch

from ragviz.safety.errors import CheckpointError
from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint
from ragviz.storage.gallery import (
    MEAN_SEEN,
    MEAN_ZERO_SHOT,
    MetricSet,
    comparable,
    comparison_table,
    list_checkpoint_files,
    models_dir,
    summarize_bytes,
    summarize_file,
)


@pytest.fixture(scope="module")
def ring_bytes(trained_ring) -> bytes:
    project, result = trained_ring
    return checkpoint_bytes(project, result.model, result.history, {"device": "CPU", "source": "test"})


def test_summary_reads_name_tasks_metrics_device_and_settings(trained_ring, ring_bytes) -> None:
    project, result = trained_ring
    s = summarize_bytes(ring_bytes, "ring.safetensors", "session")
    assert s.error is None
    assert s.project_name == "Test ring" and s.domain == "toy2d"
    assert s.n_tasks == 6 and s.n_edges == 6 and s.relations == ["near"]
    assert s.zero_shot == result.history.zero_shot == ["moons 120°"]
    assert s.metric == "accuracy" and s.steps == 60 and s.device == "CPU"
    assert s.metrics == pytest.approx(result.history.final_metrics())
    assert s.means["seen"] == pytest.approx(result.history.summary()["seen"])
    assert s.model_config["layers"] == 2 and s.train_config["steps"] == 60
    assert s.settings_line == f"decoder {project.model_config.decoder} · mult/mean · 2 layers · lr 0.01"
    assert s.created and s.size == len(ring_bytes)


def test_file_summary_never_reads_the_tensors(tmp_path, ring_bytes) -> None:
    """Corrupt everything after the header: the card still reads, loading the weights does not."""
    (size,) = struct.unpack("<Q", ring_bytes[:8])
    broken = ring_bytes[: 8 + size] + b"\xff" * 16  # tensors cut off
    path = tmp_path / "cut.safetensors"
    path.write_bytes(broken)
    s = summarize_file(path)
    assert s.error is None and s.n_tasks == 6 and s.source == "folder" and s.size == len(broken)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@pytest.mark.parametrize("data, reason", [
    (b"\x80\x04pickle", "pickle"),
    (b"short", "too short"),
    (struct.pack("<Q", 10**6) + b"{}", "truncated"),
    (struct.pack("<Q", 4) + b"nope", "not valid JSON"),
])
def test_bad_files_get_a_card_with_the_reason(tmp_path, data, reason) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    s = summarize_file(path)
    assert s.error is not None and reason in s.error
    assert summarize_bytes(data, "bad.safetensors", "upload").error is not None


def test_a_safetensors_file_that_is_not_ragviz_is_refused(tmp_path) -> None:
    data = safetensors.torch.save({"w": torch.zeros(2)}, metadata={"hello": "world"})
    assert "not a ragviz checkpoint" in summarize_bytes(data, "x.safetensors", "upload").error


def test_missing_files_and_odd_metadata_do_not_raise(tmp_path) -> None:
    assert "Cannot read" in summarize_file(tmp_path / "gone.safetensors").error
    meta = {"format": "ragviz-checkpoint", "project": "{broken", "metrics": json.dumps({"a": None, "b": "x"})}
    s = summarize_bytes(safetensors.torch.save({"w": torch.zeros(1)}, metadata=meta), "odd", "upload")
    assert s.error is None and s.n_tasks == 0 and math.isnan(s.metrics["a"]) and math.isnan(s.metrics["b"])


def test_listing_finds_checkpoints_only(tmp_path, ring_bytes) -> None:
    for name in ("b.safetensors", "A.safetensors", ".tmp-x.safetensors", "notes.txt", "old.pt"):
        (tmp_path / name).write_bytes(ring_bytes)
    (tmp_path / "dir.safetensors").mkdir()
    assert [p.name for p in list_checkpoint_files(tmp_path)] == ["A.safetensors", "b.safetensors"]
    assert list_checkpoint_files(tmp_path / "missing") == []


def test_models_dir_follows_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("RAGVIZ_MODELS_DIR", raising=False)
    assert str(models_dir()) == "models"
    monkeypatch.setenv("RAGVIZ_MODELS_DIR", str(tmp_path))
    assert models_dir() == tmp_path


def test_comparison_table_joins_tasks_marks_zero_shot_and_adds_means() -> None:
    a = MetricSet("A", "accuracy", {"t1": 0.9, "t2": 0.7, "z": 0.6}, ["z"])
    b = MetricSet("B", "accuracy", {"t1": 0.8, "z": 0.4, "t3": 0.5}, ["z"])
    table = comparison_table(a, b)
    assert list(table.columns) == ["task", "zero-shot", "A", "B", "Δ"]
    assert list(table["task"]) == ["t1", "t2", "z", "t3", MEAN_SEEN, MEAN_ZERO_SHOT]
    rows = table.set_index("task")
    assert rows.loc["z", "zero-shot"] == "★" and rows.loc["t1", "zero-shot"] == ""
    assert rows.loc["t1", "Δ"] == pytest.approx(-0.1)
    assert math.isnan(rows.loc["t2", "B"]) and math.isnan(rows.loc["t3", "A"])
    assert rows.loc[MEAN_SEEN, "A"] == pytest.approx(0.8) and rows.loc[MEAN_SEEN, "B"] == pytest.approx(0.65)
    assert rows.loc[MEAN_ZERO_SHOT, "Δ"] == pytest.approx(-0.2)


def test_same_labels_stay_apart_and_incomparable_models_say_why() -> None:
    a = MetricSet("ring", "accuracy", {"t": 0.9})
    assert list(comparison_table(a, a).columns)[2:4] == ["ring", "ring (2)"]
    assert "not comparable" in comparable(a, MetricSet("sine", "mse", {"t": 0.1}))
    assert "share no task" in comparable(a, MetricSet("other", "accuracy", {"u": 0.1}))
    assert comparable(a, MetricSet("b", "accuracy", {"t": 0.5})) is None


def test_a_checkpoint_whose_header_length_starts_with_0x80_is_not_taken_for_a_pickle(tmp_path) -> None:
    """A header of 0x..80 bytes (a sample once had 31,104 = 0x7980) makes the first byte 0x80, as a pickle's is."""
    from ragviz.lessons.samples import get_sample
    from ragviz.storage.checkpoint import looks_like_pickle
    from ragviz.storage.gallery import read_header_bytes

    data = get_sample("relation_types").path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = data[8:8 + size].rstrip(b" ")
    target = len(header) // 0x100 * 0x100 + 0x80
    target += 0x100 if target < len(header) else 0
    path = tmp_path / "long_header.safetensors"
    path.write_bytes(target.to_bytes(8, "little") + header.ljust(target) + data[8 + size:])
    assert path.read_bytes()[:1] == b"\x80" and not looks_like_pickle(path.read_bytes()[:9])
    assert read_header_bytes(path) == path.read_bytes()[:8 + target]
    assert summarize_file(path).n_tasks == load_checkpoint(path).project.graph.number_of_tasks() > 0
    assert looks_like_pickle(b"\x80\x04\x95" + b"\x00" * 6) and looks_like_pickle(b"PK\x03\x04" + b"\x00" * 5)
