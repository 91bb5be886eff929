"""Every benchmark script runs: its ``--quick`` mode (tiny sizes, seconds) in a fresh process, so a
benchmark that crashes fails the suite instead of the next person who measures something."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, missing_tool

BENCHMARKS = ROOT / "benchmarks"
CHROMIUM = Path("/usr/bin/chromium")
#: Scripts whose quick mode the lead owns (issue 19, item 7); each still has to get one.
LEAD_OWNED = {"generalisation.py"}  # its quick suite runs in tests/test_generalisation.py
#: What a quick mode needs besides Python.
NEEDS = {"page_switch_browser.py": "chromium", "bench_replicas.py": "nginx"}
TIMEOUT_S = 300


def scripts() -> list[str]:
    """The runnable scripts in benchmarks/ (those with a ``__main__`` block); the rest are their helpers."""
    return sorted(p.name for p in BENCHMARKS.glob("*.py") if '__name__ == "__main__"' in p.read_text(encoding="utf-8"))


def test_every_script_has_a_quick_mode() -> None:
    missing = [name for name in scripts() if name not in LEAD_OWNED
               and not re.search(r"""["']--quick["']|add_quick\(""", (BENCHMARKS / name).read_text(encoding="utf-8"))]
    assert missing == []
    assert {"bench_app.py", "bench_scale.py", "cuda_smoke.py"} <= set(scripts())


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in scripts() if n not in LEAD_OWNED])
def test_the_quick_mode_runs(name: str) -> None:
    tool = NEEDS.get(name)
    if tool == "chromium" and not CHROMIUM.exists():
        missing_tool(f"Chromium is not installed at {CHROMIUM}")
    if tool == "nginx" and shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        missing_tool("nginx is not installed")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run([sys.executable, str(BENCHMARKS / name), "--quick"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"{name} --quick took over {TIMEOUT_S} s: {str(err.stderr)[-1500:]}")
    assert done.returncode == 0, f"{name} --quick failed:\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), f"{name} --quick printed nothing"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]


def test_quick_replaces_the_sizes_and_leaves_a_normal_run_alone() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_replicas
    finally:
        sys.path.remove(str(BENCHMARKS))
    normal = bench_replicas.parse(["--sessions", "12"])
    small = bench_replicas.parse(["--sessions", "12", "--quick"])
    assert normal.sessions == [12] and normal.replicas == 3
    assert small.sessions == [2] and small.replicas == 2 and small.steps == 5


def test_the_warning_section_replaces_its_old_self_and_keeps_the_rest() -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_warning
    finally:
        sys.path.remove(str(BENCHMARKS))
    section = "## The ensemble's warning: precision and recall\n\nold figures\n"
    doc = bench_warning.replace_section("# Suite\n\n## Results\n\ntable\n", section)
    assert doc == "# Suite\n\n## Results\n\ntable\n\n" + section
    again = bench_warning.replace_section(doc + "\n## Later\n\nkept\n", section.replace("old", "new"))
    assert "old figures" not in again and "new figures" in again and again.endswith("## Later\n\nkept\n")
    assert again.startswith("# Suite\n\n## Results\n\ntable\n")


def test_the_loop_reference_gives_the_default_models_loss() -> None:
    """bench_training's speed ratios compare like with like only while the reference computes ragviz's
    default model: the same loss at the same weights, unseen tasks' start and close included (a
    regulariser changed in the reference alone shows)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import reference_loop
        from workloads import ring_project
    finally:
        sys.path.remove(str(BENCHMARKS))
    import torch

    from ragviz.data.domains import domain_spec
    from ragviz.model.config import ModelConfig
    from ragviz.model.rag import build_model
    from ragviz.model.tensors import make_vocab

    graph = ring_project()[0].graph
    model = build_model(ModelConfig(), domain_spec(graph), make_vocab(graph), seed=3)
    with torch.no_grad():  # relations that weigh and reverse, as trained ones do
        model.relation_transform.weight.normal_(std=0.5, generator=torch.Generator().manual_seed(1))
        model.relation_score.weight.normal_(generator=torch.Generator().manual_seed(2))
    assert reference_loop.check_same_loss(model, graph) < 1e-5
    original = reference_loop.EPS
    try:
        reference_loop.EPS = 0.05
        assert reference_loop.check_same_loss(model, graph) > 1e-5
    finally:
        reference_loop.EPS = original
