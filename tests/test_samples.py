"""The shipped samples: catalogue, loading, recorded claims, traces and the builder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ragviz import samples as samples_module
from ragviz.errors import CheckpointError, RagvizError
from ragviz.lessons import LESSONS
from ragviz.samples import (
    DEFAULT_SAMPLE,
    SAMPLE_DIR,
    SAMPLES,
    ClaimResult,
    build_samples,
    describe,
    load_sample,
    recorded_results,
    results_table,
)
from ragviz.trace import compute_trace

torch.set_num_threads(1)  # small models train several times faster on one thread

BUILT = [s for s in SAMPLES if s.path.is_file()]


def test_catalogue() -> None:
    keys = [s.key for s in SAMPLES]
    assert len(SAMPLES) >= 6 and len(set(keys)) == len(keys)
    assert DEFAULT_SAMPLE == "zero_shot_ring" and DEFAULT_SAMPLE in keys
    for sample in SAMPLES:
        assert sample.title and sample.claim.endswith(".")
        assert "What to look at" in sample.lesson and "What to try" in sample.lesson
        assert sample.path == SAMPLE_DIR / f"{sample.key}.safetensors"


def test_unknown_sample_is_a_clear_error() -> None:
    with pytest.raises(CheckpointError, match="no sample named 'nope'.*zero_shot_ring"):
        load_sample("nope")


def test_missing_sample_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(samples_module, "SAMPLE_DIR", tmp_path)
    with pytest.raises(RagvizError, match="python -m ragviz samples"):
        load_sample(DEFAULT_SAMPLE)


def test_every_sample_is_shipped() -> None:
    assert [s.key for s in BUILT] == [s.key for s in SAMPLES], "run `python -m ragviz samples`"
    total = sum(p.stat().st_size for p in SAMPLE_DIR.glob("*.safetensors"))
    assert total < 20e6
    table = (SAMPLE_DIR / "RESULTS.md").read_text(encoding="utf-8")
    for sample in SAMPLES:
        assert sample.title in table


@pytest.mark.parametrize("sample", BUILT, ids=[s.key for s in BUILT])
def test_sample_loads_with_its_lesson_and_recorded_numbers(sample: samples_module.Sample) -> None:
    ckpt = load_sample(sample.key)
    assert ckpt.project.name == sample.title
    assert ckpt.project.lesson == sample.lesson
    info = ckpt.info["sample"]
    assert info["key"] == sample.key and info["claim"] == sample.claim and info["holds"] is True
    contrast = ckpt.info["contrast"]
    assert contrast["label"] == LESSONS[sample.key].contrast_label
    assert set(contrast["metrics"]) == set(ckpt.project.graph.task_names())

    recorded = recorded_results()[sample.key]
    assert recorded.holds and len(recorded.seeds) >= 3
    lesson = LESSONS[sample.key]
    # The checkpoint's own history, the catalogue and a fresh evaluation of the weights agree.
    from_history = lesson.measure(ckpt.project.graph, ckpt.history)
    assert from_history == pytest.approx(recorded.model[0], abs=1e-6)
    assert info["model_value"] == pytest.approx(recorded.model[0], abs=1e-6)
    assert info["contrast_value"] == pytest.approx(recorded.contrast[0], abs=1e-6)
    trace = compute_trace(ckpt.model, ckpt.project.graph, ckpt.project.tables, grid_resolution=2)
    fresh = dict(zip(trace.task_names, trace.test_metric.tolist(), strict=True))
    final = ckpt.history.final_metrics()
    for task, value in final.items():
        if math.isfinite(value):
            assert fresh[task] == pytest.approx(value, rel=0.02, abs=0.01), task


@pytest.mark.parametrize("sample", BUILT, ids=[s.key for s in BUILT])
def test_every_sample_traces(sample: samples_module.Sample) -> None:
    ckpt = load_sample(sample.key)
    trace = compute_trace(ckpt.model, ckpt.project.graph, ckpt.project.tables, grid_resolution=10)
    n = ckpt.project.graph.number_of_tasks()
    assert trace.layers.shape[:2] == (ckpt.project.model_config.layers + 1, n)
    assert np.isfinite(trace.layers).all() and np.isfinite(trace.test_metric).all()
    assert trace.zero_shot.sum() == sum(t.zero_shot for t in ckpt.project.graph.tasks())


def test_build_writes_checkpoints_and_table(tmp_path: Path) -> None:
    results = build_samples(tmp_path, seeds=(0, 1), quick=True, progress=None, keys=["relation_types"], jobs=1)
    [result] = results
    assert result.holds and result.seeds == [0, 1] and len(result.model) == 2
    assert "±" in result.spread
    ckpt = samples_module.load_checkpoint(tmp_path / "relation_types.safetensors")
    assert ckpt.info["sample"]["model_value"] == pytest.approx(result.model[0])
    assert "Relations have types" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert recorded_results(tmp_path)["relation_types"].model == pytest.approx(result.model)


def test_build_is_deterministic(tmp_path: Path) -> None:
    first = build_samples(tmp_path / "a", seeds=(3,), quick=True, progress=None, keys=["few_shot"], jobs=1)
    again = build_samples(tmp_path / "b", seeds=(3,), quick=True, progress=None, keys=["few_shot"], jobs=1)
    assert first[0].model == again[0].model and first[0].contrast == again[0].contrast


def test_table_and_spread() -> None:
    result = ClaimResult("k", "Title", "A claim.", "accuracy", "model", "contrast", [0, 1, 2], [0.9, 0.92, 0.94],
                         [0.5, 0.5, 0.52], True, "req")
    assert describe([0.9, 0.92, 0.94]) == "0.920 ± 0.016 (0.900–0.940)"
    assert describe([0.5]) == "0.500" and describe([]) == "n/a"
    table = results_table([result])
    assert "| 1 | Title | A claim. | accuracy (higher is better) | model: 0.920 ± 0.016" in table
    assert table.rstrip().endswith("| yes |")
    assert ClaimResult.from_dict(result.to_dict()) == result
