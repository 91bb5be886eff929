"""The drawing lesson's claim, measured without building the samples.

Trains the "draws a model" lesson (:data:`ragviz.lessons.catalogue.DRAWING_KEY`) and its no-edges
contrast on each report seed with the lessons' own machinery (:mod:`lesson_claim`), judges the claim with
the lesson's rule, and prints every seed's figures: zero-shot pixel error of the model, of the contrast
and of the neighbour average, and the share of zero-shot drawings the frozen classifier recognises.

    python benchmarks/drawing_claim.py            # seeds 11-15, one process per seed (--jobs 2 default)
    python benchmarks/drawing_claim.py --quick    # the lesson's quick version on one seed (seconds)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_quick  # noqa: E402
from lesson_claim import measure, parser  # noqa: E402

from ragviz.lessons.catalogue import DRAWING_KEY  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__ or "")
    add_quick(cli)
    return measure(DRAWING_KEY, cli.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
