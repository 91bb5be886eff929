"""The generalisation suite runs in quick mode and reports every method, the baseline and the verdicts."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from ragviz.data.domains import task_n_classes
from ragviz.model.config import ModelConfig, TrainConfig

PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "generalisation.py"


@pytest.fixture(scope="module")
def suite():
    spec = importlib.util.spec_from_file_location("generalisation", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["generalisation"] = module
    spec.loader.exec_module(module)
    return module


def test_settings_cover_the_required_ground(suite) -> None:
    assert len(suite.SETTINGS) >= 12
    families, classes = set(), set()
    for key, setting in suite.SETTINGS.items():
        graph = setting.build(101)
        again = setting.build(101)
        other = setting.build(102)
        assert graph == again, key  # a seed fixes the data
        assert [t.seed for t in graph.tasks()] != [t.seed for t in other.tasks()], key  # and changes it
        assert any(t.zero_shot for t in graph.tasks()) and any(not t.zero_shot for t in graph.tasks()), key
        families |= {t.family for t in graph.tasks()}
        classes |= {task_n_classes(t) for t in graph.tasks()}
    assert {"moons", "circles", "xor", "blobs", "spiral", "linear", "sine", "digits_rotated"} <= families
    assert {2, 3, 4, 5, 6} & classes >= {2, 4, 5, 6}
    assert not set(suite.REPORT_SEEDS) & set(range(6))  # the tuning seeds are not report seeds


def test_rewired_moves_the_asked_share_of_edges(suite) -> None:
    base = suite.SETTINGS["moons-ring-60"].build(101)
    moved = suite.rewired(base, 0.5, 3)
    before = {frozenset((e.source, e.target)) for e in base.edges()}
    after = {frozenset((e.source, e.target)) for e in moved.edges()}
    assert len(after) == len(before) == base.number_of_edges() == moved.number_of_edges()
    assert len(before - after) == round(0.5 * len(before))
    assert base.number_of_edges() == len(before)  # the original graph is untouched


def test_variants_parse_and_unknown_values_are_reported(suite) -> None:
    assert suite.parse_variant("film") == ("film", {"decoder": "film"})
    assert suite.parse_variant("layers=3,lr=0.02") == ("layers=3,lr=0.02", {"layers": 3, "lr": 0.02})
    model, train = ModelConfig(), TrainConfig()
    m, t = suite.variant_configs({"layers": 3, "lr": 0.02}, model, train)
    assert m.layers == 3 and t.lr == 0.02
    assert "Decoder" in suite.variant_configs({"decoder": "no-such-decoder"}, model, train)
    assert "no setting" in suite.variant_configs({"nope": 1}, model, train)


def test_quick_run_reports_every_method(suite) -> None:
    keys = ["moons-ring-60", "sine-amplitude-end"]
    results = suite.run_suite(keys, [101], steps=20, jobs=1,
                              variants=[suite.parse_variant("film"), ("bad", {"decoder": "no-such-decoder"})])
    assert [(r["key"], r["seed"]) for r in results] == [(k, 101) for k in keys]
    for result in results:
        graph = suite.SETTINGS[result["key"]].build(101)
        zero = {t.name for t in graph.tasks() if t.zero_shot}
        reversing = any(r in suite.REVERSING for r in graph.relations)
        for method in (*suite.METHODS, "film"):
            if method == "reversing average" and not reversing:
                assert method not in result["per_task"]  # no relation of these settings reverses labels
                continue
            assert set(result["per_task"][method]) == zero, method
            assert all(math.isfinite(v) for v in result["per_task"][method].values())
        assert "bad" not in result["per_task"] and "Decoder" in result["notes"]["bad"]
    rows = suite.summarise(results, ["film", "bad"])
    assert [r["key"] for r in rows] == keys
    moons, sine = rows
    assert moons["metric"] == "accuracy" and moons["chance"] == 0.5 and not moons["lower_is_better"]
    assert sine["metric"] == "MSE" and sine["lower_is_better"] and sine["chance"] > 0
    for row in rows:
        base = row["methods"]["neighbour average"]
        assert base["values"] and base["mean"] == pytest.approx(sum(base["values"]) / len(base["values"]))
        rag, none = row["methods"]["RAG"]["mean"], row["methods"]["no edges"]["mean"]
        better = (rag < none) if row["lower_is_better"] else (rag > none)
        assert row["beats_no_edges"] == better
        assert "bad" in row["notes"] and "bad" not in row["methods"]
    table = suite.markdown_table(rows, ["film", "bad"])
    lines = table.splitlines()
    assert "neighbour average" in lines[0] and "film" in lines[0] and "against the best baseline" in lines[0]
    assert all(row["verdict"] in ("win", "tie", "loss") and row["best_baseline"] in suite.BASELINES for row in rows)
    body = [line for line in lines if line.startswith("| `")]
    assert len(body) == 2 and all(line.count("|") == lines[0].count("|") for line in body)
    assert "n/a" in body[0] and "n/a in column *bad*" in table
    assert suite.spearman(results) is None  # no disagreement recorded without an ensemble


def test_spearman_pools_settings(suite) -> None:
    def fake(seed: int, values: list[float], errors: list[float]) -> dict:
        tasks = [f"t{i}" for i in range(len(values))]
        return {"key": "k", "seed": seed, "lower_is_better": False,
                "per_task": {"RAG": {t: 1.0 - e for t, e in zip(tasks, errors, strict=True)}},
                "disagreement": dict(zip(tasks, values, strict=True))}

    found = suite.spearman([fake(1, [0.1, 0.2], [0.0, 0.1]), fake(2, [0.3, 0.4], [0.2, 0.5])])
    assert found["n"] == 4 and found["rho"] == pytest.approx(1.0)


def test_ensemble_hook_records_disagreement_of_zero_shot_tasks(suite, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    class Fake:
        def __init__(self, graph) -> None:
            self.graph = graph

        def disagreement(self) -> dict[str, float]:
            return {t.name: float(i) for i, t in enumerate(self.graph.tasks())}

    def fake_trainer(graph, model_cfg, train_cfg, k, seed):
        calls.append((k, seed, train_cfg.seed))
        return Fake(graph)

    monkeypatch.setattr(suite, "ensemble_trainer", lambda: fake_trainer)
    result = suite.run_job("moons-ring-60", 102, 5, [], ensemble=True)
    graph = suite.SETTINGS["moons-ring-60"].build(102)
    assert calls == [(suite.ENSEMBLE_K, 102, 102)]
    assert set(result["disagreement"]) == {t.name for t in graph.tasks() if t.zero_shot}
