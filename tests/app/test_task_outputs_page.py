"""Task outputs page: no model, small multiples, metrics with zero-shot and baseline, what-if edits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ragviz.inspection.counterfactual import with_edge
from ragviz.inspection.trace import compute_trace
from tests.app.helpers import checkpoint_state, errors_of, open_page, trained_state, untrained_state
from tests.helpers import small_ring

PAGE = "pages/task_outputs.py"


def figure(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def metrics(at):
    """The per-task metrics table (the what-if's change table, when shown, comes first)."""
    return next(d.value for d in at.dataframe if "zero-shot" in d.value.columns)


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_without_a_model_the_page_says_what_to_do(trained_ring) -> None:
    at = open_page(PAGE, untrained_state(trained_ring[0]))
    assert errors_of(at) == []
    assert "no trained model yet" in at.info[0].value
    assert len(at.get("plotly_chart")) == 0


def test_small_multiples_and_metrics_from_a_checkpoint(trained_ring) -> None:
    project, result = trained_ring
    at = open_page(PAGE, checkpoint_state(project, result))
    assert errors_of(at) == []
    fig = figure(at)
    names = project.graph.task_names()
    assert sum(t["type"] == "heatmap" for t in fig["data"]) == len(names)
    assert len(fig["layout"]["annotations"]) == len(names)
    whatif = next(e for e in at.expander if e.label.startswith("What if"))
    assert not whatif.proto.expanded  # collapsed until used: the outputs fill the first screen
    table = metrics(at)
    zero = [t.name for t in project.graph.tasks() if t.zero_shot]
    assert list(table.loc[table["zero-shot"] == "★", "task"]) == [*zero, "Mean (zero-shot tasks)"]
    assert np.allclose(table["accuracy"].iloc[:len(names)], result.history.test_metric[-1])
    at.radio(key="to_mode").set_value("predicted class").run()
    assert errors_of(at) == []
    assert figure(at)["layout"]["coloraxis"]["colorbar"]["title"]["text"] == "predicted class"


def test_the_baseline_is_beside_the_model(trained_ring) -> None:
    project, result = trained_ring
    at = open_page(PAGE, trained_state(project, result, "no edges", result))  # the same weights without edges
    assert errors_of(at) == []
    table = metrics(at)
    assert "baseline (no edges)" in table.columns and "RAG − baseline" in table.columns
    zero = next(t.name for t in project.graph.tasks() if t.zero_shot)
    row = table.set_index("task").loc[zero]
    assert row["accuracy"] != row["baseline (no edges)"]  # without its edges a zero-shot task loses its relations


def test_adding_an_edge_changes_the_metrics_then_reset_and_keep(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    at = open_page(PAGE, state)
    before = metrics(at)
    zero = next(t.name for t in project.graph.tasks() if t.zero_shot)
    source = project.graph.task_names()[0]
    assert next(s for s in at.selectbox if s.label == "To").value == zero
    button(at, "Try this edge").click().run()
    assert errors_of(at) == []
    after = metrics(at)
    assert "accuracy before edit" in after.columns
    assert any(t["type"] == "contour" for t in figure(at)["data"])  # the old boundaries, dashed
    assert np.allclose(after["accuracy before edit"], before["accuracy"])
    expected = compute_trace(state.model, with_edge(project.graph, source, zero, "near"))
    mine = after.set_index("task").loc[zero]
    assert mine["accuracy"] == pytest.approx(expected.test_metric[expected.index(zero)])
    assert mine["accuracy"] != mine["accuracy before edit"]  # the new relation changed the zero-shot predictor
    changes = at.dataframe[0].value.set_index("task")
    assert changes.loc[f"{zero} ★", "after"] == pytest.approx(mine["accuracy"])
    assert state.project.graph == project.graph  # nothing saved yet
    assert "→" in "".join(a["text"] for a in figure(at)["layout"]["annotations"])

    button(at, "Reset").click().run()
    assert "accuracy before edit" not in metrics(at).columns
    button(at, "Try this edge").click().run()
    button(at, "Keep in project").click().run()
    assert errors_of(at) == []
    assert state.project.graph.nx.has_edge(source, zero, "near")
    assert state.edits.can_undo and state.edited_since_training
    assert "Kept in the project graph" in at.success[0].value


def test_adding_a_zero_shot_task_and_an_unknown_relation(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    at = open_page(PAGE, state)
    at.radio(key="to_wi_kind").set_value("Add a zero-shot task").run()
    name = next(t for t in at.text_input if t.label == "Name").value
    button(at, "Try this task").click().run()
    assert errors_of(at) == []
    table = metrics(at).set_index("task")
    assert table.loc[name, "zero-shot"] == "★" and np.isnan(table.loc[name, "accuracy before edit"])
    assert len([t for t in figure(at)["data"] if t["type"] == "heatmap"]) == len(project.graph.task_names()) + 1

    graph = state.project.graph.copy()
    graph.add_relation("far")
    state.project.graph = graph  # a relation the model never saw: the what-if is dropped, the edit refused
    at.run()
    at.radio(key="to_wi_kind").set_value("Add an edge").run()
    next(s for s in at.selectbox if s.label == "Relation").set_value("far")
    button(at, "Try this edge").click().run()
    assert [e.value for e in at.exception] == []
    assert "were not in the graph this model was trained on" in at.error[0].value
    assert "accuracy before edit" not in metrics(at).columns


def test_many_tasks_are_shown_a_page_at_a_time(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    state.project.graph = small_ring(30, zero_shot=(), train_size=5)  # the trained model on a bigger graph
    at = open_page(PAGE, state)
    assert errors_of(at) == []
    pages = next(s for s in at.selectbox if s.label == "Tasks")
    assert pages.options == ["1–24 of 30", "25–30 of 30"]
    assert sum(t["type"] == "heatmap" for t in figure(at)["data"]) == 24
    pages.set_value(1).run()
    assert sum(t["type"] == "heatmap" for t in figure(at)["data"]) == 6
    assert len(metrics(at)) == 30 + 2  # the table lists every task, plus the two means
