"""Drawing (generation) tasks in the app: the ring loads from Generate, its preview shows what to draw,
Task outputs shows every task's drawings beside the true images, and every page opens on such a model."""

from __future__ import annotations

import json

import pytest

from ragviz.graph.task_graph import TaskGraph
from ragviz.lessons.graphs import rotated_drawings
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.training.project import Project
from ragviz.training.train import train
from tests.app.helpers import checkpoint_state, errors_of, open_page, plain, untrained_state

PAGE = "pages/task_outputs.py"


@pytest.fixture(scope="module")
def trained_drawings():
    project = Project(rotated_drawings(train_size=30, test_size=20), ModelConfig(hidden=16, layers=1),
                      TrainConfig(steps=10, eval_every=5, device="cpu"), name="Drawn digits")
    return project, train(project.graph, project.model_config, project.train_config)


def test_the_ring_of_drawn_digits_loads_and_its_preview_shows_what_to_draw() -> None:
    state = untrained_state(Project(TaskGraph(), name="empty"))
    at = open_page("pages/task_graph.py", state)
    next(b for b in at.button if plain(b.label) == "Load the ring of drawn digits (generation)").click().run()
    assert not errors_of(at)
    assert state.graph.number_of_tasks() == 12 and state.graph.domain == "drawing"
    assert "digits_drawn" in next(s for s in at.selectbox if s.key == "tg_gen_family").options


def test_task_outputs_shows_each_tasks_drawings_beside_the_truth(trained_drawings) -> None:
    project, result = trained_drawings
    at = open_page(PAGE, checkpoint_state(*trained_drawings))
    assert errors_of(at) == []
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = project.graph.task_names()
    assert [t["type"] for t in fig["data"]] == ["heatmap"] * len(names)
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert all("MSE" in t and "recognised" in t for t in titles)
    assert sum("★" in t for t in titles) == 2
    assert any("frozen classifier" in plain(c.value) for c in at.caption)
    table = next(d.value for d in at.dataframe if "zero-shot" in d.value.columns)
    assert "MSE" in table.columns
    assert any("not offered for drawing tasks" in plain(c.value) for c in at.caption)


def test_every_page_opens_on_a_trained_drawing_model(trained_drawings) -> None:
    state = checkpoint_state(*trained_drawings)
    for page in ("pages/message_passing.py", "pages/embeddings.py", "pages/train.py", "pages/checkpoints.py",
                 "pages/task_graph.py"):
        at = open_page(page, state)
        assert errors_of(at) == [], page
