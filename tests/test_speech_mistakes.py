"""The utterances a speech task gets wrong: the right ones, surest first, named by word and speaker from the corpus."""

from __future__ import annotations

import numpy as np
import pytest

from ragviz.data.speech import CLIP_WORD, SPEAKERS, WORDS, load_speech_corpus, speech_class_names
from ragviz.inspection.speech_mistakes import (
    Mistake,
    average_features,
    comparison_panels,
    playable,
    speech_mistakes,
    utterance_of,
)
from ragviz.inspection.trace import compute_trace
from ragviz.lessons.graphs import speaker_grid
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.plots.speech import features_panels_figure
from ragviz.training.train import train


def _trace(family: str):
    graph = speaker_grid(train_size=20, test_size=20, family=family)
    result = train(graph, ModelConfig(hidden=16), TrainConfig(steps=10, eval_every=5))
    return graph, compute_trace(result.model, graph)


@pytest.fixture(scope="module")
def words():
    return _trace("speech_words")


def test_the_mistakes_are_the_wrong_answers_surest_first(words) -> None:
    graph, trace = words
    out, y = trace.outputs_test["gb-high"], trace.y_test["gb-high"]
    mistakes, wrong, total = speech_mistakes(trace, "gb-high", limit=50)
    assert total == len(y) and wrong == int((out.argmax(axis=1) != y).sum()) == len(mistakes) > 0
    assert all(m.predicted != m.true_class for m in mistakes)
    sure = [m.confidence for m in mistakes]
    assert sure == sorted(sure, reverse=True)
    assert all(np.isclose(m.confidence, out[m.row, m.predicted]) and np.isclose(m.true_probability,
                                                                                out[m.row, m.true_class])
               for m in mistakes)
    assert [m.row for m in speech_mistakes(trace, "gb-high", limit=3)[0]] == [m.row for m in mistakes[:3]]


def test_each_mistake_is_named_by_the_corpus_utterance_it_is(words) -> None:
    graph, trace = words
    for name in ("gb-high", "us-mid"):
        for m in speech_mistakes(trace, name, limit=50)[0]:
            assert m.word == WORDS[m.true_class] and m.speaker == name  # a word task hears only its speaker
    assert utterance_of(np.zeros(64, np.float32)) is None  # features the corpus does not hold: nothing guessed


def test_a_word_mistake_is_set_beside_the_word_said_and_the_word_heard(words) -> None:
    graph, trace = words
    m = speech_mistakes(trace, "gb-high")[0][0]
    panels = comparison_panels(m, "speech_words", "gb-high", speech_class_names(graph.task("gb-high")))
    assert [t for t, _ in panels] == ["this utterance", f"usual “{m.word}” (said)",
                                      f"usual “{WORDS[m.predicted]}” (heard)"]
    corpus = load_speech_corpus()
    rows = (corpus.words == m.true_class) & (corpus.speakers == SPEAKERS.index("gb-high"))
    np.testing.assert_allclose(panels[1][1], corpus.features[rows].mean(axis=0))
    fig = features_panels_figure(panels)
    assert len(fig.data) == 3 and fig.data[0].z.shape == (16, 4)


def test_a_speaker_mistake_shows_the_task_speaker_and_the_real_one() -> None:
    graph, trace = _trace("speech_speaker")
    found = [(name, m) for name in trace.task_names for m in speech_mistakes(trace, name, limit=50)[0]]
    name, other = next((n, m) for n, m in found if m.true_class == 0)  # another speaker taken for this one
    assert other.speaker is not None and other.speaker != name and other.word is not None
    panels = comparison_panels(other, "speech_speaker", name, ["another speaker", name])
    assert [t for t, _ in panels] == ["this utterance", f"{name} saying “{other.word}”",
                                      f"{other.speaker} saying “{other.word}”"]


def test_a_clip_is_offered_only_for_the_same_word_and_speaker() -> None:
    base = dict(row=0, true_class=7, predicted=1, confidence=0.9, true_probability=0.05,
                features=average_features(CLIP_WORD, "sc-low"))
    assert playable(Mistake(word=CLIP_WORD, speaker="sc-low", **base))
    assert not playable(Mistake(word="three", speaker="sc-low", **base))
    assert not playable(Mistake(word=None, speaker=None, **base))
