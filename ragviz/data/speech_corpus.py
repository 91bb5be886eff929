"""Build the shipped speech corpus: ``python -m ragviz.data.speech_corpus`` (needs espeak-ng; the app does not).

espeak-ng speaks each digit word in every voice :data:`TAKES` times at jittered pitch and speed;
each take is scaled in frequency for each vocal-tract size (a speaker variant,
:data:`ragviz.data.speech.SPEAKERS`) and heard :data:`COPIES` times with a random gain, a random
delay and white noise at a random signal-to-noise ratio. Every utterance
becomes one pooled log-mel vector (:mod:`ragviz.data.speech_features`); the vectors are
standardised over the corpus and written, with one clean clip per voice, under
``ragviz/data/corpora/speech/``. Everything is seeded, so a rebuild with the same espeak-ng
gives the same files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from ragviz.data.speech import CLIP_WORD, CORPUS_FILE, SIZES, SPEAKERS, VOICES, WORDS, voice_clip_path
from ragviz.data.speech_features import SAMPLE_RATE, clip_features, log_mel, read_wav, resample, scaled, wav_bytes

TAKES = 4
COPIES = 3
PITCH = 50
PITCH_JITTER = (-6, -2, 2, 6)
SPEEDS = (140, 155, 170, 185)
SNR_DB = (10.0, 30.0)
MAX_DELAY_S = 0.1
SEED = 2026


def speak(word: str, voice: str, pitch: int, speed: int, espeak: str = "espeak-ng") -> tuple[np.ndarray, int]:
    """One utterance from espeak-ng: mono float audio and its rate."""
    out = subprocess.run([espeak, "-v", voice, "-p", str(pitch), "-s", str(speed), "--stdout", word],
                         capture_output=True, check=True, timeout=30)
    return read_wav(out.stdout)


def augment(audio: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A copy heard differently: gain, a leading delay, and white noise at a random SNR."""
    delayed = np.concatenate([np.zeros(int(rng.uniform(0, MAX_DELAY_S) * sr)), audio * rng.uniform(0.4, 1.0)])
    power = float(np.mean(delayed[delayed != 0] ** 2)) if np.any(delayed) else 1e-6
    snr = rng.uniform(*SNR_DB)
    return delayed + rng.standard_normal(len(delayed)) * np.sqrt(power / 10 ** (snr / 10))


def trimmed_clip(audio: np.ndarray, sr: int) -> np.ndarray:
    """The voiced part of a clip at the features' rate, with 50 ms either side (a short file to ship)."""
    x = resample(audio, sr)
    spec = log_mel(x, SAMPLE_RATE)
    energy = np.log(np.exp(spec).sum(axis=1))
    loud = np.flatnonzero(energy >= energy.max() - 8.0)
    hop = len(x) / max(len(spec), 1)
    start, stop = int(max(0, loud[0] * hop - 0.05 * SAMPLE_RATE)), int(min(len(x), (loud[-1] + 3) * hop
                                                                          + 0.05 * SAMPLE_RATE))
    return x[start:stop] / max(1e-9, float(np.abs(x[start:stop]).max())) * 0.9


def build(out: Path = CORPUS_FILE, espeak: str = "espeak-ng") -> dict[str, object]:
    """Synthesise, featurise and write the corpus to ``out`` and the clips to ``clips/`` beside it."""
    rng = np.random.default_rng(SEED)
    feats, words, speakers = [], [], []
    takes = {(voice, w, take): speak(word, VOICES[voice], PITCH + PITCH_JITTER[take],
                                     int(rng.permutation(SPEEDS)[0]), espeak)
             for voice in VOICES for w, word in enumerate(WORDS) for take in range(TAKES)}
    for voice in VOICES:  # one clean take per voice; the app scales it to each size as the corpus does
        path = out.parent / voice_clip_path(voice).relative_to(CORPUS_FILE.parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(wav_bytes(trimmed_clip(*takes[(voice, WORDS.index(CLIP_WORD), 0)]), SAMPLE_RATE))
    for s, speaker in enumerate(SPEAKERS):
        voice, size = speaker.split("-")
        for w in range(len(WORDS)):
            for take in range(TAKES):
                spoken, sr = takes[(voice, w, take)]
                audio = scaled(spoken, SIZES[size])
                for _ in range(COPIES):
                    feats.append(clip_features(augment(audio, sr, rng), sr))
                    words.append(w)
                    speakers.append(s)
    raw = np.stack(feats)
    mean, std = raw.mean(axis=0), raw.std(axis=0) + 1e-6
    x = ((raw - mean) / std).astype(np.float16)
    version = subprocess.run([espeak, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    meta = {"synthesiser": version, "takes": TAKES, "copies": COPIES, "seed": SEED, "snr_db": list(SNR_DB),
            "speeds": list(SPEEDS), "pitch": PITCH,
            "pitch_jitter": list(PITCH_JITTER), "sizes": SIZES}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, features=x, words=np.array(words, np.uint8), speakers=np.array(speakers, np.uint8),
                        mean=mean.astype(np.float32), std=std.astype(np.float32), meta=np.array(json.dumps(meta)))
    return {"utterances": len(x), "file": str(out), "bytes": out.stat().st_size, **meta}


def main(argv: list[str] | None = None) -> int:
    """The command line: build the corpus, or say why it cannot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--espeak", default="espeak-ng", help="the espeak-ng program (default: from PATH)")
    args = parser.parse_args(argv)
    if shutil.which(args.espeak) is None:
        print(f"{args.espeak} was not found: install it (Debian: apt-get install espeak-ng) to rebuild the corpus; "
              "the app itself does not need it.", file=sys.stderr)
        return 2
    print(json.dumps(build(espeak=args.espeak), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
