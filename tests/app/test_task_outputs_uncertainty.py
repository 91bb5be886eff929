"""Task outputs' "How sure is the model?" section: train the ensemble from the page, see the map and the flags."""

from __future__ import annotations

import json

import pytest
from conftest import small_ring

from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.safe_text import md_escape
from ragviz.training.ensemble import Ensemble
from ragviz.training.project import Project
from ragviz.training.train import train
from ragviz.ui.state import STATE_KEY
from ragviz.ui.uncertainty_widgets import BUTTON
from tests.app.helpers import checkpoint_state, errors_of, open_page

PAGE = "pages/task_outputs.py"
ODD = "*new* [task]_2 www.example.com"


@pytest.fixture(scope="module")
def odd_ring():
    """A tiny trained ring whose zero-shot task's name is full of markdown and an autolink."""
    graph = small_ring(n=6, zero_shot=(2,), train_size=20)
    graph.rename_task(graph.task_names()[2], ODD)
    project = Project(graph, ModelConfig(embed_dim=8, hidden=16), TrainConfig(steps=40, eval_every=20), name="odd")
    return project, train(project.graph, project.model_config, project.train_config)


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def train_from_page(at):
    next(b for b in at.button if b.label == BUTTON).click().run()
    entry = at.session_state[STATE_KEY].runs.ensemble
    entry.run.join(timeout=120)
    at.run()
    return entry


def test_the_button_trains_five_models_and_shows_where_they_disagree(odd_ring) -> None:
    project, result = odd_ring
    state = checkpoint_state(project, result)
    at = open_page(PAGE, state)
    assert errors_of(at) == []
    assert len(charts(at)) == 1  # only the outputs until the models are trained
    entry = train_from_page(at)
    assert errors_of(at) == []
    ensemble = entry.run.ensemble
    assert isinstance(ensemble, Ensemble) and ensemble.k == 5
    figs = charts(at)
    assert len(figs) == 2
    spread = figs[1]
    assert sum(t["type"] == "heatmap" for t in spread["data"]) == project.graph.number_of_tasks()
    assert "naming different" in spread["layout"]["coloraxis"]["colorbar"]["title"]["text"]
    flagged = [n for n, bad in ensemble.untrusted().items() if bad]
    warnings = [w.value for w in at.warning]
    assert len(warnings) == len(flagged)
    trust = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert set(trust["task"]) == set(project.graph.task_names())


@pytest.mark.parametrize(("reason", "says", "not_said"), [
    ("spread", "models disagree", "relation(s) from any task with data"),
    ("far", "relation(s) from any task with data", "models disagree"),  # they may agree: distance is the reason
])
def test_a_zero_shot_guess_is_flagged_with_its_name_as_plain_text_and_why(odd_ring, monkeypatch, reason, says,
                                                                          not_said) -> None:
    project, result = odd_ring
    zero = ODD
    monkeypatch.setattr(Ensemble, "guess_reasons", lambda self, graph=None, tables=None: {zero: reason})
    at = open_page(PAGE, checkpoint_state(project, result))
    train_from_page(at)
    assert errors_of(at) == []
    warning = next(w.value for w in at.warning if "is a guess" in w.value)
    assert md_escape(zero) in warning and says in warning and not_said not in warning
    assert "www.example.com" not in warning  # GFM would make it a live link
    spread = charts(at)[1]
    titles = [a["text"] for a in spread["layout"]["annotations"]]
    assert any("a guess" in t and ODD in t for t in titles)
    trust = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert trust.iloc[0]["task"] == zero and "guess" in trust.iloc[0]["verdict"]


def test_editing_the_graph_drops_the_ensemble(odd_ring) -> None:
    project, result = odd_ring
    state = checkpoint_state(project, result)
    at = open_page(PAGE, state)
    train_from_page(at)
    state.project.train_config = TrainConfig(steps=41)
    at.run()
    assert errors_of(at) == []
    assert state.runs.ensemble is None
    assert any(b.label == BUTTON for b in at.button)

