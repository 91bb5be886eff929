"""The work budget: every way work enters refuses over-budget input with a clear message, before allocating."""

from __future__ import annotations

import json
import struct

import pytest

import ragviz.graph.csv_files as graph_csv_module
import ragviz.graph.generators as generators_module
import ragviz.graph.task_graph as graph_module
import ragviz.inspection.trace as trace_module
import ragviz.training.prepared as prepared_module
from ragviz.data.domains import domain_spec
from ragviz.graph.editing import EditHistory, graph_memory
from ragviz.graph.generators import generate_graph
from ragviz.graph.io import (
    graph_from_csv,
    graph_from_graphml,
    graph_to_csv,
    graph_to_graphml,
    graph_to_json,
    import_graph,
)
from ragviz.graph.task_graph import TaskGraph
from ragviz.inspection.trace import compute_trace
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.model.rag import build_model
from ragviz.model.tensors import make_vocab
from ragviz.safety.errors import CheckpointError
from ragviz.safety.limits import BudgetError, Limits, activation_count, check_budget, get_limits, keep_bounded
from ragviz.storage.checkpoint import checkpoint_bytes, load_checkpoint
from ragviz.training.prepared import prepare
from ragviz.training.project import Project
from ragviz.training.runner import TrainingRun
from ragviz.training.train import train
from tests.helpers import small_ring

SMALL = ModelConfig(embed_dim=8, hidden=16)


def _never(*_args, **_kwargs):
    raise AssertionError("allocated before the budget was checked")


# ---------------------------------------------------------------------------------- the rule
@pytest.mark.parametrize(("counts", "number", "variable"), [
    ({"tasks": 20_001}, "number of tasks is 20,001", "RAGVIZ_MAX_TASKS"),
    ({"edges": 200_001}, "number of edges is 200,001", "RAGVIZ_MAX_EDGES"),
    ({"tasks": 2_000, "points": 400_000_000}, "train + test points is 400,000,000", "RAGVIZ_MAX_POINTS"),
])
def test_each_number_over_the_default_budget_is_named_with_its_limit(counts, number, variable) -> None:
    with pytest.raises(BudgetError) as info:
        check_budget(**counts, limits=Limits(1, 1, 1, 1, 1.0))
    message = str(info.value)
    assert number in message and "limit is" in message and variable in message


def test_model_size_times_points_is_a_budget_too() -> None:
    big = ModelConfig(embed_dim=512, hidden=1024, layers=6)
    lim = Limits(1, 1, 1, 1, 1.0)
    check_budget(tasks=1_000, edges=1_000, points=140_000, model=SMALL, limits=lim)
    with pytest.raises(BudgetError, match="model size × points.*RAGVIZ_MAX_ACTIVATIONS_M"):
        check_budget(tasks=20_000, edges=100_000, points=2_800_000, model=big, limits=lim)
    assert activation_count(10, 10, 100, hidden=32, embed_dim=16, layers=2) < \
        activation_count(10, 10, 100, hidden=64, embed_dim=16, layers=2)


def test_limits_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("RAGVIZ_MAX_TASKS", "5")
    monkeypatch.setenv("RAGVIZ_MAX_RUNS", "2")
    assert get_limits().max_tasks == 5 and get_limits().max_runs == 2
    with pytest.raises(BudgetError, match="number of tasks is 6; this server's limit is 5"):
        generate_graph("ring", 6)
    monkeypatch.setenv("RAGVIZ_MAX_TASKS", "lots")
    with pytest.warns(UserWarning, match="RAGVIZ_MAX_TASKS"):
        assert get_limits().max_tasks == 20_000


# ------------------------------------------------------------------------------- entry points
def test_the_generator_refuses_before_building_anything(monkeypatch) -> None:
    monkeypatch.setattr(generators_module, "_edges", _never)
    monkeypatch.setattr(generators_module, "_build", _never)
    with pytest.raises(BudgetError, match="generated graph's total of train \\+ test points is 400,000,000"):
        generate_graph("ring", 2_000, train_size=100_000, test_size=100_000)
    with pytest.raises(BudgetError, match="number of edges"):
        generate_graph("random", 2_000, p=0.5)


def test_graph_validation_applies_the_budget(monkeypatch) -> None:
    graph = small_ring(6)
    graph.validate()
    monkeypatch.setenv("RAGVIZ_MAX_POINTS", "100")
    with pytest.raises(BudgetError, match="train \\+ test points is 450; this server's limit is 100"):
        graph.validate()


@pytest.mark.parametrize("fmt", ["json", "graphml", "csv"])
def test_every_importer_refuses_before_building_tasks(monkeypatch, fmt) -> None:
    graph = small_ring(6)
    files = {"json": ("g.json", graph_to_json(graph).encode()),
             "graphml": ("g.graphml", graph_to_graphml(graph).encode()),
             "csv": ("nodes.csv", graph_to_csv(graph)[0].encode())}
    name, data = files[fmt]
    assert import_graph(data, name) == (graph if fmt != "csv" else graph_from_csv(graph_to_csv(graph)[0]))
    monkeypatch.setenv("RAGVIZ_MAX_TASKS", "5")
    monkeypatch.setattr(graph_module, "make_task", _never)
    monkeypatch.setattr(graph_csv_module, "make_task", _never)
    with pytest.raises(BudgetError, match="number of tasks is (at least )?6"):  # CSV: refused at the row
        import_graph(data, name)


def test_importers_count_edges_and_declared_points(monkeypatch) -> None:
    graph = small_ring(6)
    monkeypatch.setenv("RAGVIZ_MAX_EDGES", "5")
    with pytest.raises(BudgetError, match="number of edges is 6"):
        graph_from_graphml(graph_to_graphml(graph))
    with pytest.raises(BudgetError, match="number of edges is at least 6"):  # refused at the 6th edge row
        graph_from_csv(*graph_to_csv(graph))
    monkeypatch.delenv("RAGVIZ_MAX_EDGES")
    monkeypatch.setenv("RAGVIZ_MAX_POINTS", "400")
    with pytest.raises(BudgetError, match="points is 450"):
        TaskGraph.from_dict(json.loads(graph_to_json(graph)))


def _with_project(data: bytes, change) -> bytes:
    """The same checkpoint with its metadata's project rewritten by ``change`` (tensors untouched)."""
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    project = json.loads(header["__metadata__"]["project"])
    change(project)
    header["__metadata__"]["project"] = json.dumps(project)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data[8 + n:]


@pytest.mark.parametrize(("tasks", "test_size", "number"), [
    (40_000, 100_000, "number of tasks is 40,000"),
    (1_000, 100_000, "train + test points is 100,000,000"),
])
def test_a_checkpoint_declaring_huge_work_is_refused_from_its_metadata(monkeypatch, trained_ring, tasks, test_size,
                                                                       number) -> None:
    project, result = trained_ring
    data = checkpoint_bytes(project, result.model, result.history)

    def declare(p):
        p["task_graph"]["graph"]["nodes"] = [
            {"id": f"t{k}", "family": "moons", "train_size": 0, "test_size": test_size} for k in range(tasks)]
        p["task_graph"]["graph"]["edges"] = []

    monkeypatch.setattr(graph_module, "make_task", _never)
    with pytest.raises(CheckpointError, match=number.replace("+", "\\+")):
        load_checkpoint(_with_project(data, declare), max_bytes=50_000_000)


def test_prepare_and_trace_check_model_size_before_making_data(monkeypatch, trained_ring) -> None:
    project, result = trained_ring
    graph = project.graph
    prepare(graph, result.model)
    monkeypatch.setenv("RAGVIZ_MAX_ACTIVATIONS_M", "0.01")
    monkeypatch.setattr(prepared_module, "graph_data_items", _never)
    monkeypatch.setattr(trace_module, "prepare", _never)
    with pytest.raises(BudgetError, match="RAGVIZ_MAX_ACTIVATIONS_M"):
        prepare(graph, result.model)
    with pytest.raises(BudgetError, match="RAGVIZ_MAX_ACTIVATIONS_M"):
        compute_trace(result.model, graph)


def test_the_trace_counts_the_plotting_grid(monkeypatch, trained_ring) -> None:
    project, result = trained_ring
    model = result.model
    spec = model.spec
    base = activation_count(6, 6, 450, input_dim=spec.input_dim, n_outputs=spec.n_outputs, embed_dim=16,
                            hidden=32, layers=2, relations=len(project.graph.relations))
    monkeypatch.setenv("RAGVIZ_MAX_ACTIVATIONS_M", str((base + 100) / 1e6))
    prepare(project.graph, model)  # fits without a grid
    with pytest.raises(BudgetError):
        compute_trace(model, project.graph, grid_resolution=50)


def test_training_and_a_run_refuse_over_budget_before_building_a_model(monkeypatch) -> None:
    import ragviz.training.train as train_module

    project = Project(small_ring(4), ModelConfig(embed_dim=512, hidden=1024, layers=6), TrainConfig(steps=2))
    monkeypatch.setenv("RAGVIZ_MAX_ACTIVATIONS_M", "0.1")
    monkeypatch.setattr(train_module, "build_model", _never)
    with pytest.raises(BudgetError, match="embedding 512, width 1024, 6 layers"):
        train(project.graph, project.model_config, project.train_config)
    run = TrainingRun(project)
    with pytest.raises(BudgetError):
        run.start()
    assert not run.alive and run.snapshot().status == "idle"


def test_defaults_let_a_big_generated_ring_train_setup_through() -> None:
    graph = generate_graph("ring", 20_000)
    graph.validate()
    model = build_model(ModelConfig(), domain_spec(graph), make_vocab(graph))
    prepared_module.check_model_budget(graph, model)


# ------------------------------------------------------------------------------ session caps
def test_kept_uploads_are_bounded_by_count_and_bytes() -> None:
    lim = Limits(1, 1, 1, 1, 1.0, kept_uploads=3, kept_uploads_bytes=250)
    files: dict[str, bytes] = {}
    dropped = []
    for k in range(5):
        files[f"f{k}"] = b"x" * 50
        dropped += keep_bounded(files, lim)
    assert list(files) == ["f2", "f3", "f4"] and dropped == ["f0", "f1"]
    files["big"] = b"x" * 200
    assert keep_bounded(files, lim) == ["f2", "f3"] and list(files) == ["f4", "big"]
    files["huge"] = b"x" * 1000  # the newest is kept even alone over the byte cap
    keep_bounded(files, lim)
    assert list(files) == ["huge"]


def test_undo_history_memory_is_capped() -> None:
    graph = small_ring(6)
    per_graph = graph_memory(graph)
    edits = EditHistory(graph, limit=50, max_bytes=3 * per_graph)
    for k in range(10):
        graph = graph.copy()
        graph.update_task(graph.task_names()[0], train_size=10 + k)
        edits.push(graph)
    assert edits.undo_steps == 3 and edits.memory <= 3 * per_graph and edits.dropped == 7
    for _ in range(3):
        edits.undo()
    assert not edits.can_undo and edits.current.tasks()[0].train_size == 16
    assert edits.redo().tasks()[0].train_size == 17


def test_undo_history_step_cap_still_applies() -> None:
    graph = small_ring(4)
    edits = EditHistory(graph, limit=2, max_bytes=10**9)
    for k in range(5):
        graph = graph.copy()
        graph.update_task(graph.task_names()[0], train_size=10 + k)
        edits.push(graph)
    assert edits.undo_steps == 2


def test_the_cost_model_counts_the_propagation_with_the_models_own_sizes() -> None:
    """The budget (safety layer) repeats the propagated strategy's sizes: they must agree, and count."""
    from ragviz.model.unseen import propagated
    from ragviz.safety import limits

    assert limits.PROPAGATION_SOLVE_MAX_TASKS == propagated.SOLVE_MAX_TASKS
    assert limits.PROPAGATION_SWEEPS == propagated.SWEEPS
    for tasks, edges in ((200, 400), (5_000, 20_000)):
        plain = activation_count(tasks, edges, 0, unseen_state="learned")
        assert activation_count(tasks, edges, 0) > plain
