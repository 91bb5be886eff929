"""The drawing lesson's claim, measured without building the samples.

Trains the "draws a model" lesson (:data:`ragviz.lessons.catalogue.DRAWING_KEY`) and its no-edges
contrast on each report seed with the lessons' own machinery (:func:`run_lesson`), judges the claim with
the lesson's rule, and prints every seed's figures: zero-shot pixel error of the model, of the contrast
and of the neighbour average, and the share of zero-shot drawings the frozen classifier recognises.

    python benchmarks/drawing_claim.py            # seeds 11-15, one process per seed (--jobs 2 default)
    python benchmarks/drawing_claim.py --quick    # the lesson's quick version on one seed (seconds)
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragviz.lessons.catalogue import DRAWING_KEY, LESSONS, run_lesson, single_threaded  # noqa: E402
from ragviz.lessons.lesson import LESSON_SEEDS  # noqa: E402


def one_seed(seed: int, quick: bool) -> dict[str, object]:
    """Train the lesson's model and contrast on ``seed``; its figures as a plain record."""
    with single_threaded():
        run = run_lesson(DRAWING_KEY, seed, quick=quick)
    return {"seed": seed, "model": run.model_value, "contrast": run.contrast_value, "also": run.also,
            "seconds": run.seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the quick lesson on the first seed")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    lesson = LESSONS[DRAWING_KEY]
    seeds = LESSON_SEEDS[:1] if args.quick else LESSON_SEEDS
    start = time.perf_counter()
    if args.jobs > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = list(pool.map(one_seed, seeds, [args.quick] * len(seeds)))
    else:
        rows = [one_seed(seed, args.quick) for seed in seeds]
    names = list(rows[0]["also"])
    print(f"{lesson.metric}; {lesson.requirement}")
    print("| seed | RAG | no edges | " + " | ".join(f"{n} (RAG / no edges)" for n in names) + " | s |")
    print("| --- " * (4 + len(names)) + "|")
    for row in rows:
        also = " | ".join(f"{row['also'][n][0]:.4f} / {row['also'][n][1]:.4f}" for n in names)
        print(f"| {row['seed']} | {row['model']:.4f} | {row['contrast']:.4f} | {also} | {row['seconds']:.0f} |")
    model, contrast = [float(r["model"]) for r in rows], [float(r["contrast"]) for r in rows]
    worst = max(rows, key=lambda r: float(r["model"]) / float(r["contrast"]))
    print(f"holds: {lesson.holds(model, contrast)}; weakest seed {worst['seed']} "
          f"(no edges / RAG = {float(worst['contrast']) / float(worst['model']):.2f}); "
          f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
