"""Zero-shot beyond the lessons: RAG against honest contrasts on settings nobody tuned for.

Every setting is a graph that none of the lessons uses (other families, more classes, larger
steps between neighbours, adjacent zero-shot tasks, extrapolation off the end of a chain,
partly wrong relations, sine and digits). Each runs over seeds that change both the data
(task seeds) and the model (initialisation and training draws), and none of those seeds were
used to tune anything. For each setting and seed it trains, with the same default settings:

- **RAG**: the default model;
- **no edges**: the same model with every edge removed (what relations add);
- **independent**: a shared encoder with one head per seen task (a zero-shot task has no head
  of its own, so its logits are all zero: a constant class-0 predictor);
- **neighbour average**: no learning beyond the independent heads — each zero-shot task gets the
  edge-weighted average of its neighbours' predictions (:mod:`ragviz.inspection.baselines`), the seen tasks'
  predictions coming from the independent model's own heads;
- any ``--variants`` (a ModelConfig/TrainConfig change, e.g. ``decoder=mix``); a value the
  current code does not accept is reported as n/a.

    python benchmarks/generalisation.py --jobs 2            # the full suite (writes GENERALISATION.md)
    python benchmarks/generalisation.py --quick --settings moons-ring-60
    python benchmarks/generalisation.py --variants film decoder=mix

If ``ragviz.training.ensemble.train_ensemble`` exists, the suite also trains an ensemble per setting and
seed and reports the Spearman rank correlation between a zero-shot task's ensemble disagreement
and its error.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import math
import multiprocessing
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ragviz.data.domains import make_graph_data, task_n_classes  # noqa: E402
from ragviz.graph.generators import generate_graph  # noqa: E402
from ragviz.graph.selection import text_value  # noqa: E402
from ragviz.graph.task_graph import TaskGraph  # noqa: E402
from ragviz.graph.tasks import Relation, Task  # noqa: E402
from ragviz.inspection.baselines import baseline_zero_shot  # noqa: E402
from ragviz.model.config import ModelConfig, TrainConfig  # noqa: E402
from ragviz.safety.errors import RagvizError  # noqa: E402
from ragviz.training.train import train  # noqa: E402

REPORT_SEEDS = (101, 102, 103, 104, 105)  # never used for tuning (the lessons were tuned on 0–5)
DEFAULT_STEPS = 500
QUICK_STEPS = 60
OUT = Path(__file__).resolve().parent / "GENERALISATION.md"
ENSEMBLE_K = 5
#: The section ``bench_warning.py`` writes at the end of the report: a rerun of the suite keeps it.
KEPT_SECTION = "## The ensemble's warning"

#: The model and its contrasts. Every baseline is a neighbour average (:mod:`ragviz.inspection.baselines`):
#: harmonic (iterated to its fixed point) over the independent model's heads ("neighbour average") or
#: over RAG's own seen heads ("own-heads average"); over direct seen neighbours only ("direct
#: average"); and, where a relation reverses labels, reversing across it ("reversing average").
METHODS = ("RAG", "no edges", "independent", "neighbour average", "own-heads average", "direct average",
           "reversing average")
BASELINES = ("neighbour average", "own-heads average", "direct average", "reversing average")
#: Relations whose meaning is "the labels are reversed": the reversing average is told them.
REVERSING = ("opposite", "labels flipped")
#: Within these margins of the best baseline a setting counts as a tie (accuracy; MSE ratio).
TIE_ACCURACY = 0.02
TIE_MSE_RATIO = 1.1

#: Extra model variants a run can add as columns: a name, or ``field=value[,field=value]``.
VARIANTS: dict[str, dict[str, Any]] = {
    "film": {"decoder": "film"},
    "mix": {"decoder": "mix"},
    "generated": {"decoder": "generated"},
    "blended": {"decoder": "blended"},
    "relation-blind": {"composition": "none"},
    "3 layers": {"layers": 3},
    "sum": {"aggregation": "sum"},
}


# ------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class Setting:
    """One graph family of the suite; ``build(seed)`` makes the graph with seed-dependent data."""

    key: str
    what: str  # what it varies, in words
    build: Callable[[int], TaskGraph]


def _toy(kind: str, n: int, family: str, zero: Sequence[int], *, vary: str = "rotate", start: float = 0.0,
         stop: float = 360.0, classes: int | None = None, train_size: int = 40, test_size: int = 100,
         rewire: float = 0.0) -> Callable[[int], TaskGraph]:
    base: dict[str, Any] = {"noise": 0.1}
    if classes is not None:
        base["n_classes"] = classes

    def build(seed: int) -> TaskGraph:
        graph = generate_graph(kind, n, family, base_params=base, vary=vary, start=start, stop=stop,
                               relation="near", train_size=train_size, test_size=test_size, zero_shot=list(zero),
                               seed=seed)
        return rewired(graph, rewire, seed) if rewire else graph

    return build


def _sine(n: int, zero: Sequence[int], vary: str, start: float, stop: float) -> Callable[[int], TaskGraph]:
    def build(seed: int) -> TaskGraph:
        return generate_graph("chain", n, "sine", vary=vary, start=start, stop=stop, relation="near",
                              train_size=30, test_size=50, zero_shot=list(zero), seed=seed)

    return build


def _digits(n: int, zero: Sequence[int]) -> Callable[[int], TaskGraph]:
    def build(seed: int) -> TaskGraph:
        return generate_graph("ring", n, "digits_rotated", vary="rotate", start=0.0, stop=360.0, relation="near",
                              train_size=100, test_size=100, zero_shot=list(zero), seed=seed, name_prefix="digits")

    return build


def _opposite(family: str, n: int, zero: Sequence[int], classes: int | None = None) -> Callable[[int], TaskGraph]:
    """A ring whose tasks' labels are reversed at random (seeded); neighbours of equal polarity are
    linked by "near", of opposite polarity by "opposite"."""
    base: dict[str, Any] = {"noise": 0.1}
    if classes is not None:
        base["n_classes"] = classes

    def build(seed: int) -> TaskGraph:
        graph = generate_graph("ring", n, family, base_params=base, vary="rotate", start=0.0, stop=360.0,
                               relation="near", train_size=40, test_size=100, zero_shot=list(zero), seed=seed)
        rng = np.random.default_rng(seed + 7)
        flips = rng.random(n) < 0.5
        flips[0], flips[1] = False, True  # both polarities, always
        graph.add_relation("opposite", False, "#d62728")
        names = graph.task_names()
        for name, flip in zip(names, flips, strict=True):
            graph.update_task(name, params={**graph.task(name).params, "flip": bool(flip)})
        index = {name: i for i, name in enumerate(names)}
        for edge in graph.edges():
            if flips[index[edge.source]] != flips[index[edge.target]]:
                graph.remove_edge(edge.source, edge.target, edge.relation)
                graph.add_edge(edge.source, edge.target, "opposite", edge.weight)
        return graph

    return build


def _uneven(angles: Sequence[float], zero: Sequence[int]) -> Callable[[int], TaskGraph]:
    """Moons round a ring at uneven angles; each edge weighs 30° / the angle between its tasks."""
    def build(seed: int) -> TaskGraph:
        graph = TaskGraph([Relation("near", False, "#1f77b4")])
        for i, angle in enumerate(angles):
            theta = math.radians(angle)
            graph.add_task(Task(f"moons {angle:g}°", "moons", {"rotate": float(angle), "noise": 0.1},
                                0 if i in zero else 40, 100, seed * 1000 + i, (math.cos(theta), math.sin(theta))))
        names = graph.task_names()
        for i in range(len(angles)):
            j = (i + 1) % len(angles)
            gap = (angles[j] - angles[i]) % 360.0
            graph.add_edge(names[i], names[j], "near", round(30.0 / gap, 4))
        return graph

    return build


def _with_noise_relation(build_ring: Callable[[int], TaskGraph], extra: int) -> Callable[[int], TaskGraph]:
    """``build_ring``'s graph plus ``extra`` edges of an uninformative relation between random pairs."""
    def build(seed: int) -> TaskGraph:
        graph = build_ring(seed)
        graph.add_relation("random", False, "#7f7f7f")
        names = graph.task_names()
        rng = np.random.default_rng(seed + 11)
        taken = {frozenset((e.source, e.target)) for e in graph.edges()}
        added = 0
        while added < extra:
            a, b = (int(i) for i in rng.choice(len(names), size=2, replace=False))
            if frozenset((names[a], names[b])) in taken:
                continue
            taken.add(frozenset((names[a], names[b])))
            graph.add_edge(names[a], names[b], "random")
            added += 1
        return graph

    return build


def _sine_two_gaps(n: int, gaps: Sequence[int]) -> Callable[[int], TaskGraph]:
    """A sine chain whose amplitude (0.5 → 2) and phase (0 → π) change together; ``gaps`` zero-shot."""
    def build(seed: int) -> TaskGraph:
        graph = generate_graph("chain", n, "sine", vary="phase", start=0.0, stop=math.pi, relation="near",
                               train_size=30, test_size=50, zero_shot=list(gaps), seed=seed)
        for i, name in enumerate(graph.task_names()):
            graph.update_task(name, params={**graph.task(name).params, "amplitude": 0.5 + 1.5 * i / (n - 1)})
        return graph

    return build


def _digits_steps(n: int, zero: Sequence[int]) -> Callable[[int], TaskGraph]:
    def build(seed: int) -> TaskGraph:
        return generate_graph("ring", n, "digits_rotated", vary="rotate", start=0.0, stop=360.0, relation="near",
                              train_size=100, test_size=100, zero_shot=list(zero), seed=seed, name_prefix="digits")

    return build


def rewired(graph: TaskGraph, fraction: float, seed: int) -> TaskGraph:
    """A copy of ``graph`` with ``fraction`` of its edges moved to random pairs of tasks.

    The moved edges keep their relation and weight and land on distinct pairs that had no
    edge, so the edge count is unchanged and every moved edge is wrong. Every method, the baseline included, sees the
    same wrong edges.
    """
    out = graph.copy()
    edges = out.edges()
    rng = np.random.default_rng(seed)
    k = int(round(fraction * len(edges)))
    names = out.task_names()
    moved = [edges[int(i)] for i in rng.choice(len(edges), size=k, replace=False)]
    for edge in moved:
        out.remove_edge(edge.source, edge.target, edge.relation)
    taken = {frozenset((e.source, e.target)) for e in edges}  # a moved edge never lands on a right pair
    free = [(a, b) for a in range(len(names)) for b in range(a + 1, len(names))
            if frozenset((names[a], names[b])) not in taken]
    if len(free) < k:
        raise ValueError(f"Too few free pairs of tasks to rewire {k} edges.")
    for edge, pick in zip(moved, rng.choice(len(free), size=k, replace=False), strict=True):
        a, b = free[int(pick)]
        out.add_edge(names[a], names[b], edge.relation, edge.weight)
    return out


SETTINGS: dict[str, Setting] = {s.key: s for s in (
    Setting("moons-ring-45", "moons, 45° steps, 2 of 8 zero-shot", _toy("ring", 8, "moons", (2, 6))),
    Setting("moons-ring-60", "moons, 60° steps, 1 of 6 zero-shot", _toy("ring", 6, "moons", (2,))),
    Setting("moons-ring-90", "moons, 90° steps, 1 of 4 zero-shot (its neighbours are a seen task's too)",
            _toy("ring", 4, "moons", (1,))),
    Setting("moons-adjacent", "moons, 30° steps, two adjacent zero-shot tasks", _toy("ring", 12, "moons", (3, 4))),
    Setting("moons-chain-interp", "moons chain 0–210°, 30° steps, zero-shot inside (interpolation)",
            _toy("chain", 8, "moons", (4,), stop=210.0)),
    Setting("moons-chain-1hop", "moons chain 0–210°, last task zero-shot (1-hop extrapolation)",
            _toy("chain", 8, "moons", (7,), stop=210.0)),
    Setting("moons-chain-2hop", "moons chain 0–210°, last two zero-shot (1- and 2-hop extrapolation)",
            _toy("chain", 8, "moons", (6, 7), stop=210.0)),
    Setting("circles-shift", "circles chain, centre shifted −1 → 1", _toy("chain", 9, "circles", (2, 6), vary="shift_x",
                                                                          start=-1.0, stop=1.0)),
    Setting("xor-ring-15", "xor, 15° steps, 2 of 24 zero-shot", _toy("ring", 24, "xor", (5, 17))),
    Setting("linear-ring-30", "linear, 30° steps", _toy("ring", 12, "linear", (2, 7))),
    Setting("blobs4-ring-30", "blobs, 4 classes, 30° steps", _toy("ring", 12, "blobs", (3, 8), classes=4)),
    Setting("blobs6-ring-30", "blobs, 6 classes, 30° steps", _toy("ring", 12, "blobs", (3, 8), classes=6)),
    Setting("spiral2-ring-30", "spiral, 2 classes, 30° steps", _toy("ring", 12, "spiral", (3, 8), classes=2)),
    Setting("spiral5-ring-15", "spiral, 5 classes, 15° steps", _toy("ring", 24, "spiral", (4, 16), classes=5)),
    Setting("sine-phase-chain", "sine chain, phase 0 → π, one inside and two adjacent zero-shot",
            _sine(16, (5, 10, 11), "phase", 0.0, math.pi)),
    Setting("sine-amplitude-end", "sine chain, amplitude 0.5 → 2, last task zero-shot (extrapolation)",
            _sine(10, (9,), "amplitude", 0.5, 2.0)),
    Setting("digits-ring-45", "rotated digits, 45° steps, 10 classes, 1 of 8 zero-shot", _digits(8, (2,))),
    Setting("moons-rewired-25", "moons, 30° steps, 25% of edges rewired at random",
            _toy("ring", 12, "moons", (3, 8), rewire=0.25)),
    Setting("moons-rewired-50", "moons, 30° steps, 50% of edges rewired at random",
            _toy("ring", 12, "moons", (3, 8), rewire=0.5)),
    # issue #19's failure classes
    Setting("moons-chain-3hop", "moons chain 0–210°, last three zero-shot (3 hops from data, 2 layers)",
            _toy("chain", 8, "moons", (5, 6, 7), stop=210.0)),
    Setting("moons-adjacent-3", "moons, 30° steps, three adjacent zero-shot tasks",
            _toy("ring", 12, "moons", (4, 5, 6))),
    Setting("sine-two-gaps", "sine chain, amplitude and phase change together, two gaps of two zero-shot tasks",
            _sine_two_gaps(12, (3, 4, 8, 9))),
    Setting("circles-opposite", "circles ring, labels reversed at random, \"opposite\" relations",
            _opposite("circles", 12, (3, 8))),
    Setting("spiral3-opposite", "3-class spiral ring, 30° steps, labels reversed at random, \"opposite\" relations",
            _opposite("spiral", 12, (3, 8), classes=3)),
    Setting("blobs4-opposite", "4-class blobs ring, 30° steps, labels reversed at random, \"opposite\" relations",
            _opposite("blobs", 12, (3, 8), classes=4)),
    Setting("moons-uneven", "moons at uneven angles, edges weighted by closeness",
            _uneven((0, 20, 60, 75, 130, 180, 200, 250, 290, 330), (2, 6))),
    Setting("moons-noise-relation", "moons, 30° steps, plus 8 edges of an uninformative relation",
            _with_noise_relation(_toy("ring", 12, "moons", (3, 8)), 8)),
    Setting("digits-ring-36", "rotated digits, 36° steps, 10 classes, 2 of 10 zero-shot", _digits_steps(10, (2, 7))),
)}


# ------------------------------------------------------------------------------- variants
def parse_variant(spec: str) -> tuple[str, dict[str, Any]]:
    """A registered variant name, or ``field=value[,field=value]`` (numbers and true/false parsed)."""
    if spec in VARIANTS:
        return spec, dict(VARIANTS[spec])
    changes: dict[str, Any] = {}
    for part in spec.split(","):
        if "=" not in part:
            raise SystemExit(f"Unknown variant {spec!r}: use one of {', '.join(VARIANTS)} or field=value.")
        key, value = (s.strip() for s in part.split("=", 1))
        changes[key] = text_value(value)
    return spec, changes


def variant_configs(changes: dict[str, Any], model: ModelConfig, train_cfg: TrainConfig
                    ) -> tuple[ModelConfig, TrainConfig] | str:
    """The configs with ``changes`` applied, or why the current code does not accept them."""
    model_fields = {f.name for f in fields(ModelConfig)}
    train_fields = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(changes) - model_fields - train_fields)
    if unknown:
        return f"no setting {', '.join(unknown)}"
    try:
        m = replace(model, **{k: v for k, v in changes.items() if k in model_fields}).validated()
        t = replace(train_cfg, **{k: v for k, v in changes.items() if k in train_fields}).validated()
    except RagvizError as error:
        return str(error)
    return m, t


# ------------------------------------------------------------------------------- one job
def _zero_shot_metrics(graph: TaskGraph, history: Any) -> dict[str, float]:
    final = history.final_metrics()
    return {t.name: float(final[t.name]) for t in graph.tasks() if t.zero_shot}


def chance(graph: TaskGraph) -> tuple[float, bool]:
    """(chance level, lower is better): 1/classes for accuracy; the targets' variance for MSE."""
    zero = [t for t in graph.tasks() if t.zero_shot]
    counts = [task_n_classes(t) for t in zero]
    if counts and min(counts) > 0:
        return float(np.mean([1.0 / c for c in counts])), False
    data = make_graph_data(graph)
    return float(np.mean([np.var(data[t.name].y_test) for t in zero])), True


def run_job(key: str, seed: int, steps: int, variants: Sequence[tuple[str, dict[str, Any]]],
            ensemble: bool) -> dict[str, Any]:
    """Train every method on one setting and seed; per zero-shot task metrics of each."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    graph = SETTINGS[key].build(seed)
    model_cfg = ModelConfig()
    train_cfg = TrainConfig(steps=steps, seed=seed, device="cpu", eval_every=steps)
    rag = train(graph, model_cfg, train_cfg)
    no_edges = train(graph, model_cfg, train_cfg, edges=[])
    independent = train(graph, replace(model_cfg, decoder="independent"), train_cfg)
    reversing = [r for r in graph.relations if r in REVERSING]
    per_task = {
        "RAG": _zero_shot_metrics(graph, rag.history),
        "no edges": _zero_shot_metrics(graph, no_edges.history),
        "independent": _zero_shot_metrics(graph, independent.history),
        "neighbour average": baseline_zero_shot(independent.model, graph),
        "own-heads average": baseline_zero_shot(rag.model, graph),
        "direct average": baseline_zero_shot(independent.model, graph, direct=True),
    }
    if reversing:
        per_task["reversing average"] = baseline_zero_shot(independent.model, graph, reversing=reversing)
    notes: dict[str, str] = {}
    for name, changes in variants:
        configs = variant_configs(changes, model_cfg, train_cfg)
        if isinstance(configs, str):
            notes[name] = configs
            continue
        per_task[name] = _zero_shot_metrics(graph, train(graph, *configs).history)
    level, lower = chance(graph)
    out = {"key": key, "seed": seed, "per_task": per_task, "notes": notes, "chance": level,
           "lower_is_better": lower, "disagreement": None}
    if ensemble:
        out["disagreement"] = _disagreement(graph, model_cfg, train_cfg, seed)
    out["seconds"] = time.perf_counter() - start
    return out


def ensemble_trainer() -> Callable[..., Any] | None:
    """``ragviz.training.ensemble.train_ensemble`` when that module exists, else None."""
    try:
        module = importlib.import_module("ragviz.training.ensemble")
    except ImportError:
        return None
    return getattr(module, "train_ensemble", None)


def _disagreement(graph: TaskGraph, model_cfg: ModelConfig, train_cfg: TrainConfig, seed: int) -> dict[str, float]:
    trainer = ensemble_trainer()
    if trainer is None:
        return {}
    found = trainer(graph, model_cfg, train_cfg, ENSEMBLE_K, seed).disagreement()
    zero = {t.name for t in graph.tasks() if t.zero_shot}
    return {name: float(value) for name, value in found.items() if name in zero}


# ------------------------------------------------------------------------------- the suite
def run_suite(keys: Sequence[str], seeds: Sequence[int], steps: int, jobs: int = 1,
              variants: Sequence[tuple[str, dict[str, Any]]] = (), ensemble: bool = False,
              progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Every (setting, seed) job's result, in setting then seed order."""
    todo = [(key, seed) for key in keys for seed in seeds]
    say = progress or (lambda _msg: None)
    results: dict[tuple[str, int], dict[str, Any]] = {}

    def done(result: dict[str, Any]) -> None:
        results[(result["key"], result["seed"])] = result
        means = ", ".join(f"{m} {_mean(result['per_task'][m]):.3f}" for m in METHODS if m in result["per_task"])
        say(f"[{len(results)}/{len(todo)}] {result['key']} seed {result['seed']}: {means} "
            f"({result['seconds']:.1f} s)")

    if jobs <= 1 or len(todo) == 1:
        for key, seed in todo:
            done(run_job(key, seed, steps, variants, ensemble))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
            futures = [pool.submit(run_job, key, seed, steps, variants, ensemble) for key, seed in todo]
            for future in futures:
                done(future.result())
    return [results[job] for job in todo]


def _mean(per_task: dict[str, float]) -> float:
    values = [v for v in per_task.values() if math.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def summarise(results: Sequence[dict[str, Any]], variant_names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per setting: each method's mean, std and worst seed, and the verdicts."""
    rows = []
    for key in dict.fromkeys(r["key"] for r in results):
        mine = [r for r in results if r["key"] == key]
        lower = mine[0]["lower_is_better"]
        level = float(np.mean([r["chance"] for r in mine]))
        row: dict[str, Any] = {"key": key, "what": SETTINGS[key].what, "seeds": [r["seed"] for r in mine],
                               "metric": "MSE" if lower else "accuracy", "lower_is_better": lower, "chance": level,
                               "methods": {}, "notes": {}}
        for method in (*METHODS, *variant_names):
            if method == "reversing average" and all(method not in r["per_task"] for r in mine):
                continue  # no relation of this setting reverses labels
            if any(method not in r["per_task"] for r in mine):
                row["notes"][method] = next((r["notes"].get(method) for r in mine if method in r["notes"]), "n/a")
                continue
            values = [_mean(r["per_task"][method]) for r in mine]
            worst = max(values) if lower else min(values)
            row["methods"][method] = {"values": values, "mean": float(np.mean(values)), "std": float(np.std(values)),
                                      "worst": worst}
        rag, none, base = (row["methods"][m]["mean"] for m in ("RAG", "no edges", "neighbour average"))
        sign = -1.0 if lower else 1.0
        row["beats_no_edges"] = sign * (rag - none) > 0
        row["at_least_baseline"] = sign * (rag - base) >= 0
        row["best_baseline"], row["verdict"] = verdict(row["methods"], lower)
        row["below_chance"] = sign * (rag - level) < 0
        row["worst_below_chance"] = sign * (row["methods"]["RAG"]["worst"] - level) < 0
        rows.append(row)
    return rows


def verdict(methods: dict[str, dict[str, Any]], lower: bool) -> tuple[str, str]:
    """(the best baseline, "win" / "tie" / "loss" of RAG's mean against it within the tie margins)."""
    present = [m for m in BASELINES if m in methods]
    sign = -1.0 if lower else 1.0
    best = max(present, key=lambda m: sign * methods[m]["mean"])
    rag, other = methods["RAG"]["mean"], methods[best]["mean"]
    if sign * (rag - other) > 0:
        return best, "win"
    tied = rag <= other * TIE_MSE_RATIO if lower else rag >= other - TIE_ACCURACY
    return best, "tie" if tied else "loss"


def spearman(results: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Rank correlation of zero-shot tasks' ensemble disagreement with the RAG's error, pooled.

    Error is 1 − accuracy, or MSE; None when no result carries disagreement.
    """
    pairs = []
    for r in results:
        found = r.get("disagreement") or {}
        for task, value in found.items():
            metric = r["per_task"]["RAG"].get(task, float("nan"))
            error = metric if r["lower_is_better"] else 1.0 - metric
            if math.isfinite(error) and math.isfinite(value):
                pairs.append((value, error))
    if len(pairs) < 3:
        return None
    from scipy.stats import spearmanr

    rho, p = spearmanr([a for a, _ in pairs], [b for _, b in pairs])
    return {"rho": float(rho), "p": float(p), "n": len(pairs)}


def _cell(method: dict[str, Any] | None) -> str:
    if method is None:
        return "n/a"
    return f"{method['mean']:.3f} ± {method['std']:.3f} (worst {method['worst']:.3f})"


def markdown_table(rows: Sequence[dict[str, Any]], variant_names: Sequence[str] = ()) -> str:
    """The suite's table: one row per setting, every method's mean ± std (worst seed), verdicts."""
    columns = (*METHODS, *variant_names)
    head = ["setting", "metric", "chance", *columns, "RAG > no edges", "against the best baseline", "RAG below chance"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    for row in rows:
        cells = [f"`{row['key']}`: {row['what']}", row["metric"] + (" ↓" if row["lower_is_better"] else " ↑"),
                 f"{row['chance']:.3f}"]
        cells += [_cell(row["methods"].get(m)) for m in columns]
        below = "**yes**" if row["below_chance"] else ("worst seed" if row["worst_below_chance"] else "no")
        against = row["verdict"] if row["verdict"] != "loss" else "**loss**"
        cells += ["yes" if row["beats_no_edges"] else "**no**", f"{against} ({row['best_baseline']})", below]
        lines.append("| " + " | ".join(cells) + " |")
    notes = {m: note for row in rows for m, note in row["notes"].items()}
    for method, note in notes.items():
        lines.append(f"\nn/a in column *{method}*: the current code does not accept it ({note})")
    return "\n".join(lines)


def report(rows: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]], variant_names: Sequence[str],
           command: str, seconds: float, steps: int, ensemble_line: str, load: float | None = None) -> str:
    """The whole GENERALISATION.md text."""
    n = len(rows)
    beats = sum(r["beats_no_edges"] for r in rows)
    wins, ties, losses = (sum(r["verdict"] == v for r in rows) for v in ("win", "tie", "loss"))
    below = [r["key"] for r in rows if r["below_chance"]]
    seeds = sorted({s for r in rows for s in r["seeds"]})
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    shared = "" if load is None else f" The 1-minute load average at the end of the run was {load:.1f}."
    return f"""# Zero-shot beyond the lessons: the generalisation suite

Command: `{command}` — run {when}, {seconds:.0f} s on the CPU ({os.cpu_count()} logical cores,
torch {torch.__version__}, Python {platform.python_version()}, one torch thread per process).{shared}

Every setting is a graph none of the lessons uses. Each is run on seeds {', '.join(map(str, seeds))}: a seed
sets both the data (every task's seed is `seed·1000 + index`; rewired edges are drawn from it) and the model
(initialisation and training draws). These seeds were not used to tune anything. Every method trains with the
default `ModelConfig()` and `TrainConfig(steps={steps})`.

- **RAG**: the default model (`ModelConfig()`: the propagated start and close, the `linear` decoder).
  **no edges**: the same model with every edge removed.
- **independent**: one head per seen task on a shared encoder; a zero-shot task has no head (all-zero logits),
  so it always predicts class 0 and scores that class's share, not chance.
- The baselines, none learned beyond the heads they average (`ragviz/inspection/baselines.py`):
  - **neighbour average**: each zero-shot task gets the edge-weighted average of its neighbours' predictions
    (probabilities or regression outputs), zero-shot neighbours filled in to the fixed point (the harmonic
    extension), over the *independent* model's heads; relation types are ignored.
  - **own-heads average**: the same over RAG's own seen heads.
  - **direct average**: only a zero-shot task's seen neighbours, over the independent heads.
  - **reversing average** (settings with an "opposite" relation): the harmonic average that reverses a
    prediction's labels each time it crosses an "opposite" edge, over the independent heads.

Each cell is the mean ± std over seeds of the mean zero-shot metric, and the worst seed. *chance* is 1/classes
(accuracy) or the variance of the zero-shot tasks' targets (MSE of predicting their mean). *RAG > no edges* compares
means; *against the best baseline* compares RAG's mean with the best baseline's: a win, a tie (within
{TIE_ACCURACY} accuracy or {TIE_MSE_RATIO}× MSE) or a **loss**; *RAG below chance* is **yes** when the mean is
worse than chance, "worst seed" when only the worst seed is.

## Results

{markdown_table(rows, variant_names)}

Summary: RAG's mean beats no edges in {beats} of {n} settings. Against the best baseline of each setting it
wins {wins}, ties {ties} (within {TIE_ACCURACY} accuracy or {TIE_MSE_RATIO}× MSE) and loses {losses}; its mean is
below chance in {len(below)} ({', '.join(below) or 'none'}).

## Ensemble disagreement and error

{ensemble_line}
"""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--settings", nargs="*", default=None, help=f"keys (default: all): {', '.join(SETTINGS)}")
    parser.add_argument("--seeds", nargs="*", type=int, default=list(REPORT_SEEDS))
    parser.add_argument("--steps", type=int, default=None, help=f"training steps (default {DEFAULT_STEPS})")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes (one torch thread each)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps and the first seed only")
    parser.add_argument("--variants", nargs="*", default=[],
                        help=f"extra model columns: {', '.join(VARIANTS)}, or field=value[,field=value]")
    parser.add_argument("--no-ensemble", action="store_true", help="skip the ensemble check even if it exists")
    parser.add_argument("--out", type=Path, default=None, help=f"markdown report (default {OUT.name}; none in quick)")
    args = parser.parse_args(argv)
    keys = args.settings or list(SETTINGS)
    unknown = [k for k in keys if k not in SETTINGS]
    if unknown:
        raise SystemExit(f"Unknown setting(s) {', '.join(unknown)}; choose from {', '.join(SETTINGS)}.")
    seeds = args.seeds[:1] if args.quick else args.seeds
    steps = args.steps or (QUICK_STEPS if args.quick else DEFAULT_STEPS)
    variants = [parse_variant(v) for v in args.variants]
    names = [name for name, _ in variants]
    ensemble = not args.no_ensemble and ensemble_trainer() is not None
    start = time.perf_counter()
    results = run_suite(keys, seeds, steps, args.jobs, variants, ensemble, progress=print)
    seconds = time.perf_counter() - start
    rows = summarise(results, names)
    print()
    print(markdown_table(rows, names))
    if ensemble:
        found = spearman(results)
        line = ("Too few zero-shot tasks with a disagreement to correlate." if found is None else
                f"Spearman ρ = {found['rho']:.3f} (p = {found['p']:.2g}) between a zero-shot task's ensemble "
                f"disagreement (K = {ENSEMBLE_K}) and the RAG's error (1 − accuracy, or MSE) over {found['n']} "
                "zero-shot tasks of all settings and seeds.")
    else:
        line = ("Unavailable: `ragviz.training.ensemble.train_ensemble` does not exist in this tree."
                if not args.no_ensemble
                else "Skipped (--no-ensemble).")
    print(line)
    print(f"\n{seconds:.0f} s")
    out = args.out or (None if args.quick else OUT)
    if out is not None:
        command = "python benchmarks/generalisation.py " + " ".join(argv if argv is not None else sys.argv[1:])
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        before = out.read_text(encoding="utf-8") if out.exists() else ""
        kept = before[before.index(KEPT_SECTION):] if KEPT_SECTION in before else ""  # bench_warning.py's section
        text = report(rows, results, names, command.strip(), seconds, steps, line, load)
        out.write_text(text + ("\n" + kept if kept else ""), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
