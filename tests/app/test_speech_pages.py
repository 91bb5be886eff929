"""Speech tasks in the Task graph page: the ready-made speaker grid, the speaker list, and clips to play."""

from __future__ import annotations

import pytest

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


@pytest.fixture(scope="module")
def trained_speakers():
    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.train import train

    project = Project(speaker_grid(train_size=20, test_size=20), ModelConfig(hidden=16),
                      TrainConfig(steps=10, eval_every=5), name="Speakers")
    return project, train(project.graph, project.model_config, project.train_config)


def outputs_page(trained):
    from tests.app.helpers import checkpoint_state

    state = checkpoint_state(*trained)
    return open_page("pages/task_outputs.py", state), state


def give_file(at, name: str, data: bytes) -> None:
    uploader = next(u for u in at.get("file_uploader") if "WAV file" in str(u.proto.label))
    uploader.set_value((name, data, "audio/wav"))
    at.run()


def test_say_it_yourself_sends_a_wav_through_every_task(trained_speakers) -> None:
    from ragviz.data.speech import speaker_clip
    from ragviz.data.speech_features import wav_bytes

    at, state = outputs_page(trained_speakers)
    assert not errors_of(at)
    assert at.get("audio_input"), "the microphone recorder is on the page"
    assert any("synthetic" in plain(str(c.value)) for c in at.caption)
    graph_before = state.graph.copy()
    give_file(at, "seven.wav", wav_bytes(*speaker_clip("gb-high")))
    assert not errors_of(at)
    bars = next(c for c in at.get("plotly_chart") if "to_say_bars" in str(c.proto))
    import json
    figure = json.loads(bars.proto.spec)
    labels = set(figure["data"][0]["y"])
    assert "gb-high ★" in labels and len(labels) == 15  # every task answered, the zero-shot one marked
    assert figure["data"][7]["customdata"][0] == "seven"  # classes are named by their words
    assert state.graph == graph_before


@pytest.mark.parametrize(("name", "data", "why"), [
    ("broken.wav", b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk", "not a WAV file"),
    ("ten_minutes.wav", None, "the limit is 2 MB"),
])
def test_a_bad_or_too_long_recording_is_refused_and_nothing_changes(trained_speakers, name, data, why) -> None:
    from tests.test_speech import wav_of

    at, state = outputs_page(trained_speakers)
    graph_before = state.graph.copy()
    give_file(at, name, data if data is not None else wav_of(600.0))
    errors = " ".join(plain(str(e.value)) for e in at.error)
    assert why in errors and "Nothing else changed" in errors
    assert not at.exception and state.graph == graph_before
    assert not [c for c in at.get("plotly_chart") if "to_say_bars" in str(c.proto)]


def test_task_outputs_lists_the_clips_a_task_gets_wrong_honestly(trained_speakers) -> None:
    """The zero-shot speaker first; each mistake says what was said and heard, and plays a clip only where one ships."""
    from ragviz.inspection.speech_mistakes import speech_mistakes
    from ragviz.inspection.trace import compute_trace

    at, state = outputs_page(trained_speakers)
    assert not errors_of(at)
    assert any(plain(str(h.value)) == "Clips it gets wrong" for h in at.subheader)
    pick = next(s for s in at.selectbox if s.label == "Task" and "to_speech_wrong" in str(s.key))
    assert pick.value == "gb-high"  # the unseen speaker is the one to look at first
    project, result = trained_speakers
    mistakes, wrong, total = speech_mistakes(compute_trace(result.model, project.graph), "gb-high")
    assert mistakes, "a 10-step model gets some of the unseen speaker's words wrong"
    figures = [c for c in at.get("plotly_chart") if "to_speech_wrong_fig_" in str(c.proto)]
    assert len(figures) == len(mistakes)
    lines = [plain(str(m.value)).replace("**", "") for m in at.markdown if "heard as" in plain(str(m.value))]
    assert lines[0].startswith(f"said “{mistakes[0].word}”, heard as") and "British voice, high" in lines[0]
    captions = " ".join(plain(str(c.value)) for c in at.caption)
    assert f"{wrong} of its {total} test utterances are wrong" in captions
    assert "Only the pooled log-mel features of these utterances ship, not their audio" in captions
    clips = sum(m.word == "seven" for m in mistakes)
    assert captions.count("No clip: only its features ship") == len(mistakes) - clips
    assert captions.count("The same word and speaker, another take") == clips
    graph_before = state.graph.copy()
    pick.set_value("us-mid").run()
    assert not errors_of(at) and state.graph == graph_before  # choosing a task changes nothing else
    figures = [c for c in at.get("plotly_chart") if "to_speech_wrong_fig_" in str(c.proto)]
    assert len(figures) <= 5


def test_speaker_tasks_confusion_matrices_say_other_and_this() -> None:
    """Task outputs labels a speaker task's matrix "other"/"this" (its title names the speaker): the long
    "another speaker" ran into the neighbouring panels."""
    import json

    from ragviz.model.config import ModelConfig, TrainConfig
    from ragviz.training.train import train
    from tests.app.helpers import checkpoint_state

    project = Project(speaker_grid(train_size=20, test_size=20, family="speech_speaker"), ModelConfig(hidden=16),
                      TrainConfig(steps=10, eval_every=5), name="Speakers")
    state = checkpoint_state(project, train(project.graph, project.model_config, project.train_config))
    at = open_page("pages/task_outputs.py", state)
    assert errors_of(at) == []
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    heatmaps = [t for f in figures for t in f.get("data", []) if t.get("type") == "heatmap" and "customdata" in t]
    assert len(heatmaps) == 15 and all(list(t["x"]) == ["other", "this"] == list(t["y"]) for t in heatmaps)
