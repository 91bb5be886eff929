"""What the ``*_claim.py`` scripts share: one lesson's claim measured on the report seeds, without building
the samples.

Trains a lesson's model and its contrast on each report seed with the lessons' own machinery
(:func:`ragviz.lessons.catalogue.run_lesson`), judges the claim with the lesson's rule, and prints every
seed's figures, the lesson's further figures (``also``, ``also_trained``: model / contrast) included.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ragviz.lessons.catalogue import LESSONS, run_lesson, single_threaded  # noqa: E402
from ragviz.lessons.lesson import LESSON_SEEDS  # noqa: E402
from ragviz.lessons.view import seed_margins  # noqa: E402


def one_seed(key: str, quick: bool, seed: int) -> dict[str, object]:
    """Train lesson ``key``'s model and contrast on ``seed``; its figures as a plain record."""
    with single_threaded():
        run = run_lesson(key, seed, quick=quick)
    return {"seed": seed, "model": run.model_value, "contrast": run.contrast_value, "also": run.also,
            "seconds": run.seconds}


def parser(doc: str) -> argparse.ArgumentParser:
    """The scripts' command line but ``--quick`` (each script adds it: :func:`common.add_quick`)."""
    out = argparse.ArgumentParser(description=doc.splitlines()[0])
    out.add_argument("--jobs", type=int, default=2, help="processes, one seed each")
    return out


def measure(key: str, args: argparse.Namespace) -> int:
    """Lesson ``key`` on the report seeds (``args.quick``: its quick version on the first seed), printed."""
    lesson = LESSONS[key]
    seeds = LESSON_SEEDS[:1] if args.quick else LESSON_SEEDS
    start = time.perf_counter()
    job = partial(one_seed, key, args.quick)
    if args.jobs > 1 and len(seeds) > 1:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows = list(pool.map(job, seeds))
    else:
        rows = [job(seed) for seed in seeds]
    names = list(rows[0]["also"])
    model_label, contrast_label = lesson.model_label, lesson.contrast_label
    print(f"{lesson.metric}; {lesson.requirement}")
    print(f"| seed | {model_label} | {contrast_label} | "
          + " | ".join(f"{n} ({model_label} / {contrast_label})" for n in names) + " | s |")
    print("| --- " * (4 + len(names)) + "|")
    for row in rows:
        also = " | ".join(f"{row['also'][n][0]:.4f} / {row['also'][n][1]:.4f}" for n in names)
        print(f"| {row['seed']} | {row['model']:.4f} | {row['contrast']:.4f} | {also} | {row['seconds']:.0f} |")
    model, contrast = [float(r["model"]) for r in rows], [float(r["contrast"]) for r in rows]
    margins = seed_margins(model, contrast, lesson.lower_is_better, lesson.chance, lesson.below_chance)
    weakest = min(range(len(rows)), key=lambda i: margins[i])
    ratio = lesson.lower_is_better and lesson.chance is None
    how = f"{contrast_label} / {model_label} = {margins[weakest]:.2f}" if ratio else f"margin {margins[weakest]:.3f}"
    print(f"holds: {lesson.holds(model, contrast)}; weakest seed {rows[weakest]['seed']} ({how}); "
          f"{time.perf_counter() - start:.0f} s")
    return 0
