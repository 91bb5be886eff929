"""``python -m ragviz``: train, info, eval and errors that are one line and exit status 2."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ragviz.cli import main
from ragviz.graph.generators import ring_of_moons
from ragviz.graph.io import graph_to_json

torch.set_num_threads(1)  # small models train several times faster on one thread

ROOT = Path(__file__).resolve().parents[1]


def _one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("ragviz: error:")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny ring trained for a few steps through the command line."""
    folder = tmp_path_factory.mktemp("cli")
    graph = folder / "ring.json"
    graph.write_text(graph_to_json(ring_of_moons(n=6, zero_shot=(2,), train_size=20, test_size=20)), encoding="utf-8")
    out = folder / "ring.safetensors"
    assert main(["train", "--graph", str(graph), "--steps", "6", "--layers", "1", "--seed", "1", "--device", "cpu",
                 "--out", str(out)]) == 0
    return graph, out


def test_train_prints_summary_and_saves(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    graph, _ = trained
    out = graph.parent / "again.safetensors"
    assert main(["train", "--graph", str(graph), "--steps", "4", "--lr", "0.02", "--aggregation", "sum",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "seen tasks: mean test accuracy" in text and "zero-shot tasks: mean test accuracy" in text
    assert f"saved {out}" in text and out.is_file()


def test_info(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, ckpt = trained
    assert main(["info", str(ckpt)]) == 0
    text = capsys.readouterr().out
    assert "project:   ring" in text
    assert "domain:    toy2d" in text
    assert "tasks:     6 (1 zero-shot: moons 120°)" in text
    assert "near (undirected, 6 edges)" in text
    assert "layers=1" in text and "steps=6" in text and "seed=1" in text
    assert "versions:  ragviz" in text and "metrics:   after 6 steps" in text


def test_eval_and_eval_on_an_edited_graph(trained: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    graph_file, ckpt = trained
    assert main(["eval", str(ckpt)]) == 0
    text = capsys.readouterr().out
    assert "task" in text and "accuracy" in text and "moons 120°" in text and "mean over seen tasks" in text
    graph = ring_of_moons(n=6, zero_shot=(2,), train_size=20, test_size=20)
    graph.remove_edge("moons 60°", "moons 120°", "near")
    edited = tmp_path / "edited.json"
    edited.write_text(graph_to_json(graph), encoding="utf-8")
    assert main(["eval", str(ckpt), "--graph", str(edited)]) == 0
    assert "(inference only)" in capsys.readouterr().out


def test_train_a_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ring.safetensors"
    assert main(["train", "--sample", "zero_shot_ring", "--steps", "3", "--out", str(out)]) == 0
    assert "zero-shot tasks" in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    assert "Zero-shot tasks from relations" in capsys.readouterr().out


def test_pickle_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "model.pt"
    bad.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    assert main(["info", str(bad)]) == 2
    _one_line_error(capsys, "pickle")
    renamed = tmp_path / "model.safetensors"
    renamed.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    assert main(["eval", str(renamed)]) == 2
    _one_line_error(capsys, "pickle")


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["info", "missing.safetensors"], "no checkpoint"),
        (["eval", "missing.safetensors"], "no checkpoint"),
        (["train", "--graph", "missing.json", "--out", "x.safetensors"], "no graph file"),
        (["train", "--sample", "nope", "--out", "x.safetensors"], "no sample named"),
        (["train", "--out", "x.safetensors"], "one of the arguments --graph --sample is required"),
        (["train", "--sample", "zero_shot_ring", "--out", "x.pt"], ".safetensors"),
        (["train", "--sample", "zero_shot_ring", "--layers", "9", "--out", "x.safetensors"], "layers"),
        (["train", "--sample", "zero_shot_ring", "--lr", "-1", "--out", "x.safetensors"], "Learning rate"),
        (["train", "--sample", "zero_shot_ring", "--steps", "many", "--out", "x.safetensors"], "whole number"),
        (["train", "--sample", "zero_shot_ring", "--composition", "magic", "--out", "x.safetensors"], "magic"),
        (["samples", "--jobs", "0"], "--jobs"),
        (["frobnicate"], "frobnicate"),
        ([], "required"),
    ],
)
def test_errors_are_one_line_and_exit_2(argv: list[str], needle: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    _one_line_error(capsys, needle)


def test_bad_graph_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["train", "--graph", str(bad), "--out", str(tmp_path / "x.safetensors")]) == 2
    _one_line_error(capsys, "JSON")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"relations": [], "graph": {"nodes": [], "edges": []}}), encoding="utf-8")
    assert main(["train", "--graph", str(empty), "--out", str(tmp_path / "x.safetensors")]) == 2
    _one_line_error(capsys, "no tasks")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "samples" in capsys.readouterr().out


def test_python_dash_m(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "ragviz", "info", str(tmp_path / "nothing.safetensors")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("ragviz: error:") and "Traceback" not in done.stderr
