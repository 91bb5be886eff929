"""The shipped samples: trained checkpoints, each with a lesson and a measured claim.

Teachers open a sample to show something true about RAG. Each sample is one lesson of
:mod:`ragviz.lessons`: its checkpoint (seed 0) carries the lesson text in
``Project.lesson`` and its contrast's metrics in ``Checkpoint.info["contrast"]``, so the app
can show "model vs contrast" without retraining. :func:`build_samples` (``python -m ragviz
samples``) rebuilds every checkpoint and checks every claim on several seeds, writing the
claims table to ``RESULTS.md`` (for the README) and ``RESULTS.json`` (for the tests).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ragviz.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ragviz.errors import CheckpointError
from ragviz.lessons import LESSONS, LessonRun, run_lesson, single_threaded
from ragviz.project import Project

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_models"
RESULTS_MD = "RESULTS.md"
RESULTS_JSON = "RESULTS.json"


@dataclass(frozen=True)
class Sample:
    """One shipped checkpoint and the lesson the app shows beside it."""

    key: str  # file stem, e.g. "zero_shot_ring"
    title: str
    claim: str  # one sentence
    lesson: str  # markdown: what to look at, what to try, what you should see

    @property
    def path(self) -> Path:
        return SAMPLE_DIR / f"{self.key}.safetensors"


SAMPLES: list[Sample] = [
    Sample(
        key="message_passing_hops",
        title="Message passing reaches k hops per layer",
        claim="A zero-shot task three hops from the nearest data is solved with 3 message-passing layers "
              "but not with 1.",
        lesson="""\
**The graph.** 61 sine tasks on a chain; the phase turns once round the circle along it.
Only every third task has data, and two of those were held out — so the tasks at the
held-out positions (φ ≈ 1.85 and φ ≈ 4.33) are **three hops** from the nearest data, with two
data-less tasks on each side.

**What to look at.**
- *Task outputs*: the curves of the two three-hop tasks match their dashed truth.
- *Message passing*: select a three-hop task and step the layer slider. Its receptive field
  grows one hop per layer; only at layer 3 does it reach a task that has data.
- The 1-layer contrast, trained on the same data, predicts a near-flat curve there: its MSE on
  the three-hop tasks is about 0.45, against well under 0.1 with 3 layers.

**What to try.** Retrain with *layers = 2*: the three-hop tasks stay unsolved. After two layers
they have heard only from data-less tasks, so both get the same prediction, however the model
is trained. Then go back to 3.

**Why these settings.** Aggregation is *sum* and the chain's edges weigh 3: a data-less task
starts from the same shared vector as every other one, and a *mean* over its mostly data-less
neighbours dilutes the one message that carries information until it is too faint to learn
from. Task dropout 0.4 gives many training examples of "infer me from three hops away".
""",
    ),
    Sample(
        key="zero_shot_ring",
        title="Zero-shot tasks from relations",
        claim="Held-out tasks with no training data are classified from their relations alone; "
              "without edges they are at chance.",
        lesson="""\
**The graph.** Twelve two-moons tasks, each rotated 30° more than the last, linked in a ring by
a *near* relation. Two of them (90° and 240°) have **no training data** at all.

**What to look at.**
- *Task outputs*: the zero-shot tasks' decision boundaries are rotated correctly, half-way between
  their neighbours', although the model never saw a point of them.
- *Embeddings*: the task embeddings lie on a loop in rotation order, and each zero-shot task sits
  between its two neighbours.
- *Message passing*: a zero-shot task starts as the shared "unknown" vector; its neighbours'
  messages move it into place.
- The *no edges* contrast (same data, no relations) gets ≈ 0.5 on the zero-shot tasks: chance.

**What to try.** In *Task graph*, delete one edge of a zero-shot task, or add a new task with
train size 0 between two others, and look at *Task outputs* again: the prediction changes
without retraining. Retrain with *no edges* as a baseline on the *Train* page.
""",
    ),
    Sample(
        key="relation_types",
        title="Relations have types",
        claim='A relation-aware model tells "same" from "labels flipped" and solves both zero-shot tasks; '
              "a relation-blind one cannot.",
        lesson="""\
**The graph.** Three groups of rotated moons (0°, 60°, 120°). In each group a task has a copy
linked by **same** (green) and a twin with its labels flipped, linked by **labels flipped** (red).
Each group also has two **zero-shot** tasks linked to the same task: one by *same*, one by
*labels flipped*.

**What to look at.**
- *Task outputs*: "new … (same)" and "new … (flipped)" get opposite decision regions — same
  neighbour, different relation.
- *Message passing*: the two zero-shot tasks of a group receive a message from the same
  neighbour; the message vectors differ because each is composed with its relation's embedding
  (h ⊙ z_r).
- The relation-blind contrast (composition *none*) gives both zero-shot tasks of a group the
  same predictor, so it is right on one and wrong on the other: ≈ 0.5 on average.

**What to try.** Retrain with *composition = none*. Then, on the trained model, change a zero-shot
task's edge from *same* to *labels flipped* in *Task graph*: its prediction flips without retraining.
""",
    ),
    Sample(
        key="wrong_relations",
        title="Wrong relations hurt",
        claim="The same tasks trained with shuffled edges lose the zero-shot tasks: only the right "
              "relations carry the right information.",
        lesson="""\
**The graph.** 24 two-moons tasks rotated in 15° steps round a ring, five of them zero-shot.

**What to look at.**
- *Task outputs*: with the right edges every zero-shot task is classified almost perfectly.
- The *shuffled edges* contrast keeps the same number of *near* edges but joins random tasks:
  the seen tasks are still learned (they have data), but a zero-shot task now hears from tasks
  rotated by anything.

- The *shuffled edges* contrast's zero-shot accuracy depends on where the random edges fell,
  from about 0.4 to about 0.75; with the right edges it is above 0.95 on every seed.

**What to try.** On the *Train* page, train the *shuffled edges* baseline beside the model and
compare the zero-shot rows. In *Task graph*, remove both edges of a zero-shot task and link it to
a task on the far side of the ring instead: without retraining, its accuracy collapses — the
model believes the edges it is given.
""",
    ),
    Sample(
        key="real_digits",
        title="Real data: rotated digits",
        claim="On scikit-learn's real 8×8 digits, angles the model never saw are classified from their "
              "neighbours; independent heads can only guess.",
        lesson="""\
**The graph.** scikit-learn's bundled 8×8 handwritten digits, rotated in 30° steps round a ring
of twelve ten-class tasks. The 90° and 240° tasks are **held out** (zero-shot).

**What to look at.**
- *Task outputs*: the confusion matrices of the zero-shot angles are clearly diagonal (about
  two thirds right, ten classes), against about nine in ten for angles with data.
- The *independent heads* contrast (a shared encoder, one head per task, no graph) has no head for
  an unseen angle, so it is at chance (0.1).

**Be honest about it.** A model with *no edges* still gets about half the held-out digits right —
many digits look alike after a quarter turn — so the relations add roughly 0.1 on top of that,
not everything. Rotation is hard to interpolate from pixels; it is real data.

**What to try.** Train the *no edges* baseline on the *Train* page and compare the zero-shot rows.
Hold out another angle (set its train size to 0) and retrain.
""",
    ),
    Sample(
        key="few_shot",
        title="Few-shot tasks borrow from their neighbours",
        claim="With five training points per task, RAG beats independent heads on the same shared "
              "encoder by a wide margin.",
        lesson="""\
**The graph.** 24 three-armed spirals rotated in 15° steps round a ring. Every task has **five**
training points — fewer than two per class.

**What to look at.**
- *Task outputs*: RAG draws whole spiral arms from five points, because a task's predictor is
  generated from an embedding shaped by its neighbours, not fitted from its own points alone.
- The *independent heads* contrast (one linear head per task on the same shared encoder) fits
  its five points and little else.

**What to try.** Train the *independent heads* baseline beside the model on the *Train* page and
compare the per-task rows. Then set every train size to 40 and retrain both: the gap narrows,
because each task then has enough data of its own.
""",
    ),
]

DEFAULT_SAMPLE = "zero_shot_ring"
_BY_KEY = {s.key: s for s in SAMPLES}


def get_sample(key: str) -> Sample:
    if key not in _BY_KEY:
        raise CheckpointError(f"There is no sample named {key!r}; the samples are {', '.join(_BY_KEY)}.")
    return _BY_KEY[key]


def load_sample(key: str) -> Checkpoint:
    """Load a shipped sample's checkpoint; an unknown key or a missing file is a clear error."""
    sample = get_sample(key)
    if not sample.path.is_file():
        raise CheckpointError(f"The sample '{key}' is not built: sample_models/{sample.path.name} is missing. "
                              "Run `python -m ragviz samples` to build the samples.")
    ckpt = load_checkpoint(sample.path, trusted=True)  # shipped with the app: no upload limit
    if not ckpt.project.lesson:
        ckpt.project.lesson = sample.lesson
    return ckpt


# --------------------------------------------------------------------------------- claims
def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def describe(values: Sequence[float], digits: int = 3) -> str:
    """Mean ± std (min–max) over seeds, or one number for one seed."""
    vals = _finite(values)
    if not vals:
        return "n/a"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    return (f"{np.mean(vals):.{digits}f} ± {np.std(vals):.{digits}f} "
            f"({min(vals):.{digits}f}–{max(vals):.{digits}f})")


@dataclass
class ClaimResult:
    """One lesson's claim measured over seeds: the model, its contrast, and whether it holds."""

    key: str
    lesson: str  # the lesson's title
    claim: str
    metric: str
    model_label: str
    contrast_label: str
    seeds: list[int]
    model: list[float]  # one value per seed
    contrast: list[float]
    holds: bool
    requirement: str
    lower_is_better: bool = False
    seconds: float = 0.0
    quick: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spread(self) -> str:
        return f"{self.model_label}: {describe(self.model)}; {self.contrast_label}: {describe(self.contrast)}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClaimResult:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def results_table(results: Sequence[ClaimResult]) -> str:
    """The claims table as GitHub markdown: what the command prints and RESULTS.md holds."""
    lines = [
        "| # | lesson | claim | metric | model | contrast | holds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, r in enumerate(results, 1):
        better = "lower is better" if r.lower_is_better else "higher is better"
        lines.append(
            f"| {i} | {r.lesson} | {r.claim} | {r.metric} ({better}) | {r.model_label}: {describe(r.model)} | "
            f"{r.contrast_label}: {describe(r.contrast)} | {'yes' if r.holds else '**NO**'} |"
        )
    return "\n".join(lines)


def results_markdown(results: Sequence[ClaimResult], seeds: Sequence[int], quick: bool, seconds: float) -> str:
    head = "# Sample models: claims and measurements\n\n"
    how = (f"Built by `python -m ragviz samples{' --quick' if quick else ''}` on the CPU in {seconds:.0f} s. "
           f"Each value is mean ± std (min–max) over seeds {', '.join(map(str, seeds))}; every seed changes the "
           "model's initialisation and training draws (the data stay fixed). A claim holds when the model's "
           f"worst seed beats the contrast's best seed: by {_margin_text()}. The shipped checkpoints are "
           f"seed {seeds[0]}.\n\n")
    return head + how + results_table(results) + "\n"


def _margin_text() -> str:
    from ragviz.lessons import ACCURACY_MARGIN, MSE_RATIO

    return f"at least {ACCURACY_MARGIN:g} in accuracy, or a {MSE_RATIO:g}× lower MSE"


def recorded_results(folder: Path | str | None = None) -> dict[str, ClaimResult]:
    """The claims recorded by the last build (RESULTS.json), by sample key; empty if none."""
    path = Path(folder or SAMPLE_DIR) / RESULTS_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {r["key"]: ClaimResult.from_dict(r) for r in data["results"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


# ---------------------------------------------------------------------------------- build
def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _save(run: LessonRun, sample: Sample, out_dir: Path, result: ClaimResult) -> Path:
    lesson = LESSONS[sample.key]
    model_config, train_config = lesson.configs(run.seed)
    project = Project(run.graph, model_config, train_config, name=sample.title, lesson=sample.lesson)
    contrast = run.contrast.history
    extra = {
        "device": run.model.device,
        "source": "sample",
        "sample": {
            "key": sample.key, "title": sample.title, "claim": sample.claim, "metric": lesson.metric,
            "lower_is_better": lesson.lower_is_better, "seed": run.seed,
            "model_label": lesson.model_label, "model_value": run.model_value,
            "contrast_label": lesson.contrast_label, "contrast_value": run.contrast_value,
            "holds": result.holds, "seeds": result.seeds, "model_values": result.model,
            "contrast_values": result.contrast, "requirement": result.requirement,
        },
        "contrast": {
            "label": lesson.contrast_label,
            "ablation": lesson.contrast,
            "model_config": run.contrast_model_config.to_dict(),
            "edges": None if run.contrast_edges is None else [list(e) for e in run.contrast_edges],
            "metric": contrast.metric,
            "metrics": contrast.final_metrics(),
            "summary": contrast.summary(),
            "zero_shot": list(contrast.zero_shot),
        },
    }
    path = out_dir / f"{sample.key}.safetensors"
    save_checkpoint(path, project, run.model.model, run.model.history, _json_safe(extra))
    path.chmod(0o644)  # shipped files: readable by whoever serves the app
    return path


def _run_job(key: str, seed: int, quick: bool) -> LessonRun:
    """One (lesson, seed) in a worker: single-threaded, so results never depend on the job count."""
    with single_threaded():
        return run_lesson(key, seed, quick)


def _default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def build_samples(
    out_dir: Path | str = SAMPLE_DIR,
    seeds: Sequence[int] = (0, 1, 2),
    quick: bool = False,
    progress: Callable[[str], None] | None = print,
    keys: Sequence[str] | None = None,
    jobs: int | None = None,
) -> list[ClaimResult]:
    """Train every sample and its contrast on each seed, save the first seed's checkpoints,
    and check every claim across the seeds.

    Each (lesson, seed) trains single-threaded, in ``jobs`` worker processes (default: up to
    2), so the results are the same whatever the job count; deterministic on the CPU.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("build_samples needs at least one seed.")
    say = progress or (lambda _msg: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = [get_sample(k) for k in keys] if keys is not None else SAMPLES
    jobs = _default_jobs() if jobs is None else max(1, int(jobs))
    todo = [(s.key, seed) for s in chosen for seed in seeds]
    # Longest first, so two workers finish together.
    todo.sort(key=lambda job: -_COST.get(job[0], 1.0))
    runs: dict[tuple[str, int], LessonRun] = {}
    start = time.perf_counter()

    def done(run: LessonRun) -> None:
        runs[(run.key, run.seed)] = run
        lesson = LESSONS[run.key]
        say(f"[{len(runs)}/{len(todo)}] {get_sample(run.key).title} — seed {run.seed}: "
            f"{lesson.model_label} {run.model_value:.3f}, {lesson.contrast_label} {run.contrast_value:.3f} "
            f"({run.seconds:.0f} s)")

    if jobs == 1 or len(todo) == 1:
        for key, seed in todo:
            done(_run_job(key, seed, quick))
    else:
        context = multiprocessing.get_context("spawn")  # no forked torch state, same on every OS
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
            futures = [pool.submit(_run_job, key, seed, quick) for key, seed in todo]
            for future in as_completed(futures):
                done(future.result())

    results: list[ClaimResult] = []
    for sample in chosen:
        lesson = LESSONS[sample.key]
        mine = [runs[(sample.key, seed)] for seed in seeds]
        model = [r.model_value for r in mine]
        contrast = [r.contrast_value for r in mine]
        result = ClaimResult(
            key=sample.key, lesson=sample.title, claim=sample.claim, metric=lesson.metric,
            model_label=lesson.model_label, contrast_label=lesson.contrast_label, seeds=seeds,
            model=model, contrast=contrast, holds=lesson.holds(model, contrast),
            requirement=lesson.requirement, lower_is_better=lesson.lower_is_better,
            seconds=round(sum(r.seconds for r in mine), 1), quick=quick,
            extra={"seen": [r.model.history.summary()["seen"] for r in mine],
                   "zero_shot": [r.model.history.summary()["zero_shot"] for r in mine]},
        )
        _save(mine[0], sample, out_dir, result)
        results.append(result)
    seconds = time.perf_counter() - start
    (out_dir / RESULTS_MD).write_text(results_markdown(results, seeds, quick, seconds), encoding="utf-8")
    payload = {"seeds": seeds, "quick": quick, "seconds": round(seconds, 1),
               "results": [_json_safe(r.to_dict()) for r in results]}
    (out_dir / RESULTS_JSON).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return results


#: Rough relative training cost of each lesson (for scheduling only).
_COST = {"message_passing_hops": 4.0, "real_digits": 3.0, "wrong_relations": 1.2, "few_shot": 1.0,
         "zero_shot_ring": 1.0, "relation_types": 1.0}


# ------------------------------------------------------------------------- text lesson
# The eighth lesson lives in ragviz.text_lesson (its graph, its claim over seeds 11–15 that
# vary data and model); importing it registers its Lesson, and its Sample joins the catalogue.
from ragviz import text_lesson  # noqa: E402

TEXT_SAMPLE = Sample(
    key=text_lesson.KEY,
    title="Text tasks share one transformer",
    claim="Hotel reviews with no training data are classified from relations to other domains' tasks on "
          "shared sentence vectors; with no edges the same model is near chance.",
    lesson="""\
**The graph.** 2,350 short English reviews (movies, restaurants, hotels, electronics, books),
each turned into a 384-number sentence vector by one frozen pretrained transformer
(all-MiniLM-L6-v2). Every task reads those vectors: *sentiment* and *complaint* (sentiment
with the labels flipped) in each domain, *question?* in four and *formal vs casual* in three.
Tasks of one kind are linked by **same task, other domain** (green); each complaint task is
linked to its domain's sentiment task by **opposite labels** (red). The hotel sentiment,
complaint and question tasks have **no training data**.

**What to look at.**
- *Task outputs*: the hotel tasks' confusion matrices are clearly diagonal, and the complaint
  task's is the mirror of the sentiment task's. Type a sentence in **Try your own sentence** and
  watch every task answer at once: sentiment and complaint disagree, as their relation says.
- *Message passing*: a hotel task starts as the shared "unknown" vector; messages from the same
  task in other domains move it next to them.
- The *no edges* contrast (same data, no relations) gives every hotel task the same "unknown"
  predictor: it cannot know which of four kinds of task it is, so it is near chance.

**Be honest about it.** Zero-shot sentiment reaches about what a linear probe trained on the
other four domains gets (about 0.7 on hotels); the transformer, not the graph, knows that
"mould around the bath" is bad. The graph's part is telling the model *which* task a data-less
task is. A bag-of-words classifier trained on the other domains gets about 0.52 on hotel
sentiment: domain words do not transfer, sentence vectors do.

**What to try.** In *Task graph*, change the edge between "sentiment · hotels" and
"complaint · hotels" to *same task, other domain*: without retraining, the complaint task's
answers flip. Retrain with *no edges* as a baseline on the *Train* page.
""",
)
SAMPLES.append(TEXT_SAMPLE)
_BY_KEY[TEXT_SAMPLE.key] = TEXT_SAMPLE
_COST[text_lesson.KEY] = 1.5
