"""The test utterances a speech task gets wrong, the most confident mistakes first, and what ships for each.

A trace holds each test utterance's pooled features, not where it came from; the shipped corpus
(:func:`ragviz.data.speech.load_speech_corpus`) holds every utterance's features once, so the same
row of features names the utterance's word and speaker exactly. Only a few clips ship (one per
voice, saying :data:`~ragviz.data.speech.CLIP_WORD`), so :func:`playable` says whether the
speaker's clip is the same word and speaker as a mistake (it is never that very take).
Pure functions of the trace and the read-only corpus; the page only shows what they return.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ragviz.data.speech import CLIP_WORD, SPEAKERS, WORDS, load_speech_corpus
from ragviz.inspection.trace import Trace

#: How many mistakes a task lists: enough to see a pattern, few enough to look at each.
SHOWN_MISTAKES = 5


@dataclass(frozen=True)
class Mistake:
    """One test utterance the task got wrong."""

    row: int  # its row in the task's test set
    true_class: int
    predicted: int
    confidence: float  # the model's probability of its (wrong) answer
    true_probability: float  # and of the right one
    word: str | None  # the word said, from the corpus (None if the features are not the corpus's)
    speaker: str | None  # who said it
    features: np.ndarray  # (N_SEGMENTS * N_MELS,) the standardised pooled log-mel features the model read


@functools.lru_cache(maxsize=1)
def _corpus_rows() -> dict[bytes, int]:
    """Each shipped utterance's features (as bytes) → its corpus row; the features are all distinct."""
    corpus = load_speech_corpus()
    return {row.tobytes(): i for i, row in enumerate(corpus.features)}


def utterance_of(features: np.ndarray) -> tuple[str, str] | None:
    """(word, speaker) of the shipped utterance with exactly these features, or None."""
    row = _corpus_rows().get(np.asarray(features, dtype=np.float32).tobytes())
    if row is None:
        return None
    corpus = load_speech_corpus()
    return WORDS[int(corpus.words[row])], SPEAKERS[int(corpus.speakers[row])]


def speech_mistakes(trace: Trace, task: str, limit: int = SHOWN_MISTAKES) -> tuple[list[Mistake], int, int]:
    """The task's wrong test answers, most confident first (ties: test order), at most ``limit``;
    with how many it got wrong and how many test utterances it has."""
    out, y = trace.outputs_test.get(task), trace.y_test.get(task)
    if out is None or y is None or out.ndim != 2 or not len(out):
        return [], 0, 0
    predicted = out.argmax(axis=1)
    truth = np.asarray(y).astype(int)
    wrong = np.flatnonzero(predicted != truth)
    confidence = out[wrong, predicted[wrong]]
    order = wrong[np.lexsort((wrong, -confidence))][:max(int(limit), 0)]
    mistakes = []
    for row in order.tolist():
        said = utterance_of(trace.x_test[task][row])
        mistakes.append(Mistake(row, int(truth[row]), int(predicted[row]), float(out[row, predicted[row]]),
                                float(out[row, truth[row]]), said[0] if said else None, said[1] if said else None,
                                np.asarray(trace.x_test[task][row], dtype=np.float32)))
    return mistakes, len(wrong), len(truth)


def average_features(word: str, speaker: str) -> np.ndarray:
    """The mean features of every shipped utterance of ``word`` by ``speaker`` (what that word usually looks like)."""
    corpus = load_speech_corpus()
    rows = (corpus.words == WORDS.index(word)) & (corpus.speakers == SPEAKERS.index(speaker))
    return corpus.features[rows].mean(axis=0)


def comparison_panels(mistake: Mistake, family: str, task_speaker: str,
                      class_names: list[str]) -> list[tuple[str, np.ndarray]]:
    """What to set beside a mistake's features: (title, features) panels.

    A word task: the average of the word said and of the word heard, by the same speaker. A speaker
    task: the task's speaker saying the same word, and the one who really said it, when another.
    """
    panels = [("this utterance", mistake.features)]
    if mistake.word is None or mistake.speaker is None:
        return panels
    if family == "speech_words":
        heard = class_names[mistake.predicted]
        panels.append((f"usual “{mistake.word}” (said)", average_features(mistake.word, mistake.speaker)))
        if heard in WORDS:
            panels.append((f"usual “{heard}” (heard)", average_features(heard, mistake.speaker)))
        return panels
    panels.append((f"{task_speaker} saying “{mistake.word}”", average_features(mistake.word, task_speaker)))
    if mistake.speaker != task_speaker:
        panels.append((f"{mistake.speaker} saying “{mistake.word}”", average_features(mistake.word, mistake.speaker)))
    return panels


def playable(mistake: Mistake) -> bool:
    """Whether a shipped clip is this mistake's word said by its speaker (its voice's clip of
    :data:`CLIP_WORD`, scaled to the speaker's size): the same word and speaker, another take."""
    return mistake.speaker is not None and mistake.word == CLIP_WORD
