"""The eighth lesson: text tasks share one transformer.

Review sentences from five product domains, each a vector from the frozen all-MiniLM-L6-v2
transformer. Sentiment in four domains has data; sentiment of hotel reviews has none and is
linked to the others by *same task, other domain*. "Complaint" tasks (sentiment with the labels
flipped) are linked to their domain's sentiment task by *opposite labels*; the hotel
complaint and question tasks are zero-shot too. Question and register (formal vs casual) tasks on the same
texts share the encoder and have their own relations. The contrast is the same model with no
edges: a data-less task then gets the shared "unknown" predictor, which cannot know whether
it is a sentiment, a complaint, a question or a register task.

The claim is measured over five seeds that change the data split and the model together
(:func:`measure_claim`); ``python -m ragviz.text_lesson`` rebuilds the sample and its row of
the claims table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ragviz.config import ModelConfig, TrainConfig
from ragviz.graph import Relation, Task, TaskGraph
from ragviz.lessons import LESSONS, Lesson, LessonRun, run_lesson, single_threaded, zero_shot_mean

KEY = "text_tasks"
SEEDS = (11, 12, 13, 14, 15)
DOMAINS = ("movies", "restaurants", "hotels", "electronics", "books")
HELD_OUT = "hotels"
SAME = "same task, other domain"
OPPOSITE = "opposite labels"


def _ring_edges(graph: TaskGraph, names: Sequence[str]) -> None:
    """Every pair of tasks of one kind: they are the same task in different domains."""
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            graph.add_edge(a, b, SAME)


def text_task_graph(data_seed: int = 11, train_size: int = 250, test_size: int = 150,
                    held_out: str = HELD_OUT) -> TaskGraph:
    """Sentiment, complaint, question and register tasks over the reviews corpus.

    ``data_seed`` picks every task's split, so two seeds train and test on different sentences.
    """
    graph = TaskGraph([Relation(SAME, False, "#2ca02c"), Relation(OPPOSITE, False, "#d62728")])
    seed = data_seed * 1000
    kinds = {
        "sentiment": ("sentiment", False, DOMAINS),
        "complaint": ("sentiment", True, DOMAINS),
        "question": ("is_question", False, ("movies", "restaurants", "books", held_out)),
        "register": ("register", False, ("restaurants", "electronics", "books")),
    }
    rows = {"sentiment": 0.0, "complaint": -2.0, "question": 2.0, "register": 4.0}
    by_kind: dict[str, list[str]] = {}
    for kind, (label, flip, domains) in kinds.items():
        for domain in domains:
            name = f"{kind} · {domain}"
            zero = domain == held_out
            graph.add_task(Task(name, "text", {"corpus": "reviews", "label": label, "domain": domain, "flip": flip},
                                0 if zero else train_size, test_size, seed,
                                (2.0 * DOMAINS.index(domain), rows[kind])))
            seed += 1
            by_kind.setdefault(kind, []).append(name)
        _ring_edges(graph, by_kind[kind])
    for name in by_kind["complaint"]:
        graph.add_edge(f"sentiment · {name.split(' · ')[1]}", name, OPPOSITE)
    return graph


TEXT_LESSON = Lesson(
    key=KEY,
    graph=text_task_graph,
    model=ModelConfig(embed_dim=16, hidden=64, layers=2, task_dropout=0.3),
    train=TrainConfig(steps=800, lr=0.01),
    contrast="no edges",
    model_label="RAG",
    contrast_label="no edges",
    metric="zero-shot accuracy (hotel sentiment, hotel complaints, hotel questions)",
    measure=zero_shot_mean,
    quick_graph_kwargs={"train_size": 150, "test_size": 100},
    quick_steps=300,
)
LESSONS.setdefault(KEY, TEXT_LESSON)


def run_seed(seed: int, quick: bool = False) -> LessonRun:
    """One seed: the data split and the model's draws both follow ``seed``."""
    graph = TEXT_LESSON.graph(data_seed=seed, **(TEXT_LESSON.quick_graph_kwargs if quick else {}))
    with single_threaded():
        return run_lesson(KEY, seed, quick, graph=graph)


def measure_claim(seeds: Sequence[int] = SEEDS, quick: bool = False, save_to: Path | str | None = None,
                  progress: bool = True) -> dict:
    """Train the lesson and its contrast on each seed; save the first seed's checkpoint.

    Returns (and, with ``save_to``, writes beside the samples) the per-seed values and whether
    the claim holds: the model's worst seed beats the contrast's best by the lessons' margin.
    """
    from ragviz.samples import ClaimResult, _save, get_sample

    start = time.perf_counter()
    runs = []
    for seed in seeds:
        run = run_seed(seed, quick)
        runs.append(run)
        if progress:
            print(f"seed {seed}: RAG {run.model_value:.3f}, no edges {run.contrast_value:.3f} ({run.seconds:.0f} s)")
    sample = get_sample(KEY)
    model = [r.model_value for r in runs]
    contrast = [r.contrast_value for r in runs]
    result = ClaimResult(key=KEY, lesson=sample.title, claim=sample.claim, metric=TEXT_LESSON.metric,
                         model_label=TEXT_LESSON.model_label, contrast_label=TEXT_LESSON.contrast_label,
                         seeds=list(seeds), model=model, contrast=contrast,
                         holds=TEXT_LESSON.holds(model, contrast), requirement=TEXT_LESSON.requirement,
                         seconds=round(time.perf_counter() - start, 1), quick=quick,
                         extra={"seen": [r.model.history.summary()["seen"] for r in runs],
                                "data": "each seed also draws its own train/test split"})
    if save_to is not None:
        _save(runs[0], sample, Path(save_to), result)
        record(result, Path(save_to))
    return result.to_dict()


def record(result: object, folder: Path) -> None:
    """Put this lesson's row into the samples' claims table (RESULTS.json and RESULTS.md)."""
    from ragviz.samples import RESULTS_JSON, RESULTS_MD, ClaimResult, _json_safe, results_table

    path = folder / RESULTS_JSON
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        payload = {"seeds": list(SEEDS), "quick": False, "seconds": 0, "results": []}
    rows = [r for r in payload.get("results", []) if r.get("key") != KEY] + [_json_safe(result.to_dict())]
    payload["results"] = rows
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    md = folder / RESULTS_MD
    try:
        head = md.read_text(encoding="utf-8").split("\n| # |", 1)[0].rstrip() + "\n\n"
    except OSError:
        head = "# Sample models: claims and measurements\n\n"
    note = (f"\n\nThe text lesson ({KEY}) is built by `python -m ragviz.text_lesson`: its values are over seeds "
            f"{', '.join(map(str, result.seeds))}, and each of its seeds also draws its own train/test split of the "
            "reviews corpus, so data and model vary together.\n")
    md.write_text(head + results_table([ClaimResult.from_dict(r) for r in rows]) + note, encoding="utf-8")


def seen_and_zero(run: LessonRun) -> tuple[float, float]:
    """Mean accuracy of the tasks with data and of the zero-shot ones (for reports)."""
    summary = run.model.history.summary()
    return float(summary.get("seen", np.nan)), float(summary.get("zero_shot", np.nan))


if __name__ == "__main__":  # pragma: no cover - the build command
    import argparse

    from ragviz.samples import SAMPLE_DIR

    parser = argparse.ArgumentParser(description="Rebuild the text sample and measure its claim.")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    out = measure_claim(quick=args.quick, save_to=SAMPLE_DIR)
    print(json.dumps({k: out[k] for k in ("model", "contrast", "holds")}))
