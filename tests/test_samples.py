"""The shipped samples: catalogue, loading, recorded claims, traces and the builder."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ragviz.inspection.trace import compute_trace
from ragviz.lessons import samples as samples_module
from ragviz.lessons.catalogue import LESSONS, run_lesson
from ragviz.lessons.lesson import LESSON_SEEDS
from ragviz.lessons.samples import (
    DEFAULT_SAMPLE,
    README,
    README_END,
    README_START,
    RESULTS_MD,
    SAMPLE_DIR,
    SAMPLES,
    STALE,
    ClaimResult,
    build_samples,
    describe,
    load_sample,
    recorded_build,
    recorded_results,
    results_table,
    training_fingerprint,
    update_readme,
)
from ragviz.safety.errors import CheckpointError, RagvizError

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
    assert recorded.holds and recorded.seeds == list(LESSON_SEEDS)
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
    # the ring's quick version shows its effect in 300 steps (the typed-relations one needs the full lesson)
    results = build_samples(tmp_path, seeds=(0, 1), quick=True, progress=None, keys=["zero_shot_ring"], jobs=1)
    [result] = results
    assert result.holds and result.seeds == [0, 1] and len(result.model) == 2
    assert "±" in result.spread
    ckpt = samples_module.load_checkpoint(tmp_path / "zero_shot_ring.safetensors")
    assert ckpt.info["sample"]["model_value"] == pytest.approx(result.model[0])
    assert "Zero-shot tasks from relations" in (tmp_path / "RESULTS.md").read_text(encoding="utf-8")
    assert recorded_results(tmp_path)["zero_shot_ring"].model == pytest.approx(result.model)


def test_build_is_deterministic(tmp_path: Path) -> None:
    first = build_samples(tmp_path / "a", seeds=(3,), quick=True, progress=None, keys=["few_shot"], jobs=1)
    again = build_samples(tmp_path / "b", seeds=(3,), quick=True, progress=None, keys=["few_shot"], jobs=1)
    assert first[0].model == again[0].model and first[0].contrast == again[0].contrast


def test_shipped_samples_were_built_by_the_current_training_code() -> None:
    recorded = recorded_build().get("fingerprint", {})
    assert recorded.get("sha256") == training_fingerprint()["sha256"], STALE


def test_quick_rebuild_matches_the_recorded_quick_figures() -> None:
    """The current code rebuilds one lesson's quick version to exactly what the last build recorded."""
    record = recorded_build()
    figures = record.get("quick_figures", {})
    key = "relation_types"
    assert key in figures, STALE
    run = run_lesson(key, seed=figures[key]["seed"], quick=True)
    assert run.model_value == pytest.approx(figures[key]["model"], abs=1e-6), STALE
    assert run.contrast_value == pytest.approx(figures[key]["contrast"], abs=1e-6), STALE
    if record.get("quick"):  # a quick build: its results are those figures
        assert recorded_results()[key].model[0] == pytest.approx(figures[key]["model"], abs=1e-6)


def test_fingerprint_follows_the_training_code(tmp_path: Path) -> None:
    """Every .py under the training subpackages counts, a new module included; other code does not."""
    folder = Path(samples_module.__file__).parents[1]
    for name in ("model/rag.py", "training/train.py", "lessons/catalogue.py", "safety/checks.py",
                 "safety/safe_text.py", "plots/graph.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    first = training_fingerprint(tmp_path)
    assert first["files"] == ["lessons/catalogue.py", "model/rag.py", "safety/checks.py", "training/train.py"]
    assert training_fingerprint(tmp_path) == first
    (tmp_path / "training/train.py").write_text((folder / "training/train.py").read_text(encoding="utf-8") + "\n# x\n")
    assert training_fingerprint(tmp_path)["sha256"] != first["sha256"]
    changed = training_fingerprint(tmp_path)["sha256"]
    (tmp_path / "plots/graph.py").write_text("x = 1\n")  # not training code
    assert training_fingerprint(tmp_path)["sha256"] == changed
    (tmp_path / "training/new_step.py").write_text("x = 1\n")  # a module nobody listed
    assert "training/new_step.py" in training_fingerprint(tmp_path)["files"]
    shipped = set(training_fingerprint()["files"])
    expected = {p.relative_to(folder).as_posix() for package in ("graph", "data", "model", "training", "lessons")
                for p in (folder / package).rglob("*.py")} | {"safety/checks.py"}
    assert shipped == expected


def test_readme_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    assert README_START in text and README_END in text
    section = text.split(README_START, 1)[1].split(README_END, 1)[0].strip()
    table = (SAMPLE_DIR / RESULTS_MD).read_text(encoding="utf-8").split("\n", 2)[2].strip()
    assert section == table, "run `python -m ragviz samples` (it rewrites README's samples table)"


def test_update_readme(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{README_START}\nold\n{README_END}\nafter\n", encoding="utf-8")
    assert update_readme("| new |", readme)
    assert readme.read_text(encoding="utf-8") == f"# x\n\nbefore\n{README_START}\n| new |\n{README_END}\nafter\n"
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers\n", encoding="utf-8")
    assert not update_readme("| new |", plain) and plain.read_text(encoding="utf-8") == "no markers\n"


def test_quick_build_records_fingerprint_and_readme(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"{README_START}\n{README_END}\n", encoding="utf-8")
    build_samples(tmp_path / "out", seeds=(11,), quick=True, progress=None, keys=["relation_types"], jobs=1,
                  readme=readme)
    record = recorded_build(tmp_path / "out")
    assert record["fingerprint"] == training_fingerprint()
    assert record["quick_figures"]["relation_types"]["seed"] == 11
    assert record["quick_figures"]["relation_types"]["model"] == pytest.approx(record["results"][0]["model"][0])
    assert "Relations have types" in readme.read_text(encoding="utf-8")


def test_table_and_spread() -> None:
    result = ClaimResult("k", "Title", "A claim.", "accuracy", "model", "contrast", [0, 1, 2], [0.9, 0.92, 0.94],
                         [0.5, 0.5, 0.52], True, "req")
    assert describe([0.9, 0.92, 0.94]) == "0.920 ± 0.016 (0.900–0.940)"
    assert describe([0.5]) == "0.500" and describe([]) == "n/a"
    table = results_table([result])
    assert "| 1 | Title | A claim. | accuracy (higher is better) | model: 0.920 ± 0.016" in table
    assert table.rstrip().endswith("| yes (req) | — |")
    result.also = {"other": {"model": [0.1], "contrast": [0.2]}}
    assert "other: model 0.100, contrast 0.200 |" in results_table([result])
    assert ClaimResult.from_dict(result.to_dict()) == result
