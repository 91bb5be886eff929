"""How far a speech classifier carries from one speaker variant to another: ``python benchmarks/speech_transfer.py``.

For every speaker, a logistic regression learns the ten words from 40 of its utterances; it is
scored on every other speaker's utterances (its own held-out ones on the diagonal). Printed:
mean accuracy by distance in vocal-tract size (same voice) and across voices at the same size,
the numbers ragviz/data/corpora/README.md quotes. Relations between speakers mean something
only if near speakers transfer better than far ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import add_quick, quick  # noqa: E402

from ragviz.data.speech import SIZES, SPEAKERS, load_speech_corpus  # noqa: E402


def transfer_matrix(train: int = 40, seed: int = 0, max_iter: int = 3000) -> np.ndarray:
    """Accuracy of speaker i's classifier on speaker j's utterances (held-out ones when i == j)."""
    from sklearn.linear_model import LogisticRegression

    corpus = load_speech_corpus()
    x, y, s = corpus.features, corpus.words, corpus.speakers
    out = np.zeros((len(SPEAKERS), len(SPEAKERS)))
    for i in range(len(SPEAKERS)):
        rows = np.random.default_rng(seed).permutation(np.flatnonzero(s == i))
        model = LogisticRegression(max_iter=max_iter, C=0.5).fit(x[rows[:train]], y[rows[:train]])
        for j in range(len(SPEAKERS)):
            test = rows[train:] if i == j else np.flatnonzero(s == j)
            out[i, j] = model.score(x[test], y[test])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--train", type=int, default=40, help="utterances each speaker's classifier learns from")
    add_quick(parser)
    args = quick(parser.parse_args(), train=10)
    m = transfer_matrix(train=args.train, max_iter=200 if args.quick else 3000)
    sizes = list(SIZES)
    voice = [sp.split("-")[0] for sp in SPEAKERS]
    size = [sizes.index(sp.split("-")[1]) for sp in SPEAKERS]
    pairs = [(i, j) for i in range(len(SPEAKERS)) for j in range(len(SPEAKERS))]
    for d in range(len(sizes)):
        same = [m[i, j] for i, j in pairs if voice[i] == voice[j] and abs(size[i] - size[j]) == d]
        print(f"same voice, size {d} step(s) apart: {np.mean(same):.2f} (min {np.min(same):.2f})")
    across = [m[i, j] for i, j in pairs if voice[i] != voice[j] and size[i] == size[j]]
    print(f"other voice, same size: {np.mean(across):.2f} (min {np.min(across):.2f})")


if __name__ == "__main__":
    main()
