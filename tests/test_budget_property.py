"""Property: work the budget lets through stays under a stated memory ceiling; work just over it is refused fast.

Random graphs (tasks, declared relations, edges, sizes) and model configurations (every
composition, aggregation and decoder, rgcn bases, widths, layers) are drawn. With the activation budget
at ``BUDGET`` numbers:

* every configuration the budget accepts trains (a few steps, with evaluations) and is traced
  for the pages with a peak resident memory, measured in a fresh forked process
  (:mod:`tests.peak_memory`), under ``CEILING_BYTES`` = ``FIXED_BYTES`` + ``BYTES_PER_NUMBER`` ×
  ``BUDGET`` (96 MiB + 16 B × 2 M = 128 MiB): the cost model's numbers at float32, with room for
  gradients, optimiser state and temporaries, plus a fixed allowance for what any run costs;
* the same configuration with the budget set one number below its cost is refused in under a
  second, before any model is built.

Example counts are small (the first property forks a training per example).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ragviz.training.train as train_module
from ragviz.graph.task_graph import TaskGraph
from ragviz.model.config import AGGREGATIONS, COMPOSITIONS, DECODERS, UNSEEN, ModelConfig, TrainConfig
from ragviz.safety.limits import BudgetError, activation_count

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 2_000_000  # numbers (RAGVIZ_MAX_ACTIVATIONS_M=2)
BYTES_PER_NUMBER = 16  # float32 activation + its gradient + two Adam moments (measured: about 4)
#: What a forked child's training and trace cost however small the work (measured 33 MiB for 2 tasks,
#: 80-89 MiB for 150-300 tasks of 400 points at a fraction of the budget: allocator arenas, data,
#: history, the trace's records), so the budget cannot bound it.
FIXED_BYTES = 96 * 2**20
CEILING_BYTES = FIXED_BYTES + BYTES_PER_NUMBER * BUDGET
PROPERTY = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@st.composite
def graphs_and_models(draw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    n = draw(st.integers(2, 150))
    relations = draw(st.integers(1, 400))
    nodes = [{"id": f"t{i}", "family": "moons", "params": {"rotate": 9.0 * i},
              "train_size": draw(st.integers(0 if i else 5, 200)), "test_size": draw(st.integers(5, 200)), "seed": i}
             for i in range(n)]
    edges = [{"source": f"t{u}", "target": f"t{v}", "key": f"r{r}", "weight": 1.0}
             for u, v, r in draw(st.lists(
                 st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.integers(0, relations - 1)).filter(
                     lambda e: e[0] != e[1]), max_size=600, unique_by=lambda e: (min(e[:2]), max(e[:2]), e[2])))]
    graph = {"relations": [{"name": f"r{r}", "directed": draw(st.booleans())} for r in range(relations)],
             "graph": {"nodes": nodes, "edges": edges}}
    model = {"embed_dim": draw(st.sampled_from([4, 8, 16, 32, 64])), "hidden": draw(st.sampled_from([8, 16, 32, 64])),
             "layers": draw(st.integers(1, 3)), "composition": draw(st.sampled_from(COMPOSITIONS)),
             "aggregation": draw(st.sampled_from(AGGREGATIONS)), "n_bases": draw(st.integers(1, 32)),
             "decoder": draw(st.sampled_from(DECODERS)), "unseen_state": draw(st.sampled_from(UNSEEN))}
    return graph, model


def _cost(graph: TaskGraph, config: ModelConfig, grid_points: int = 0) -> int:
    """What the budget charges for ``config`` on ``graph`` (moons: 2 inputs, 2 outputs)."""
    return activation_count(graph.number_of_tasks(), graph.number_of_edges(), graph.number_of_points() + grid_points,
                            embed_dim=config.embed_dim, hidden=config.hidden, layers=config.layers,
                            relations=len(graph.relations), composition=config.composition,
                            aggregation=config.aggregation, n_bases=config.n_bases, decoder=config.decoder,
                            unseen_state=config.unseen_state)


@pytest.fixture(scope="module")
def worker():
    env = {**os.environ, "RAGVIZ_MAX_ACTIVATIONS_M": str(BUDGET / 1e6), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "tests.peak_memory"], cwd=ROOT, env=env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def measure(job: dict[str, Any]) -> dict[str, Any]:
        process.stdin.write(json.dumps(job) + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    yield measure
    process.stdin.close()
    process.wait(timeout=30)


GRID = 20


@PROPERTY
@given(graphs_and_models())
def test_work_within_the_budget_stays_under_the_memory_ceiling(worker, drawn) -> None:
    graph_dict, model_dict = drawn
    graph, config = TaskGraph.from_dict(graph_dict), ModelConfig.from_dict(model_dict)
    assume(_cost(graph, config, GRID * GRID) <= BUDGET)
    answer = worker({"graph": graph_dict, "model": model_dict, "grid": GRID,
                     "train": TrainConfig(steps=3, eval_every=1).to_dict()})
    assert "error" not in answer, answer
    assert answer["peak"] <= CEILING_BYTES, (
        f"peak {answer['peak'] / 2**20:.1f} MiB over the ceiling {CEILING_BYTES / 2**20:.0f} MiB for "
        f"{graph.number_of_tasks()} tasks, {graph.number_of_edges()} edges, {len(graph.relations)} relations, {config}")


@settings(max_examples=15, deadline=None, derandomize=True)
@given(graphs_and_models())
def test_work_just_over_the_budget_is_refused_at_once(drawn) -> None:
    graph_dict, model_dict = drawn
    graph, config = TaskGraph.from_dict(graph_dict), ModelConfig.from_dict(model_dict)
    cost = _cost(graph, config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAGVIZ_MAX_ACTIVATIONS_M", str((cost - 1) / 1e6))
        patch.setattr(train_module, "build_model", _never)
        start = time.perf_counter()
        with pytest.raises(BudgetError, match="RAGVIZ_MAX_ACTIVATIONS_M"):
            train_module.train(graph, config, TrainConfig(steps=2))
        assert time.perf_counter() - start < 1.0


def _never(*_args: Any, **_kwargs: Any) -> None:
    raise AssertionError("a model was built for work over the budget")
