"""The speech domain: spoken digits, tasks per speaker variant ("recognise the word this speaker says", "is it them").

The corpus is synthetic: espeak-ng spoke the digits zero to nine in three English voices, each
heard through five vocal-tract sizes (every frequency scaled, as a deeper or a smaller voice has
its formants lower or higher): fifteen speaker variants. Each word is spoken several times at
jittered pitch and speed, with added noise, gain and a delay (:mod:`ragviz.data.speech_corpus`
makes it at build time). What ships is each utterance's pooled log-mel vector
(:mod:`ragviz.data.speech_features`), standardised over the corpus, and one playable clip per
voice (scaled to each size on the fly), so the app needs no speech
synthesiser. Tasks split their speaker's utterances like the other shipped data: a seeded
permutation, train first.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ragviz.data.family import DataFamily, DomainSpec, Tables
from ragviz.data.speech_features import FEATURE_DIM, read_wav, scaled
from ragviz.data.task_data import TaskData, split_sizes, task_sizes
from ragviz.safety.errors import DataError

if TYPE_CHECKING:
    from ragviz.graph.tasks import Task

SPEECH_DIR = Path(__file__).resolve().parent / "corpora" / "speech"
CORPUS_FILE = SPEECH_DIR / "digits.npz"
CLIP_DIR = SPEECH_DIR / "clips"
WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Voice short name → espeak-ng voice.
VOICES: dict[str, str] = {"us": "en-us", "gb": "en-gb", "sc": "en-gb-scotland"}
VOICE_NAMES: dict[str, str] = {"us": "American", "gb": "British", "sc": "Scottish"}
#: Vocal-tract size → the factor every frequency of the voice is scaled by.
SIZES: dict[str, float] = {"deep": 0.8, "low": 0.9, "mid": 1.0, "high": 1.12, "small": 1.25}
#: The speaker variants, voice-major: "us-deep", "us-low", … "sc-small".
SPEAKERS: tuple[str, ...] = tuple(f"{v}-{size}" for v in VOICES for size in SIZES)
#: The word each voice's shipped clip says.
CLIP_WORD = "seven"


@dataclass(frozen=True)
class SpeechCorpus:
    """The shipped utterances: standardised features, word and speaker indices, and the standardisation."""

    features: np.ndarray  # (n, FEATURE_DIM) float32, read-only
    words: np.ndarray  # (n,) int64 index into WORDS
    speakers: np.ndarray  # (n,) int64 index into SPEAKERS
    mean: np.ndarray  # (FEATURE_DIM,) raw-feature mean
    std: np.ndarray  # (FEATURE_DIM,) raw-feature spread
    meta: dict[str, Any]

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """Raw clip features (:func:`~ragviz.data.speech_features.clip_features`) as the tasks' inputs."""
        return ((np.asarray(raw, dtype=np.float32) - self.mean) / self.std).astype(np.float32)


@functools.lru_cache(maxsize=1)
def load_speech_corpus(path: Path = CORPUS_FILE) -> SpeechCorpus:
    """The shipped features (read once, shared read-only); DataError when the file is missing or wrong."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("features", "words", "speakers", "mean", "std", "meta")}
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"The speech corpus {path.name} cannot be read ({err}); rebuild it with "
                        "`python -m ragviz.data.speech_corpus`.") from None
    x = arrays["features"].astype(np.float32)
    words, speakers = arrays["words"].astype(np.int64), arrays["speakers"].astype(np.int64)
    n = len(x)
    if x.shape != (n, FEATURE_DIM) or words.shape != (n,) or speakers.shape != (n,) or not n \
            or words.max() >= len(WORDS) or speakers.max() >= len(SPEAKERS) or not np.isfinite(x).all():
        raise DataError(f"The speech corpus {path.name} does not hold {FEATURE_DIM} features per utterance for "
                        f"{len(WORDS)} words and {len(SPEAKERS)} speakers; rebuild it.")
    for arr in (x, words, speakers):
        arr.flags.writeable = False
    return SpeechCorpus(x, words, speakers, arrays["mean"].astype(np.float32), arrays["std"].astype(np.float32),
                        json.loads(str(arrays["meta"])))


def speaker_of(task: Task) -> str:
    """A speech task's validated speaker variant."""
    speaker = task.full_params().get("speaker")
    if not isinstance(speaker, str) or speaker.strip() not in SPEAKERS:
        raise DataError(f"Task '{task.name}': parameter 'speaker' must be one of {', '.join(SPEAKERS)}, "
                        f"got {speaker!r}.")
    return speaker.strip()


def speaker_label(speaker: str) -> str:
    """A speaker variant in words: "us-deep" → "American voice, deep (frequencies ×0.8)"."""
    voice, size = speaker.split("-")
    return f"{VOICE_NAMES[voice]} voice, {size} (frequencies ×{SIZES[size]:g})"


def voice_clip_path(voice: str) -> Path:
    """The shipped clip of ``voice`` saying :data:`CLIP_WORD` (before any vocal-tract scaling)."""
    return CLIP_DIR / f"{voice}_{CLIP_WORD}.wav"


def speaker_clip(speaker: str) -> tuple[np.ndarray, int]:
    """What ``speaker`` saying :data:`CLIP_WORD` sounds like: its voice's clip scaled as the corpus was."""
    if speaker not in SPEAKERS:
        raise DataError(f"There is no speaker variant {speaker!r}; choose one of {', '.join(SPEAKERS)}.")
    voice, size = speaker.split("-")
    try:
        audio, sr = read_wav(voice_clip_path(voice).read_bytes())
    except OSError as err:
        raise DataError(f"The {voice} clip cannot be read ({err}); rebuild the speech corpus.") from None
    return scaled(audio, SIZES[size]), sr


def speech_class_names(task: Task) -> list[str]:
    """A speech task's class names in class-index order: the words, or (another speaker, this one)."""
    return list(WORDS) if task.family == "speech_words" else ["another speaker", speaker_of(task)]


class Speech(DataFamily):
    """Spoken digits, two kinds of task per speaker variant: which word did it say (``speech_words``, ten
    classes), and is this that speaker at all (``speech_speaker``: its utterances against as many of the
    other speakers', two classes). Relations link similar speakers."""

    domain = "speech"
    families = {"speech_words": {"speaker": "us-mid"}, "speech_speaker": {"speaker": "us-mid"}}
    choices = {"speaker": SPEAKERS}

    def n_classes(self, task: Task, tables: Tables = None) -> int:
        speaker_of(task)
        return len(WORDS) if task.family == "speech_words" else 2

    def make(self, task: Task, tables: Tables = None, shared: dict[str, Any] | None = None) -> TaskData:
        speaker = SPEAKERS.index(speaker_of(task))
        train, test, seed = task_sizes(task)
        corpus = load_speech_corpus()
        rng = np.random.default_rng(seed)
        mine = np.flatnonzero(corpus.speakers == speaker)
        if task.family == "speech_words":
            rows, y = mine, corpus.words
        else:  # half this speaker, half the others drawn evenly at random
            others = rng.choice(np.flatnonzero(corpus.speakers != speaker), len(mine), replace=False)
            rows = np.concatenate([mine, others])
            y = (corpus.speakers == speaker).astype(np.int64)
        train, test = split_sizes(len(rows), train, test)
        order = rng.permutation(rows)
        tr, te = order[:train], order[train:train + test]
        return TaskData(corpus.features[tr], y[tr], corpus.features[te], y[te], self.n_classes(task))

    def spec(self, tasks: Sequence[Task], tables: Tables = None) -> DomainSpec:
        n_out = max(self.n_classes(t) for t in tasks)
        return DomainSpec("speech", FEATURE_DIM, n_out, "classification", (-4.0, 4.0))
