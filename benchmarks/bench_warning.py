"""The ensemble's warning ("this zero-shot prediction is a guess"): calibrated on tuning seeds, judged on report seeds.

For each setting of the generalisation suite (``generalisation.py``) and seed it trains the ensemble
as the app does (``train_ensemble``, K = 5, the default ``ModelConfig()``, ``TrainConfig(steps=500)``;
member k from seed + k) and records, per task, the members' spread (:mod:`ragviz.training.guess`) and
member 0's zero-shot metric. Member 0 is the model a user trains with that seed (same initialisation
and draws as ``train``; ``tests/test_ensemble.py`` checks they agree). For regression settings it also
trains the no-edges model, since "wrong" there means an MSE above half the no-edges model's.

The thresholds are chosen on the tuning seeds only (the most recall whose false alarms stay within
``--max-false-alarms``), then applied unchanged to the report seeds, where precision, recall and the
false-alarm rate are counted over every zero-shot task. The text lesson's graph (its own model and
training settings, its seeds 11–15) is judged with the calibrated class rule too, apart: text tasks are
classes on the frozen encoder's vectors and take the same path.

    python benchmarks/bench_warning.py --records benchmarks/warning_records.jsonl   # resume / reuse records
    python benchmarks/bench_warning.py --settings moons-ring-60 sine-amplitude-end --tuning-seeds 0 1 --report-seeds 101
    python benchmarks/bench_warning.py --quick                                        # smoke run, seconds

Records (one JSON line per setting and seed) are appended as they are made, so an interrupted run resumes;
``--out`` writes the markdown section (default: print only).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import add_quick, quick
from generalisation import SETTINGS  # noqa: E402

from ragviz.lessons.text_lesson import SEEDS as TEXT_SEEDS  # noqa: E402
from ragviz.lessons.text_lesson import TEXT_LESSON, text_task_graph  # noqa: E402
from ragviz.model.config import ModelConfig, TrainConfig  # noqa: E402
from ragviz.training.ensemble import train_ensemble  # noqa: E402
from ragviz.training.guess import (  # noqa: E402
    CLASS_RULE,
    REGRESSION_RULE,
    Case,
    GuessRule,
    Quality,
    calibrate,
    class_spread,
    flag_case,
    hops_beyond_data,
    is_wrong,
    output_scale,
    regression_spread,
    warning_quality,
)
from ragviz.training.train import train  # noqa: E402

TUNING_SEEDS = (0, 1, 2, 3, 4, 5)
REPORT_SEEDS = (101, 102, 103, 104, 105)
K = 5
STEPS = 500
#: The calibration's limit on false alarms (share of right zero-shot predictions flagged): the issue's 10 %.
MAX_FALSE_ALARMS = 0.10
#: The candidate thresholds calibration chooses among (inf: that part of the rule is off).
MARGINS = (1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, math.inf)
ABSOLUTES = (0.1, 0.12, 0.15, 0.17, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, math.inf)
MAX_HOPS = (1, 2, math.inf)
#: The text lesson's graph: judged with the calibrated class rule, not used to calibrate it.
TEXT = "text-lesson"
QUALITY_FIELDS = [f.name for f in fields(Quality)]


# --------------------------------------------------------------------------- one run
def job(key: str, seed: int, steps: int = STEPS, k: int = K) -> dict[str, Any]:
    """Train the ensemble (and for regression the no-edges model) on one setting and seed; the record.

    ``key`` :data:`TEXT` is the text lesson's graph with the lesson's own model and training settings.
    """
    torch.set_num_threads(1)
    start = time.process_time()
    if key == TEXT:
        graph, model_cfg = text_task_graph(seed), TEXT_LESSON.model
        tc = dataclasses.replace(TEXT_LESSON.train, seed=seed, device="cpu", eval_every=TEXT_LESSON.train.steps)
    else:
        graph, model_cfg = SETTINGS[key].build(seed), ModelConfig()
        tc = TrainConfig(steps=steps, seed=seed, device="cpu", eval_every=steps)
    ensemble = train_ensemble(graph, model_cfg, tc, k, seed)
    prep = ensemble._prepared(None, None)
    outputs = ensemble.predict_tasks()
    bounds = np.cumsum(prep.test.counts.numpy())[:-1]
    targets = dict(zip(prep.g.names, np.split(prep.test.y.numpy(), bounds), strict=True))
    zero = {t.name for t in graph.tasks() if t.zero_shot}
    hops = hops_beyond_data(graph.task_names(), [(e.source, e.target) for e in graph.edges()], zero)
    record: dict[str, Any] = {"key": key, "seed": seed, "regression": ensemble.regression, "tasks": {}}
    if ensemble.regression:
        record["scale"] = output_scale(np.concatenate([targets[n] for n in targets if n not in zero]))
        no_edges = train(graph, model_cfg, tc, edges=[]).history.final_metrics()
    for name, out in outputs.items():
        y = targets[name]
        task: dict[str, Any] = {"zero": name in zero, "hops": hops[name]}
        if ensemble.regression:
            task["metric"] = float(((out[0] - y) ** 2).mean())
            task["spread"] = regression_spread(out, record["scale"])
            task["no_edges"] = float(no_edges[name])
        else:
            task["metric"] = float((out[0].argmax(-1) == y).mean())
            task["spread"] = class_spread(out)
        record["tasks"][name] = task
    record["cpu_s"] = time.process_time() - start
    return record


def collect(keys: Sequence[str], seeds: Sequence[int], records: Path | None, steps: int, k: int,
            say: Any = print) -> list[dict[str, Any]]:
    """Every (setting, seed)'s record, seed by seed; those already in ``records`` are reused, new ones appended."""
    found: dict[tuple[str, int], dict[str, Any]] = {}
    if records is not None and records.exists():
        for line in records.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                found[(r["key"], r["seed"])] = r
    for seed, key in itertools.product(seeds, keys):
        if (key, seed) in found:
            continue
        r = job(key, seed, steps, k)
        found[(key, seed)] = r
        if records is not None:
            with records.open("a", encoding="utf-8") as f:
                f.write(json.dumps(r) + "\n")
        say(f"{key} seed {seed}: {r['cpu_s']:.1f} s CPU")
    return [found[(key, seed)] for seed, key in itertools.product(seeds, keys)]


# --------------------------------------------------------------------------- judging
def cases(records: Iterable[dict[str, Any]], regression: bool) -> list[tuple[dict[str, Any], str, Case]]:
    """(record, zero-shot task, calibration case) for every zero-shot task of the records of one kind."""
    out = []
    for r in records:
        if r["regression"] != regression:
            continue
        tasks = r["tasks"]
        seen = tuple(t["spread"] for t in tasks.values() if not t["zero"])
        for name, t in tasks.items():
            if t["zero"]:
                wrong = is_wrong(t["metric"], regression, t.get("no_edges"))
                out.append((r, name, Case(t["spread"], seen, t["hops"], wrong)))
    return out


def candidates() -> list[GuessRule]:
    return [GuessRule(m, a, h) for m, a, h in itertools.product(MARGINS, ABSOLUTES, MAX_HOPS)]


def judge(found: Sequence[tuple[dict[str, Any], str, Case]], rule: GuessRule) -> dict[str, Any]:
    flags = [flag_case(c, rule) for _, _, c in found]
    quality = warning_quality(flags, [c.wrong for _, _, c in found])
    labelled = [(f"{r['key']} {r['seed']} {name}", c.wrong, f) for (r, name, c), f in zip(found, flags, strict=True)]
    missed = [label for label, wrong, flag in labelled if wrong and not flag]
    false = [label for label, wrong, flag in labelled if flag and not wrong]
    return {"quality": quality, "missed": missed, "false": false, "n": len(found)}


def _pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.0%}"


def _row(what: str, result: dict[str, Any]) -> str:
    q = result["quality"]
    wrong, right = q.flagged_wrong + q.missed, q.flagged_right + q.quiet_right
    return (f"| {what} | {result['n']} | {wrong} | {q.flagged_wrong} of {wrong} = **{_pct(q.recall)}** | "
            f"{q.flagged_right} of {right} = **{_pct(q.false_alarm_rate)}** | {_pct(q.precision)} |")


def section(command: str, rules: dict[str, GuessRule], tuned: dict[str, dict[str, Any]],
            reported: dict[str, dict[str, Any]], texts: dict[str, dict[str, Any]], keys: Sequence[str],
            tuning: Sequence[int],
            report_seeds: Sequence[int], cpu_s: float, steps: int, k: int, records: str = "not kept") -> str:
    """The markdown section for GENERALISATION.md."""
    head = ("| seeds, kind | zero-shot tasks | wrong | recall (wrong ones flagged) | false alarms (right ones "
            "flagged) | precision |\n| --- | --- | --- | --- | --- | --- |")
    lines = [head]
    for label, results in (("tuning", tuned), ("report", reported)):
        for kind in ("classes", "regression", "all"):
            if kind in results:
                lines.append(_row(f"{label}, {kind}", results[kind]))
    if texts:
        lines.append(_row("text lesson (its seeds; not calibrated on)", texts["classes"]))
    text_note = ("" if not texts else "\nText lesson: missed " + ("; ".join(texts["classes"]["missed"]) or "none")
                 + "; false alarms " + ("; ".join(texts["classes"]["false"]) or "none") + ".\n")
    misses = "; ".join(reported["all"]["missed"]) or "none"
    false = "; ".join(reported["all"]["false"]) or "none"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"""## The ensemble's warning: precision and recall

Command: `{command}` ({cpu_s / 60:.0f} min of CPU for the runs, one torch thread; load average {load:.1f}
when the figures were written). Settings: {len(keys)} ({', '.join(f'`{k_}`' for k_ in keys)}).
The runs' records are {records}: one JSON line per setting and seed, reused by a rerun of the command
(which then only recalibrates and counts); without them it retrains everything.
Tuning seeds {', '.join(map(str, tuning))}; report seeds {', '.join(map(str, report_seeds))}.

**Method.** Per setting and seed, the ensemble the app trains (K = {k}, default `ModelConfig()`,
`TrainConfig(steps={steps})`, member k from seed + k). Its warning (`ragviz/training/guess.py`) reads the
members' *spread* on a task's test points: for classes (text tasks included: they are classes on the
frozen encoder's vectors, the same path) the share of member pairs naming different classes over the
most {k} members can disagree across the task's classes; for regression the members' std over the
output scale (the std of the seen tasks' targets). A zero-shot task is flagged when its spread exceeds
*margin* × the largest seen task's, or reaches *absolute*, or when it is more than *max hops*
relations beyond the data: off an end of it, its group of linked data-less tasks touching only one
task with data (there the members agree on the same extrapolation, right or wrong); a task between
tasks with data is never flagged for its distance.
A zero-shot prediction is **wrong** when member 0's accuracy is below 0.75, or its MSE above half the
no-edges model's on that task (member 0 is the model a user trains with that seed). The thresholds
are the candidates ({len(MARGINS)} margins × {len(ABSOLUTES)} absolutes × {len(MAX_HOPS)} hop limits) with
the most recall on the **tuning seeds** whose false alarms stay within {MAX_FALSE_ALARMS:.0%}, chosen per
kind; the report seeds were not looked at until they were fixed.

Calibrated: {'; '.join(f'{kind} {rule.describe()}' for kind, rule in rules.items()) or 'nothing'}.

{chr(10).join(lines)}

*Recall*: share of the wrong zero-shot predictions that were flagged (target ≥ 80 %). *False alarms*:
share of the right ones that were flagged anyway (target ≤ 10 %). *Precision*: share of the flags that
were on a wrong prediction.

Missed on the report seeds: {misses}.
False alarms on the report seeds: {false}.
{text_note}"""


def replace_section(document: str, section_text: str) -> str:
    """``document`` with the section that starts like ``section_text``'s heading replaced by it (up to the next
    ``## `` heading), or with it appended."""
    heading = section_text.split("\n", 1)[0]
    start = document.find(heading + "\n")
    if start < 0:
        return document.rstrip("\n") + ("\n\n" if document.strip() else "") + section_text
    end = document.find("\n## ", start + len(heading))
    rest = "" if end < 0 else document[end + 1:]
    return document[:start] + section_text.rstrip("\n") + "\n" + ("\n" + rest if rest else "")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--settings", nargs="*", default=None, help="keys of generalisation.py (default: all)")
    parser.add_argument("--tuning-seeds", nargs="*", type=int, default=list(TUNING_SEEDS))
    parser.add_argument("--report-seeds", nargs="*", type=int, default=list(REPORT_SEEDS))
    parser.add_argument("--text-seeds", nargs="*", type=int, default=list(TEXT_SEEDS),
                        help="seeds of the text lesson's graph to judge the class rule on (its own settings)")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--records", type=Path, default=None, help="JSON lines to reuse and extend")
    parser.add_argument("--out", type=Path, default=None,
                        help="put the markdown section into this file (replacing its old one, or appended)")
    add_quick(parser)
    args = quick(parser.parse_args(argv), settings=["moons-ring-60", "sine-amplitude-end"], tuning_seeds=[0],
                 report_seeds=[101], text_seeds=[], steps=20, k=2, records=None, out=None)
    keys = args.settings or list(SETTINGS)
    unknown = [key for key in keys if key not in SETTINGS]
    if unknown:
        raise SystemExit(f"Unknown setting(s) {', '.join(unknown)}; choose from {', '.join(SETTINGS)}.")
    tuning = collect(keys, args.tuning_seeds, args.records, args.steps, args.k)
    report = collect(keys, args.report_seeds, args.records, args.steps, args.k)
    text_runs = collect([TEXT], args.text_seeds, args.records, args.steps, args.k)
    rules, tuned, reported = {}, {}, {}
    for kind, regression, default in (("classes", False, CLASS_RULE), ("regression", True, REGRESSION_RULE)):
        tune_cases, report_cases = cases(tuning, regression), cases(report, regression)
        if not tune_cases and not report_cases:
            continue
        rules[kind] = calibrate([c for _, _, c in tune_cases], candidates(), MAX_FALSE_ALARMS) \
            if tune_cases else default
        tuned[kind] = judge(tune_cases, rules[kind])
        reported[kind] = judge(report_cases, rules[kind])
        print(f"{kind}: calibrated {rules[kind].describe()} (shipped: {default.describe()})")
    texts = {}
    if text_runs:
        texts["classes"] = judge(cases(text_runs, False), rules.get("classes", CLASS_RULE))
        texts["all"] = texts["classes"]
    for results in (tuned, reported):
        parts = list(results.values())
        results["all"] = {"quality": Quality(*(sum(getattr(p["quality"], f) for p in parts) for f in QUALITY_FIELDS)),
                          "missed": [m for p in parts for m in p["missed"]],
                          "false": [m for p in parts for m in p["false"]], "n": sum(p["n"] for p in parts)}
    command = "python benchmarks/bench_warning.py " + " ".join(argv if argv is not None else sys.argv[1:])
    cpu = sum(r["cpu_s"] for r in (*tuning, *report, *text_runs))
    text = section(command.strip(), rules, tuned, reported, texts, keys, args.tuning_seeds, args.report_seeds, cpu,
                   args.steps, args.k, f"`{args.records.as_posix()}`" if args.records else "not kept")
    print(text)
    if args.out is not None:
        old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        args.out.write_text(replace_section(old, text), encoding="utf-8")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
