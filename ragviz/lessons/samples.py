"""The shipped samples: trained checkpoints, each with a lesson and a measured claim.

Teachers open a sample to show something true about RAG. Each sample is one lesson of
:mod:`ragviz.lessons.catalogue`: its checkpoint (the first report seed) carries the lesson text in
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

from ragviz.lessons.catalogue import (
    DRAWING_KEY,
    LESSON_TEXTS,
    LESSONS,
    SPEECH_KEY,
    LessonRun,
    run_lesson,
    single_threaded,
)
from ragviz.lessons.lesson import LESSON_SEEDS
from ragviz.lessons.text_lesson import KEY as TEXT_KEY
from ragviz.safety.errors import CheckpointError
from ragviz.storage.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ragviz.training.project import Project

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_models"
README = Path(__file__).resolve().parents[2] / "README.md"
RESULTS_MD = "RESULTS.md"
RESULTS_JSON = "RESULTS.json"
#: The README's samples table lies between these two lines and is rewritten by every build.
README_START = "<!-- samples table: generated from sample_models/RESULTS.md by `python -m ragviz samples` -->"
README_END = "<!-- end of samples table -->"
#: Where the code that can change what the samples train to lives: every ``.py`` file under these
#: subpackages of ``ragviz``, plus these single files. A new module there joins the fingerprint by itself.
TRAINING_PACKAGES = ("graph", "data", "model", "training", "lessons")
TRAINING_FILES = ("safety/checks.py",)
STALE = "training code changed: rebuild the samples with python -m ragviz samples"


@dataclass(frozen=True)
class Sample:
    """One shipped checkpoint and the lesson the app shows beside it."""

    key: str  # file stem, e.g. "zero_shot_ring"
    title: str
    claim: str  # one sentence

    @property
    def lesson(self) -> str:
        """Markdown: what to look at, what to try, what you should see (kept with the lesson's settings)."""
        return LESSON_TEXTS[self.key]

    @property
    def path(self) -> Path:
        return SAMPLE_DIR / f"{self.key}.safetensors"


SAMPLES: list[Sample] = [
    Sample(
        key="message_passing_hops",
        title="Message passing reaches k hops per layer",
        claim="The two zero-shot tasks three hops from the nearest data are solved with 3 message-passing "
              "layers but not with 1.",
    ),
    Sample(
        key="zero_shot_ring",
        title="Zero-shot tasks from relations",
        claim="Held-out tasks with no training data are classified from their relations alone, far better "
              "than by the same model without edges.",
    ),
    Sample(
        key="relation_types",
        title="Relations have types",
        claim='A relation-aware model tells "same" from "labels flipped" and solves both zero-shot tasks; '
              "a relation-blind one cannot.",
    ),
    Sample(
        key="wrong_relations",
        title="Wrong relations hurt",
        claim="The same tasks trained with shuffled edges lose the zero-shot tasks: only the right "
              "relations carry the right information.",
    ),
    Sample(
        key="real_digits",
        title="Real data: rotated digits",
        claim="On scikit-learn's real 8×8 digits, angles the model never saw are classified far above chance; "
              "the relations add less than in the toy lessons: the same model without edges is 0.12 to 0.25 "
              "lower.",
    ),
    Sample(
        key="few_shot",
        title="Few-shot tasks borrow from their neighbours",
        claim="With five training points per task, RAG beats independent heads on the same shared "
              "encoder by a wide margin.",
    ),
    Sample(
        key="when_zero_shot_fails",
        title="When zero-shot fails",
        claim="A zero-shot task whose relations cannot tell it from a seen task is not solved: the same model "
              "classifies a zero-shot task between neighbours 30° apart far better, and the 90° task is below "
              "chance on average.",
    ),
    Sample(
        key=DRAWING_KEY,
        title="The GNN generates a model that draws",
        claim="Angles the model never saw are drawn from their relations alone: their pixel error is at least "
              "1.2× lower than the same model's without edges on every report seed, and a frozen classifier "
              "recognises over half of those drawings (without edges under a fifth); they are about as good as "
              "averaging the neighbours' drawings, not better.",
    ),
    Sample(
        key=TEXT_KEY,
        title="Text tasks share one transformer",
        claim="Hotel tasks with no training data are classified above chance from relations to other domains' "
              "tasks on shared sentence vectors; with no edges the same model is near chance.",
    ),
    Sample(
        key=SPEECH_KEY,
        title="An unseen speaker from its relations",
        claim="Three synthetic speakers with no training data are told from the others by their relations alone "
              "(same voice, same size): their accuracy is at least 0.3 higher than the same model's without edges "
              "on every report seed; they are about as good as averaging their neighbours' answers, not better.",
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
    from ragviz.lessons.lesson import ACCURACY_MARGIN, MSE_RATIO

    return (f"at least {ACCURACY_MARGIN:g} in accuracy unless the lesson's requirement says otherwise, "
            f"or a {MSE_RATIO:g}× lower MSE unless its requirement says otherwise")


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
    """A hash of the training code's source files (:func:`training_code` under ``root``, default ``ragviz/``)."""
    folder = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    files = training_code(folder)
    for name in files:
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    return {"sha256": digest.hexdigest(), "files": files}


def training_code(folder: Path) -> list[str]:
    """The training code's files under ``folder`` (paths relative to it, sorted): :data:`TRAINING_PACKAGES`
    and :data:`TRAINING_FILES`."""
    found = {path.relative_to(folder).as_posix() for package in TRAINING_PACKAGES
             for path in (folder / package).rglob("*.py") if path.is_file()}
    found |= {name for name in TRAINING_FILES if (folder / name).is_file()}
    return sorted(found)


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
                  for name in mine[0].also},
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
         "zero_shot_ring": 1.0, "relation_types": 1.0, "when_zero_shot_fails": 1.0, TEXT_KEY: 1.5,
         DRAWING_KEY: 2.0, SPEECH_KEY: 0.5}
