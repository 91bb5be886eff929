"""Message passing page: no model, a loaded checkpoint, a fresh run, an edited graph, a model without layers."""

from __future__ import annotations

import base64
import json

import numpy as np

from ragviz.data.domains import domain_spec
from ragviz.inspection.trace import compute_trace
from ragviz.model.config import ModelConfig
from ragviz.model.rag import build_model
from ragviz.model.tensors import make_vocab
from ragviz.ui.state import TrainedModel
from tests.app.helpers import checkpoint_state, errors_of, open_page, plain, trained_state, untrained_state

PAGE = "pages/message_passing.py"


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(array) -> np.ndarray:
    """A Plotly JSON array: a list, or base64 typed data."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array, dtype=float)


def bar_chart(at) -> dict:
    return next(c for c in charts(at) if "Messages into" in c["layout"]["title"]["text"])


def texts(at) -> str:
    return "\n".join(plain(str(e.value)) for e in [*at.markdown, *at.caption, *at.info])


def test_without_a_model_the_page_says_what_to_do(trained_ring) -> None:
    at = open_page(PAGE, untrained_state(trained_ring[0]))
    assert errors_of(at) == []
    assert "no trained model yet" in at.info[0].value and "Train" in at.info[0].value
    assert charts(at) == []


def test_from_a_checkpoint_it_shows_graph_bars_equation_and_states(trained_ring) -> None:
    project, result = trained_ring
    state = checkpoint_state(project, result)
    at = open_page(PAGE, state)
    assert errors_of(at) == []
    figures = charts(at)
    assert len(figures) == 3  # the graph with its frames, the bar chart, the heatmap
    assert len(figures[0]["frames"]) == 2
    zero = next(t.name for t in project.graph.tasks() if t.zero_shot)
    assert at.selectbox(key="mp_focus").value == zero  # a zero-shot task is the default focus
    assert f"#### {zero} ★ zero-shot" in texts(at)
    trace = compute_trace(state.model, state.project.graph)
    assert np.allclose(np.sort(values(bar_chart(at)["data"][0]["x"])), np.sort(trace.incoming(zero, 1)["norm"]),
                       atol=1e-5)
    latex = [e.value for e in at.latex]
    assert len(latex) == 4 and "LayerNorm" in latex[2] and r"\underbrace" in latex[3]

    other = project.graph.task_names()[0]
    at.selectbox(key="mp_focus").set_value(other)
    at.radio(key="mp_layer").set_value(2).run()
    assert errors_of(at) == []
    assert f"#### {other}" in texts(at) and "layer 2" in bar_chart(at)["layout"]["title"]["text"]
    assert np.allclose(np.sort(values(bar_chart(at)["data"][0]["x"])), np.sort(trace.incoming(other, 2)["norm"]),
                       atol=1e-5)
    assert "h^{2}_{v}" in at.latex[3].value
    assert "2 hops" in texts(at)  # the receptive field after two layers


def test_right_after_training_and_on_an_edited_graph(trained_ring) -> None:
    project, result = trained_ring
    state = trained_state(project, result)
    at = open_page(PAGE, state)
    assert errors_of(at) == [] and len(charts(at)) == 3
    graph = state.project.graph.copy()
    graph.add_relation("far", directed=True)
    names = graph.task_names()
    graph.add_edge(names[0], names[3], "far")
    state.project.graph = graph
    at.run()
    assert [e.value for e in at.exception] == []
    assert "were not in the graph this model was trained on" in at.error[0].value
    assert charts(at) == []


def test_a_model_without_layers_is_explained(trained_ring) -> None:
    project, _ = trained_ring
    state = untrained_state(project)
    graph = state.project.graph
    model = build_model(ModelConfig(layers=0), domain_spec(graph), make_vocab(graph))
    state.trained = TrainedModel(model, None, graph.copy(), "built in this test")
    at = open_page(PAGE, state)
    assert errors_of(at) == []
    assert "no message-passing layers" in at.info[0].value
    assert len(charts(at)) == 1


def test_the_layer_choice_names_every_layer(trained_ring) -> None:
    project, result = trained_ring
    at = open_page(PAGE, checkpoint_state(project, result))
    layers = at.radio(key="mp_layer")
    assert list(layers.options) == [f"layer {k}" for k in range(1, project.model_config.layers + 1)]


def test_a_zero_shot_tasks_last_layer_shows_the_fixed_point_that_makes_it(trained_ring) -> None:
    """The default model closes the network: at the last layer a ★ task's state is the weighted sum of its
    neighbours' τ-scaled last states; the page shows that equation and those terms, not the layer update."""
    project, result = trained_ring
    state = checkpoint_state(project, result)
    at = open_page(PAGE, state)
    zero = next(t.name for t in project.graph.tasks() if t.zero_shot)
    at.radio(key="mp_layer").set_value(2).run()
    assert errors_of(at) == []
    latex = [e.value for e in at.latex]
    assert any(r"\tau_{r} \odot t_{u}" in line for line in latex)
    assert not any("LayerNorm" in line for line in latex)
    assert "where its relations put it" in texts(at)
    trace = compute_trace(state.model, state.project.graph)
    terms = trace.incoming(zero, 2)
    assert np.allclose(np.sort(values(bar_chart(at)["data"][0]["x"])), np.sort(terms["norm"]), atol=1e-5)
    sources = [trace.index(s) for s in terms["source"]]
    assert np.allclose(trace.messages[1][trace.message_dst == trace.index(zero)].sum(0),
                       trace.layers[-1, trace.index(zero)], atol=1e-3)  # the terms add up to t_v
    assert sources  # it has neighbours
    assert "what you see here is what decides its prediction" in texts(at)
