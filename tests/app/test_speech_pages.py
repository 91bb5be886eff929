"""Speech tasks in the Task graph page: the ready-made speaker grid, the speaker list, and clips to play."""

from __future__ import annotations

from ragviz.data.speech import SPEAKERS
from ragviz.graph.task_graph import TaskGraph
from ragviz.lessons.graphs import speaker_grid
from ragviz.training.project import Project
from tests.app.helpers import errors_of, open_page, plain, untrained_state

PAGE = "pages/task_graph.py"


def test_the_speaker_grid_loads_and_its_preview_plays_each_speakers_clip() -> None:
    state = untrained_state(Project(TaskGraph(), name="empty"))
    at = open_page(PAGE, state)
    next(b for b in at.button if plain(b.label) == "Load the grid of speakers (spoken digits)").click().run()
    assert not errors_of(at)
    assert state.graph.number_of_tasks() == 15 and state.graph.domain == "speech"
    audio = at.get("audio")
    assert len(audio) >= 8  # the preview's default tasks, one clip each
    assert all(a.proto.url for a in audio)
    charts = [c for c in at.get("plotly_chart") if "tg_speech_" in str(c.proto)]
    assert len(charts) == len(audio)
    assert any("synthetic" in plain(str(c.value)) for c in at.caption)


def test_the_add_task_form_offers_the_speakers_as_a_list() -> None:
    graph = speaker_grid()
    at = open_page(PAGE, untrained_state(Project(graph, name="speakers")))
    assert not errors_of(at)
    speaker = [s for s in at.selectbox if s.label == "speaker"]
    assert speaker and list(speaker[0].options) == list(SPEAKERS)


def test_every_page_opens_on_a_trained_speech_model() -> None:
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.train import train
    from tests.app.helpers import checkpoint_state

    project = Project(speaker_grid(train_size=20, test_size=20), ModelConfig(hidden=16),
                      TrainConfig(steps=10, eval_every=5), name="Speakers")
    state = checkpoint_state(project, train(project.graph, project.model_config, project.train_config))
    for page in ("pages/task_outputs.py", "pages/message_passing.py", "pages/embeddings.py", "pages/train.py",
                 "pages/checkpoints.py", PAGE):
        at = open_page(page, state)
        assert errors_of(at) == [], page
