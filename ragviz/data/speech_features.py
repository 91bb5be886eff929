"""What the speech tasks' encoder reads: a log-mel spectrogram pooled to a small fixed-size vector.

Pure numpy/scipy (no torchaudio, whose wheels lag the pinned torch), shared by the corpus script,
the data preview and a recording a user makes, so all three see a clip the same way. A clip is
resampled to 16 kHz, turned into :data:`N_MELS` log-mel bands every 10 ms, cut to its loudest
word, and averaged over :data:`N_SEGMENTS` equal stretches of time: the vector keeps the word's
coarse course in time (what tells "six" from "seven") and none of its length or loudness.
"""

from __future__ import annotations

import functools
import io
import wave
from fractions import Fraction

import numpy as np

from ragviz.safety.errors import DataError

SAMPLE_RATE = 16_000
N_FFT = 512
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 16
N_SEGMENTS = 4
FEATURE_DIM = N_MELS * N_SEGMENTS
MIN_RATE, MAX_RATE = 4_000, 192_000
#: Shorter than this, or quieter, a recording holds no word to hear.
MIN_SECONDS = 0.1
SILENT = 1e-3
#: A frame is voiced when its energy is within this many decibels of the loudest frame's: tight
#: enough that a quiet room's noise and a clean clip's faint tails are left out alike, so a clean
#: recording is cut as the corpus's noisy utterances were.
VOICED_DB = 20.0
#: Voiced stretches closer than this are one word.
MAX_GAP_S = 0.2
_FLOOR = 1e-10


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@functools.lru_cache(maxsize=4)
def mel_filterbank(n_mels: int = N_MELS, sr: int = SAMPLE_RATE, n_fft: int = N_FFT,
                   fmin: float = 60.0, fmax: float = 7600.0) -> np.ndarray:
    """Triangular mel filters, shape (n_mels, n_fft // 2 + 1), read-only."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(fmin)), _hz_to_mel(np.array(fmax)), n_mels + 2))
    freqs = np.linspace(0.0, sr / 2, n_fft // 2 + 1)
    bank = np.zeros((n_mels, len(freqs)))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (freqs - lo) / (mid - lo)
        falling = (hi - freqs) / (hi - mid)
        bank[m] = np.clip(np.minimum(rising, falling), 0.0, None)
    bank.flags.writeable = False
    return bank


def resample(audio: np.ndarray, sr: int) -> np.ndarray:
    """Mono float audio at :data:`SAMPLE_RATE` (polyphase resampling)."""
    if sr == SAMPLE_RATE:
        return audio.astype(np.float64)
    from scipy.signal import resample_poly

    g = np.gcd(int(sr), SAMPLE_RATE)
    return resample_poly(audio.astype(np.float64), SAMPLE_RATE // g, int(sr) // g)


def scaled(audio: np.ndarray, factor: float) -> np.ndarray:
    """The clip with every frequency multiplied by ``factor`` (and its length divided by it), at the same rate."""
    from scipy.signal import resample_poly

    ratio = Fraction(factor).limit_denominator(100)
    return resample_poly(audio, ratio.denominator, ratio.numerator) if ratio != 1 else audio


def log_mel(audio: np.ndarray, sr: int, n_mels: int = N_MELS) -> np.ndarray:
    """Log-mel energies (natural log), shape (frames, n_mels), of mono audio at any rate."""
    x = resample(np.asarray(audio, dtype=np.float64), sr)
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])  # pre-emphasis: the higher formants count too
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    n_frames = 1 + (len(x) - WIN) // HOP
    idx = np.arange(WIN)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hanning(WIN)[None, :]
    power = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)) ** 2
    return np.log(power @ mel_filterbank(n_mels).T + _FLOOR)


def voiced(spec: np.ndarray) -> np.ndarray:
    """The loudest word of a spectrogram: the voiced frames around the loudest one.

    A frame is voiced when its energy is within :data:`VOICED_DB` of the loudest frame's; voiced
    stretches closer than :data:`MAX_GAP_S` are one word (the silence inside "six"), and the word
    holding the loudest frame is kept, so a recording that caught one word and part of another is
    heard as the louder one.
    """
    energy = np.log(np.exp(spec).sum(axis=1) + _FLOOR)
    loud = energy >= energy.max() - VOICED_DB * np.log(10) / 10
    top = int(np.argmax(energy))
    gap = int(MAX_GAP_S * SAMPLE_RATE / HOP)
    start = stop = top
    while True:  # grow the word while another voiced frame lies within the gap
        before = np.flatnonzero(loud[max(0, start - gap):start])
        after = np.flatnonzero(loud[stop + 1:stop + 1 + gap])
        if not len(before) and not len(after):
            break
        if len(before):
            start = max(0, start - gap) + int(before[0])
        if len(after):
            stop = stop + 1 + int(after[-1])
    return spec[start:stop + 1]


def pooled(spec: np.ndarray) -> np.ndarray:
    """A voiced spectrogram averaged over :data:`N_SEGMENTS` stretches of time, less its mean (loudness)."""
    if len(spec) < N_SEGMENTS:
        spec = np.repeat(spec, N_SEGMENTS, axis=0)
    parts = np.stack([part.mean(axis=0) for part in np.array_split(spec, N_SEGMENTS)])
    return (parts - parts.mean()).reshape(-1).astype(np.float32)


def clip_features(audio: np.ndarray, sr: int) -> np.ndarray:
    """One clip's :data:`FEATURE_DIM` raw features (before the corpus's standardisation)."""
    return pooled(voiced(log_mel(audio, sr)))


def read_wav(data: bytes, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Mono float audio in [-1, 1] and its rate from WAV bytes (8/16/32-bit PCM).

    Raises DataError, saying what is wrong, for anything else: not a WAV, another sample format,
    an odd rate, or (with ``max_seconds``) a clip longer than that. The length is counted from the
    samples present, not the header's claim, and checked before the samples are converted.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as f:
            channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
            raw = f.readframes(len(data))  # never more frames than bytes, whatever the header says
    except (wave.Error, EOFError, ValueError) as err:
        raise DataError(f"That is not a WAV file this app can read ({err}).") from None
    kinds = {1: (np.uint8, 128.0, 128.0), 2: (np.int16, 0.0, 32768.0), 4: (np.int32, 0.0, 2.0**31)}
    if width not in kinds or channels < 1:
        raise DataError(f"The WAV file uses {8 * width}-bit samples on {channels} channels; "
                        "record 8-, 16- or 32-bit PCM.")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise DataError(f"The WAV file's sample rate is {rate} Hz; use {MIN_RATE}–{MAX_RATE} Hz.")
    frames = len(raw) // (width * channels)
    if max_seconds is not None and frames / rate > max_seconds:
        raise DataError(f"The recording is {frames / rate:.1f} s long; the limit is {max_seconds:g} s. "
                        "Say one word (zero to nine).")
    dtype, offset, scale = kinds[width]
    samples = np.frombuffer(raw[:frames * width * channels], dtype=dtype)
    audio = (samples.astype(np.float64) - offset) / scale
    return audio.reshape(-1, channels).mean(axis=1), int(rate)


def wav_bytes(audio: np.ndarray, sr: int) -> bytes:
    """16-bit mono WAV bytes of float audio in [-1, 1]."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).round().astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sr))
        f.writeframes(pcm.tobytes())
    return out.getvalue()


def decode_recording(source: object) -> tuple[np.ndarray, int]:
    """A user's recording or audio file (bytes or an upload) as mono audio and its rate, within the work budget.

    The size limit applies before anything is read past it, the length limit before the samples are
    converted (:data:`ragviz.safety.limits` ``RAGVIZ_MAX_AUDIO_MB`` and ``RAGVIZ_MAX_AUDIO_S``); an empty,
    too short or silent clip is refused too. Every refusal is a DataError that says what to do.
    """
    from ragviz.safety.limits import get_limits
    from ragviz.safety.uploads import read_upload

    limits = get_limits()
    audio, rate = read_wav(read_upload(source, "audio", max_bytes=limits.audio_bytes), limits.max_audio_s)
    if len(audio) < MIN_SECONDS * rate:
        raise DataError(f"The recording is {len(audio) / rate:.2f} s long: too short to hold a word. "
                        "Record again and say one digit.")
    if float(np.abs(audio).max()) < SILENT:
        raise DataError("The recording is silent: check that the browser may use the microphone, then record "
                        "again.")
    return audio, rate
