"""The speech lesson's claim, measured without building the samples.

Trains the "unseen speaker" lesson (:data:`ragviz.lessons.catalogue.SPEECH_KEY`: "is it this speaker?"
tasks on the grid of 15 synthetic speakers, three of them held out) and its no-edges contrast on each
report seed with the lessons' own machinery (:mod:`lesson_claim`), judges the claim with the lesson's
rule, and prints every seed's zero-shot accuracy of the model, of the contrast and of the neighbour
average (each unseen speaker's answer = the mean of its neighbours' heads' answers; not judged).

    python benchmarks/speech_claim.py            # seeds 11-15, one process per seed (--jobs 2 default)
    python benchmarks/speech_claim.py --quick    # the lesson's quick version on one seed (seconds)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_quick  # noqa: E402
from lesson_claim import measure, parser  # noqa: E402

from ragviz.lessons.catalogue import SPEECH_KEY  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__ or "")
    add_quick(cli)
    return measure(SPEECH_KEY, cli.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
