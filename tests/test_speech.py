"""The speech domain: features, the shipped corpus, the family, its graph, and the corpus script."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ragviz.data import registry, speech_corpus
from ragviz.data.domains import domain_spec, make_task_data, task_n_classes
from ragviz.data.family import DomainSpec
from ragviz.data.speech import (
    CLIP_WORD,
    CORPUS_FILE,
    SPEAKERS,
    WORDS,
    load_speech_corpus,
    speaker_clip,
    speaker_label,
)
from ragviz.data.speech_features import (
    FEATURE_DIM,
    N_MELS,
    SAMPLE_RATE,
    clip_features,
    log_mel,
    mel_filterbank,
    read_wav,
    scaled,
    wav_bytes,
)
from ragviz.graph.tasks import FAMILY_DOMAIN, Task, make_task
from ragviz.lessons.graphs import speaker_grid
from ragviz.model.config import ModelConfig, TrainConfig
from ragviz.safety.errors import DataError, GraphError
from ragviz.training.train import train


def tone(freq: float, seconds: float = 0.5, sr: int = SAMPLE_RATE) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return 0.5 * np.sin(2 * np.pi * freq * t)


def peak_band(audio: np.ndarray, sr: int = SAMPLE_RATE) -> int:
    return int(np.argmax(log_mel(audio, sr).mean(axis=0)))


def band_of(freq: float) -> int:
    bins = np.linspace(0, SAMPLE_RATE / 2, mel_filterbank().shape[1])
    return int(np.argmax(mel_filterbank()[:, np.argmin(abs(bins - freq))]))


# ------------------------------------------------------------------------------- features
def test_a_tone_lights_the_mel_band_of_its_frequency_at_any_sample_rate() -> None:
    for freq in (300.0, 1000.0, 3000.0):
        assert peak_band(tone(freq)) == band_of(freq)
        assert peak_band(tone(freq, sr=22_050), 22_050) == band_of(freq)
    assert log_mel(tone(500.0), SAMPLE_RATE).shape == (1 + (8000 - 400) // 160, N_MELS)


def test_scaling_moves_every_frequency_by_the_factor() -> None:
    assert peak_band(scaled(tone(1000.0), 1.25)) == band_of(1250.0)
    assert peak_band(scaled(tone(1000.0), 0.8)) == band_of(800.0)
    assert len(scaled(tone(1000.0), 1.25)) == pytest.approx(8000 / 1.25, abs=2)


def test_features_ignore_loudness_and_leading_silence() -> None:
    audio, sr = speaker_clip("us-mid")
    base = clip_features(audio, sr)
    assert base.shape == (FEATURE_DIM,) and base.dtype == np.float32
    np.testing.assert_allclose(clip_features(0.3 * audio, sr), base, atol=1e-3)
    delayed = np.concatenate([np.zeros(sr // 5), audio])
    np.testing.assert_allclose(clip_features(delayed, sr), base, atol=0.35)


def test_the_loudest_word_is_kept_and_a_word_keeps_its_own_short_silence() -> None:
    from ragviz.data.speech_features import voiced

    word = np.concatenate([tone(700.0, 0.2), np.zeros(1600), tone(900.0, 0.2)])  # a 100 ms gap, as in "six"
    pause = np.zeros(8000)
    frames = len(voiced(log_mel(np.concatenate([pause, word, pause]), SAMPLE_RATE)))
    assert abs(frames - 50) <= 4  # the whole 0.5 s word, its gap included, none of the pauses
    quieter = 0.2 * np.concatenate([tone(300.0, 0.3)])
    two = np.concatenate([pause, quieter, pause, word, pause])
    assert abs(len(voiced(log_mel(two, SAMPLE_RATE))) - frames) <= 2  # the quieter word is left out


def test_wav_bytes_round_trip_and_bad_files_say_why() -> None:
    audio = tone(440.0, 0.2)
    back, sr = read_wav(wav_bytes(audio, SAMPLE_RATE))
    assert sr == SAMPLE_RATE and np.abs(back - audio).max() < 1e-4
    with pytest.raises(DataError, match="not a WAV file"):
        read_wav(b"RIFF....not really a wave file")
    with pytest.raises(DataError, match="not a WAV file"):
        read_wav(b"")


# ------------------------------------------------------------------------------- corpus
def test_the_shipped_corpus_has_every_word_for_every_speaker() -> None:
    corpus = load_speech_corpus()
    assert corpus.features.shape[1] == FEATURE_DIM and not corpus.features.flags.writeable
    counts = np.zeros((len(SPEAKERS), len(WORDS)), int)
    np.add.at(counts, (corpus.speakers, corpus.words), 1)
    assert (counts == counts[0, 0]).all() and counts[0, 0] >= 10
    assert CORPUS_FILE.stat().st_size < 400_000


def test_a_broken_corpus_file_is_a_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "digits.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot be read"):
        load_speech_corpus(bad)
    np.savez(bad, features=np.zeros((3, 5)), words=np.zeros(3), speakers=np.zeros(3), mean=np.zeros(5),
             std=np.ones(5), meta=np.array("{}"))
    with pytest.raises(DataError, match="rebuild it"):
        load_speech_corpus(bad)


def test_a_speakers_clip_is_heard_as_seven_by_a_classifier_of_the_corpus() -> None:
    """The shipped clips, featurised at run time, are read as "seven" by a classifier fitted on the
    shipped features: the app's features and the corpus's are the same computation."""
    from sklearn.linear_model import LogisticRegression

    corpus = load_speech_corpus()
    model = LogisticRegression(max_iter=3000).fit(corpus.features, corpus.words)
    clips = np.stack([corpus.standardise(clip_features(*speaker_clip(s))) for s in SPEAKERS])
    assert [WORDS[k] for k in model.predict(clips)] == [CLIP_WORD] * len(SPEAKERS)
    with pytest.raises(DataError, match="no speaker variant"):
        speaker_clip("robot")


# ------------------------------------------------------------------------------- family
def test_speech_tasks_split_one_speakers_utterances() -> None:
    assert FAMILY_DOMAIN["speech_words"] == "speech"
    assert registry.param_choices("speech_words") == {"speaker": list(SPEAKERS)}
    task = make_task("gb low", "speech_words", {"speaker": "gb-low"}, 40, 60, 3)
    data = make_task_data(task)
    corpus = load_speech_corpus()
    mine = corpus.features[corpus.speakers == SPEAKERS.index("gb-low")]
    assert data.x_train.shape == (40, FEATURE_DIM) and data.x_test.shape == (60, FEATURE_DIM)
    assert data.n_classes == task_n_classes(task) == 10
    both = np.concatenate([data.x_train, data.x_test])
    assert len({r.tobytes() for r in both}) == 100  # no utterance in both splits
    assert {r.tobytes() for r in both} <= {r.tobytes() for r in mine}
    big = make_task_data(make_task("all", "speech_words", {"speaker": "gb-low"}, 500, 500))
    assert len(big.x_train) + len(big.x_test) == len(mine)


def test_speaker_tasks_tell_one_speaker_from_the_others() -> None:
    from ragviz.data.speech import speech_class_names

    corpus = load_speech_corpus()
    task = make_task("is it gb-low", "speech_speaker", {"speaker": "gb-low"}, 100, 100, 4)
    data = make_task_data(task)
    assert data.n_classes == task_n_classes(task) == 2
    assert speech_class_names(task) == ["another speaker", "gb-low"]
    mine = {r.tobytes() for r in corpus.features[corpus.speakers == SPEAKERS.index("gb-low")]}
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert [r.tobytes() in mine for r in x] == [bool(v) for v in y]
        assert 0.3 < y.mean() < 0.7  # about half this speaker
    graph = speaker_grid(family="speech_speaker")
    assert {t.family for t in graph.tasks()} == {"speech_speaker"}
    assert domain_spec(graph).n_outputs == 2
    graph.add_task(make_task("words", "speech_words", {"speaker": "gb-low"}))
    assert domain_spec(graph).n_outputs == 10  # word tasks and speaker tasks share one graph


def test_a_bad_speaker_names_the_choices() -> None:
    """Refused when the task is made (a file, a form, a link), and again by the data for a Task built directly."""
    with pytest.raises(GraphError, match="must be one of us-deep"):
        make_task("x", "speech_words", {"speaker": "robot"})
    with pytest.raises(DataError, match="must be one of us-deep"):
        make_task_data(Task("x", "speech_words", {"speaker": "robot"}))
    assert speaker_label("sc-small") == "Scottish voice, small (frequencies ×1.25)"


def test_the_speaker_grid_links_neighbours_and_trains() -> None:
    graph = speaker_grid(train_size=20, test_size=20)
    assert graph.number_of_tasks() == 15 and graph.domain == "speech"
    assert [t.name for t in graph.tasks() if t.zero_shot] == ["gb-high"]
    pairs = {(e.source, e.target, e.relation) for e in graph.edges()}
    assert ("gb-mid", "gb-high", "next size") in pairs and ("gb-high", "sc-high", "same size") in pairs
    assert len(pairs) == 3 * 4 + 5 * 2
    assert domain_spec(graph) == DomainSpec("speech", FEATURE_DIM, 10, "classification", (-4.0, 4.0))
    result = train(graph, ModelConfig(hidden=16), TrainConfig(steps=5, eval_every=5, device="cpu"))
    assert result.steps_done == 5 and len(result.history.test_metric[-1]) == 15


# ------------------------------------------------------------------------------- the corpus script
def test_the_script_says_what_to_install_without_espeak(capsys: pytest.CaptureFixture[str]) -> None:
    assert speech_corpus.main(["--espeak", "no-such-espeak-here"]) == 2
    assert "apt-get install espeak-ng" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="rebuilding needs espeak-ng (the app does not)")
def test_the_shipped_corpus_is_what_the_script_makes(tmp_path: Path) -> None:
    out = tmp_path / "digits.npz"
    speech_corpus.build(out)
    made, shipped = np.load(out), np.load(CORPUS_FILE)
    for key in ("features", "words", "speakers", "mean", "std"):
        np.testing.assert_array_equal(made[key], shipped[key], err_msg=key)
    for clip in (CORPUS_FILE.parent / "clips").iterdir():
        assert (tmp_path / "clips" / clip.name).read_bytes() == clip.read_bytes()


# ------------------------------------------------------------------------------- a user's recording
def wav_of(seconds: float, rate: int = 8000, width: int = 1, channels: int = 1, level: int = 40) -> bytes:
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        n = int(seconds * rate) * channels
        if width == 1:
            f.writeframes(bytes((128 + (level if k % 8 < 4 else -level)) % 256 for k in range(n)))
        else:
            f.writeframes(np.zeros(n, f"<i{width}").tobytes() if width != 3 else bytes(3 * n))
    return out.getvalue()


def test_a_ten_minute_recording_is_refused_by_size_then_by_length(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragviz.data.speech_features import decode_recording

    ten_minutes = wav_of(600.0)  # 4.8 MB at 8 kHz, 8 bits
    with pytest.raises(DataError, match="recording is 4.8 MB; the limit is 2 MB"):
        decode_recording(ten_minutes)
    monkeypatch.setenv("RAGVIZ_MAX_AUDIO_MB", "10")
    with pytest.raises(DataError, match="600.0 s long; the limit is 10 s"):
        decode_recording(ten_minutes)
    audio, rate = decode_recording(wav_of(1.0))
    assert rate == 8000 and len(audio) == 8000


@pytest.mark.parametrize(("data", "why"), [
    (b"\x00" * 100, "not a WAV file"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a WAV file"),
    (wav_of(1.0, width=3), "24-bit samples"),
    (wav_of(1.0, rate=2000), "sample rate is 2000 Hz"),
    (wav_of(0.02), "too short"),
    (wav_of(1.0, level=0), "silent"),
])
def test_a_bad_recording_says_what_is_wrong(data: bytes, why: str) -> None:
    from ragviz.data.speech_features import decode_recording

    with pytest.raises(DataError, match=why):
        decode_recording(data)


def test_a_wav_whose_header_claims_more_than_it_holds_is_read_as_what_it_holds() -> None:
    data = bytearray(wav_of(0.5))
    data[40:44] = (2**31 - 1).to_bytes(4, "little")  # the data chunk claims 2 GB
    audio, rate = read_wav(bytes(data), max_seconds=10)
    assert len(audio) == 4000 and rate == 8000


def test_a_recording_goes_through_every_task() -> None:
    from ragviz.inspection.text_predict import recording_probabilities

    graph = speaker_grid(train_size=20, test_size=20)
    result = train(graph, ModelConfig(hidden=16), TrainConfig(steps=5, eval_every=5, device="cpu"))
    probs = recording_probabilities(result.model, graph, None, *speaker_clip("gb-high"))
    assert list(probs) == graph.task_names()
    assert all(p.shape == (10,) and abs(float(p.sum()) - 1) < 1e-5 for p in probs.values())
