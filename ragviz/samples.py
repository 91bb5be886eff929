"""The shipped samples: trained checkpoints, each with a lesson and a measured claim.

Teachers open a sample to show something true about RAG. Each sample is one lesson of
:mod:`ragviz.lessons`: its checkpoint (the first report seed) carries the lesson text in
``Project.lesson`` and its contrast's metrics in ``Checkpoint.info["contrast"]``, so the app
can show "model vs contrast" without retraining. :func:`build_samples` (``python -m ragviz
samples``) rebuilds every checkpoint and checks every claim on several seeds, writing the
claims table to ``RESULTS.md`` (and into the README) and ``RESULTS.json`` (for the tests, with
the fingerprint of the training code it was built by).
"""

from __future__ import annotations

import hashlib
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
from ragviz.lessons import LESSON_SEEDS, LESSONS, LessonRun, run_lesson, single_threaded
from ragviz.project import Project

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_models"
README = Path(__file__).resolve().parent.parent / "README.md"
RESULTS_MD = "RESULTS.md"
RESULTS_JSON = "RESULTS.json"
#: The README's samples table lies between these two lines and is rewritten by every build.
README_START = "<!-- samples table: generated from sample_models/RESULTS.md by `python -m ragviz samples` -->"
README_END = "<!-- end of samples table -->"
#: The source files whose change can change what the samples train to (those that exist are hashed).
TRAINING_CODE = ("model.py", "train.py", "tensors.py", "data.py", "optim.py", "lessons.py", "history.py",
                 "ensemble.py", "config.py", "ablations.py", "generators.py", "graph.py")
STALE = "training code changed: rebuild the samples with python -m ragviz samples"


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
        claim="The two zero-shot tasks three hops from the nearest data are solved with 3 message-passing "
              "layers but not with 1.",
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
  the three-hop tasks is several times the 3-layer model's (the claims table has the figures).
- The claim is about those two tasks only. The other zero-shot tasks, one and two hops from data,
  are reported beside it in the claims table for both models; look at them in *Task outputs* too:
  the 3-layer model does not fit every one of them equally well.

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
        claim="Held-out tasks with no training data are classified from their relations alone, far better "
              "than by the same model without edges.",
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
- The *no edges* contrast (the same model and data, no relations) has nothing that tells a
  zero-shot task from any other, and scores around chance on them (the claims table has the figures).

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
  same predictor, so where it is right on one it is wrong on the other: about half right on average.

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
- The *shuffled edges* contrast's zero-shot accuracy depends on where the random edges fell and
  varies a lot from seed to seed; with the right edges it is high on every seed (the claims table
  has the figures).

**What to try.** On the *Train* page, train the *shuffled edges* baseline beside the model and
compare the zero-shot rows. In *Task graph*, remove both edges of a zero-shot task and link it to
a task on the far side of the ring instead: without retraining, its accuracy collapses — the
model believes the edges it is given.
""",
    ),
    Sample(
        key="real_digits",
        title="Real data: rotated digits",
        claim="On scikit-learn's real 8×8 digits, angles the model never saw are classified far above chance, "
              "but the relations add little: the same model without edges does nearly as well, on some seeds "
              "as well.",
        lesson="""\
**The graph.** scikit-learn's bundled 8×8 handwritten digits, rotated in 30° steps round a ring
of twelve ten-class tasks. The 90° and 240° tasks are **held out** (zero-shot).

**What to look at.**
- *Task outputs*: the confusion matrices of the zero-shot angles are clearly diagonal, though
  well below the angles with data. Chance is 0.1 (ten classes).
- The *no edges* contrast (the same model and data, no relations) gets nearly as many of the
  held-out digits right: many digits look alike after a turn, and the shared encoder has learned
  from every other angle. Across seeds the relations add from nothing to about 0.1 — so this
  lesson's claim is judged against chance, and the no-edges figures are shown beside it (the
  claims table has both).

**Be honest about it.**
- Rotation is hard to interpolate from pixels; on this real data the graph helps little.
- Every task draws its images from the same pool of 1,797 digits, so most of a held-out angle's
  test digits appear, at other angles, in other tasks' training data. That helps both models
  alike, but it means the zero-shot accuracy is not accuracy on new handwriting.
- Independent heads are no contrast here: a zero-shot task has no head of its own, so they
  always answer class 0.

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
    Sample(
        key="when_zero_shot_fails",
        title="When zero-shot fails",
        claim="A zero-shot task whose relations cannot tell it from a seen task is classified wrongly, far below "
              "chance; the same model does well on a zero-shot task between neighbours 30° apart on most seeds, "
              "but not on every one.",
        lesson="""\
**The graph.** Two rings of rotated two-moons tasks, trained together as one model. The *works*
ring has twelve tasks 30° apart; the *fails* ring has four tasks 90° apart (0°, 90°, 180°, 270°).
In both rings the 90° task has **no training data**.

**What to look at.**
- *Task outputs*: "fails 90°" gets a sharp boundary that is wrong: its accuracy is far below
  chance, because its labels come out swapped. "works 90°" is classified well in this sample.
- Why: in the fails ring the 90° task's neighbours are 0° and 180°, and so are the neighbours of
  the seen 270° task. The relations say the same thing about both, so the model gives the
  zero-shot task the 270° task's predictor, which is the 90° task's with its labels swapped. No
  model that reads only these relations can tell the two apart, and averaging the neighbours'
  predictions does no better: 0° and 180° disagree almost everywhere.
- *Embeddings*: "fails 90°" lands next to "fails 270°".
- The claims table gives both rings' zero-shot accuracy, from the same trained model on each
  seed. The 90° ring's is judged (below chance on every seed); the 30° ring's is shown beside it,
  and it is not good on every seed either (when this lesson was written, it came out wrong on
  one of the five report seeds): a zero-shot task can fail even where the relations are right.

**Be honest about it.** A zero-shot prediction is an inference from the relations. When they do
not pin the task down (too few neighbours, neighbours too far apart, symmetric places, wrong
edges) it can be confidently wrong, and the seen tasks' good accuracy says nothing about it.
`benchmarks/GENERALISATION.md` lists more such cases, measured on graphs nobody tuned for.

**What to try.** In *Task graph*, add a task at 45° with training data to the fails ring, link it
to "fails 0°" and "fails 90°", and retrain: the 90° task's relations now tell it apart from the
270° task. Compare its row in *Task outputs* before and after.
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
    also: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # name: {"model": [...], "contrast": [...]}

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
        "| # | lesson | claim | metric | model | contrast | holds | also measured (not judged) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, r in enumerate(results, 1):
        better = "lower is better" if r.lower_is_better else "higher is better"
        also = "; ".join(f"{name}: {r.model_label} {describe(v.get('model', []))}, {r.contrast_label} "
                         f"{describe(v.get('contrast', []))}" for name, v in r.also.items()) or "—"
        lines.append(
            f"| {i} | {r.lesson} | {r.claim} | {r.metric} ({better}) | {r.model_label}: {describe(r.model)} | "
            f"{r.contrast_label}: {describe(r.contrast)} | {'yes' if r.holds else '**NO**'} "
            f"({r.requirement}) | {also} |"
        )
    return "\n".join(lines)


def results_markdown(results: Sequence[ClaimResult], seeds: Sequence[int], quick: bool, seconds: float) -> str:
    head = "# Sample models: claims and measurements\n\n"
    how = (f"Built by `python -m ragviz samples{' --quick' if quick else ''}` on the CPU in {seconds:.0f} s. "
           f"Each value is mean ± std (min–max) over seeds {', '.join(map(str, seeds))}; every seed changes both "
           "the data (every task's seed) and the model (initialisation and training draws). The lessons' settings "
           "were tuned on seeds 0–5, which are not used here. A claim holds only when on every seed the model beats "
           f"that seed's contrast (same data): by {_margin_text()}. The shipped checkpoints are seed {seeds[0]}.\n\n")
    return head + how + results_table(results) + "\n"


def _margin_text() -> str:
    from ragviz.lessons import ACCURACY_MARGIN, MSE_RATIO

    return (f"at least {ACCURACY_MARGIN:g} in accuracy unless the lesson's requirement says otherwise, "
            f"or a {MSE_RATIO:g}× lower MSE")


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
            "contrast_values": result.contrast, "requirement": result.requirement, "also": result.also,
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


def training_fingerprint(root: Path | None = None) -> dict[str, Any]:
    """A hash of the training code path's source files (those of :data:`TRAINING_CODE` that exist)."""
    folder = Path(root) if root is not None else Path(__file__).resolve().parent
    digest = hashlib.sha256()
    files = []
    for name in TRAINING_CODE:
        path = folder / name
        if path.is_file():
            files.append(name)
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return {"sha256": digest.hexdigest(), "files": files}


def recorded_build(folder: Path | str | None = None) -> dict[str, Any]:
    """RESULTS.json as written by the last build (empty when missing or unreadable)."""
    try:
        data = json.loads((Path(folder or SAMPLE_DIR) / RESULTS_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_readme(table_markdown: str, readme: Path | None = None) -> bool:
    """Put the samples table between the README's markers; False when the markers are missing."""
    path = Path(readme) if readme is not None else README
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    if README_START not in text or README_END not in text:
        return False
    head, rest = text.split(README_START, 1)
    _old, tail = rest.split(README_END, 1)
    path.write_text(f"{head}{README_START}\n{table_markdown.strip()}\n{README_END}{tail}", encoding="utf-8")
    return True


def build_samples(
    out_dir: Path | str = SAMPLE_DIR,
    seeds: Sequence[int] = LESSON_SEEDS,
    quick: bool = False,
    progress: Callable[[str], None] | None = print,
    keys: Sequence[str] | None = None,
    jobs: int | None = None,
    readme: Path | None = None,
) -> list[ClaimResult]:
    """Train every sample and its contrast on each seed, save the first seed's checkpoints,
    and check every claim across the seeds.

    Each (lesson, seed) trains single-threaded, in ``jobs`` worker processes (default: up to
    2), so the results are the same whatever the job count; deterministic on the CPU. A full
    build also trains the quick version of each lesson on the first seed and records its
    figures, with the fingerprint of the training code, so the test suite can check cheaply
    that the current code still builds what was shipped. ``readme``: a README whose samples
    table to rewrite (default: the project's own, when building into ``sample_models/``).
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("build_samples needs at least one seed.")
    say = progress or (lambda _msg: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = [get_sample(k) for k in keys] if keys is not None else SAMPLES
    jobs = _default_jobs() if jobs is None else max(1, int(jobs))
    todo = [(s.key, seed, quick) for s in chosen for seed in seeds]
    if not quick:
        todo += [(s.key, seeds[0], True) for s in chosen]
    # Longest first, so two workers finish together.
    todo.sort(key=lambda job: -_COST.get(job[0], 1.0) * (0.2 if job[2] and not quick else 1.0))
    runs: dict[tuple[str, int, bool], LessonRun] = {}
    start = time.perf_counter()

    def done(job: tuple[str, int, bool], run: LessonRun) -> None:
        runs[job] = run
        lesson = LESSONS[run.key]
        say(f"[{len(runs)}/{len(todo)}] {get_sample(run.key).title} — seed {run.seed}{' (quick)' if job[2] else ''}: "
            f"{lesson.model_label} {run.model_value:.3f}, {lesson.contrast_label} {run.contrast_value:.3f} "
            f"({run.seconds:.0f} s)")

    if jobs == 1 or len(todo) == 1:
        for job in todo:
            done(job, _run_job(*job))
    else:
        context = multiprocessing.get_context("spawn")  # no forked torch state, same on every OS
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
            futures = {pool.submit(_run_job, *job): job for job in todo}
            for future in as_completed(futures):
                done(futures[future], future.result())

    results: list[ClaimResult] = []
    for sample in chosen:
        lesson = LESSONS[sample.key]
        mine = [runs[(sample.key, seed, quick)] for seed in seeds]
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
            also={name: {"model": [r.also[name][0] for r in mine], "contrast": [r.also[name][1] for r in mine]}
                  for name in lesson.also},
        )
        _save(mine[0], sample, out_dir, result)
        results.append(result)
    seconds = time.perf_counter() - start
    table = results_markdown(results, seeds, quick, seconds)
    (out_dir / RESULTS_MD).write_text(table, encoding="utf-8")
    quick_figures = {key: {"seed": seed, "model": run.model_value, "contrast": run.contrast_value}
                     for (key, seed, is_quick), run in runs.items() if is_quick and seed == seeds[0]}
    payload = {"seeds": seeds, "quick": quick, "seconds": round(seconds, 1),
               "fingerprint": training_fingerprint(), "quick_figures": quick_figures,
               "results": [_json_safe(r.to_dict()) for r in results]}
    (out_dir / RESULTS_JSON).write_text(json.dumps(_json_safe(payload), indent=2) + "\n", encoding="utf-8")
    if readme is not None or out_dir.resolve() == SAMPLE_DIR.resolve():
        update_readme(table.split("\n", 2)[2], readme)
    return results


#: Rough relative training cost of each lesson (for scheduling only).
_COST = {"message_passing_hops": 4.0, "real_digits": 3.0, "wrong_relations": 1.2, "few_shot": 1.0,
         "zero_shot_ring": 1.0, "relation_types": 1.0, "when_zero_shot_fails": 1.0}
