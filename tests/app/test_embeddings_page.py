"""Embeddings page: no model, layers and training snapshots, PCA and t-SNE, colours, nearest neighbours."""

from __future__ import annotations

import json

import numpy as np

from ragviz.inspection.projection import nearest_neighbours
from ragviz.inspection.trace import compute_trace
from tests.app.helpers import checkpoint_state, errors_of, open_page, trained_state, untrained_state

PAGE = "pages/embeddings.py"


def figure(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def color_box(at):
    return next(s for s in at.selectbox if s.label == "Colour tasks by")


def test_without_a_model_the_page_says_what_to_do(trained_ring) -> None:
    at = open_page(PAGE, untrained_state(trained_ring[0]))
    assert errors_of(at) == []
    assert "no trained model yet" in at.info[0].value
    assert len(at.get("plotly_chart")) == 0


def test_layers_with_neighbours_from_a_checkpoint(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    at = open_page(PAGE, state)
    assert errors_of(at) == []
    fig = figure(at)
    assert len(fig["frames"]) == 3  # h⁰, h¹, h² of a two-layer model
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("PC 1")
    assert color_box(at).value == "rotate"  # the parameter that varies, as on the Task graph page
    focus = at.selectbox(key="em_focus").value
    trace = compute_trace(state.model, state.project.graph)
    expected = nearest_neighbours(trace.embeddings, trace.task_names, focus, "cosine", 5)
    table = at.dataframe[0].value
    assert [t.rstrip(" ★") for t in table["task"]] == list(expected["task"])
    assert np.allclose(table["distance"], expected["distance"])

    at.radio(key="em_metric").set_value("euclidean").run()
    expected = nearest_neighbours(trace.embeddings, trace.task_names, focus, "euclidean", 5)
    assert [t.rstrip(" ★") for t in at.dataframe[0].value["task"]] == list(expected["task"])
    for choice in ("metric", "zero-shot", "family"):
        color_box(at).set_value(choice).run()
        assert errors_of(at) == [], choice


def test_training_snapshots_and_tsne_right_after_training(trained_ring) -> None:
    project, result = trained_ring
    at = open_page(PAGE, trained_state(project, result))
    at.radio(key="em_view").set_value("Across training").run()
    assert errors_of(at) == []
    fig = figure(at)
    assert [f["name"] for f in fig["frames"]] == [f"step {s}" for s in result.history.snapshot_steps]
    at.radio(key="em_method").set_value("t-SNE").run()
    assert errors_of(at) == []
    assert figure(at)["layout"]["xaxis"]["title"]["text"] == "t-SNE 1"
    assert not at.number_input(key="em_seed").disabled


def test_a_checkpoint_without_snapshots_falls_back_to_layers(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    state.history.snapshots, state.history.snapshot_steps = [], []
    at = open_page(PAGE, state)
    at.radio(key="em_view").set_value("Across training").run()
    assert errors_of(at) == []
    assert "no embedding snapshots" in at.info[0].value
    assert len(figure(at)["frames"]) == 3
