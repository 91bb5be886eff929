"""When a zero-shot prediction is a guess: the ensemble's warning, as pure functions.

The warning reads how much the K members disagree on a task's test points, on one scale for every
kind of task (its *spread*):

- classes (2-D families, digits, csv, and text: a text task is classes on the frozen encoder's
  vectors, so it takes this same path): the share of pairs of members naming different classes,
  over the most K members can disagree across the task's classes (0: all agree; 1: split as evenly
  as they can);
- regression: the members' std, averaged over the points, over the output scale (the std of the
  seen tasks' test targets): how wide the band of predicted curves is against the data's own spread.

A zero-shot task is flagged when its spread is ``margin`` × the largest of the seen tasks' (members
trained on a task's data agree about as much as they ever will), or reaches ``absolute`` whatever the
seen tasks show, or when it lies more than ``max_hops`` relations beyond the data, off an end of it rather
than between tasks with data (there the members tend to agree on the same wrong extrapolation, so their
agreement proves nothing). The
thresholds were calibrated on tuning seeds 0–5 of the generalisation suite and checked on its report
seeds (``benchmarks/bench_warning.py``, ``benchmarks/GENERALISATION.md``). All members can still be
wrong together, e.g. when the relations themselves are wrong: no flag is not proof.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: "Wrong" as the warning is judged: zero-shot accuracy below this…
WRONG_ACCURACY = 0.75
#: …or an MSE above this share of the no-edges model's.
WRONG_MSE_SHARE = 0.5


@dataclass(frozen=True)
class GuessRule:
    """The thresholds of the warning for one kind of task (see the module's docstring)."""

    margin: float  # flag when the spread is at least this × the seen tasks' largest spread
    absolute: float  # flag when the spread reaches this, whatever the seen tasks show
    max_hops: float  # flag when the task is more than this many relations beyond the data (hops_beyond_data)

    def describe(self) -> str:
        return f"margin {self.margin:g}, absolute {self.absolute:g}, more than {self.max_hops} hop(s)"


#: Calibrated on tuning seeds 0–5 (benchmarks/bench_warning.py); see GENERALISATION.md for the figures.
CLASS_RULE = GuessRule(margin=5.0, absolute=0.25, max_hops=1)
#: Tuning seeds held a single wrong regression task: this rule is the most sensitive without a false alarm there,
#: and on the report seeds it raised 8 false alarms on 40 tasks (sine-two-gaps' second gap).
REGRESSION_RULE = GuessRule(margin=1.5, absolute=0.17, max_hops=1)


# --------------------------------------------------------------------------- spreads
def pair_disagreement(probabilities: np.ndarray) -> np.ndarray:
    """Per point, the share of pairs of members whose predicted classes differ: (K, n, C) → (n,)."""
    labels = np.asarray(probabilities).argmax(axis=-1)  # (K, n)
    k = labels.shape[0]
    if k < 2:
        return np.zeros(labels.shape[1])
    differ = labels[:, None, :] != labels[None, :, :]
    return differ.sum(axis=(0, 1)) / (k * (k - 1))


def max_pair_disagreement(k: int, n_classes: int) -> float:
    """The largest :func:`pair_disagreement` K members can reach over C classes (spread as evenly as possible)."""
    if k < 2:
        return 0.0
    groups = min(k, n_classes)
    sizes = np.full(groups, k // groups) + (np.arange(groups) < k % groups)
    return float(1.0 - (sizes * (sizes - 1)).sum() / (k * (k - 1)))


def class_spread(probabilities: np.ndarray, n_classes: int | None = None) -> float:
    """Members' probabilities (K, n, C) → the mean share of pairs naming different classes over its largest
    possible value for ``n_classes`` (default C); NaN without points or with one member."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 3:
        raise ValueError("class probabilities are (K, n, C)")
    k, n, c = probabilities.shape
    top = max_pair_disagreement(k, n_classes or c)
    if n == 0 or top == 0.0:
        return float("nan")
    return float(pair_disagreement(probabilities).mean() / top)


def output_scale(targets: np.ndarray) -> float:
    """The scale a regression spread is measured against: the std of the seen tasks' targets (NaN if < 2)."""
    targets = np.asarray(targets, dtype=np.float64).ravel()
    return float(targets.std()) if targets.size > 1 else float("nan")


def regression_spread(outputs: np.ndarray, scale: float) -> float:
    """Members' outputs (K, n) → their std across members, averaged over points, over ``scale``."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.ndim != 2:
        raise ValueError("regression outputs are (K, n)")
    if outputs.shape[1] == 0 or not math.isfinite(scale) or scale <= 0.0:
        return float("nan")
    return float(outputs.std(axis=0).mean() / scale)


# --------------------------------------------------------------------------- the graph
def hops_from_data(names: Iterable[str], edges: Iterable[tuple[str, str]],
                   zero_shot: Iterable[str]) -> dict[str, float]:
    """Task → the fewest relations between it and a task with data (messages go both ways; inf: unreachable)."""
    zero = set(zero_shot)
    adjacent: dict[str, set[str]] = {name: set() for name in names}
    for a, b in edges:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    dist: dict[str, float] = {name: 0 for name in adjacent if name not in zero}
    queue = deque(dist)
    while queue:
        a = queue.popleft()
        for b in adjacent[a]:
            if b not in dist:
                dist[b] = dist[a] + 1
                queue.append(b)
    return {name: dist.get(name, math.inf) for name in adjacent}


def hops_beyond_data(names: Iterable[str], edges: Iterable[tuple[str, str]],
                     zero_shot: Iterable[str]) -> dict[str, float]:
    """Task → how far it lies *beyond* the data: its :func:`hops_from_data` when its group of linked data-less
    tasks touches at most one task with data (it extends the data off an end), 0 when the group lies between
    two or more tasks with data (interpolation) or the task has data."""
    names, edges, zero = list(names), list(edges), set(zero_shot)
    hops = hops_from_data(names, edges, zero)
    adjacent: dict[str, set[str]] = {name: set() for name in names}
    for a, b in edges:
        adjacent.setdefault(a, set()).add(b)
        adjacent.setdefault(b, set()).add(a)
    out = {name: 0.0 for name in adjacent}
    done: set[str] = set()
    for start in (n for n in adjacent if n in zero):
        if start in done:
            continue
        group, anchors, queue = {start}, set(), deque([start])
        while queue:
            for b in adjacent[queue.popleft()]:
                if b not in zero:
                    anchors.add(b)
                elif b not in group:
                    group.add(b)
                    queue.append(b)
        done |= group
        for name in group:
            out[name] = 0.0 if len(anchors) >= 2 else hops[name]
    return out


# --------------------------------------------------------------------------- the rule
def guess_reasons(spreads: Mapping[str, float], zero_shot: Iterable[str], hops: Mapping[str, float],
                  rule: GuessRule) -> dict[str, str]:
    """Zero-shot task → why its prediction is a guess ("" when it is not flagged).

    ``hops``: :func:`hops_beyond_data`. Reasons: ``"far"`` (more than ``rule.max_hops`` beyond the data),
    ``"spread"`` (members disagree, see the module's docstring), ``"no seen tasks"`` and ``"no points"``
    (nothing shows the members can agree).
    """
    zero = set(zero_shot)
    seen = [v for name, v in spreads.items() if name not in zero and math.isfinite(v)]
    relative = rule.margin * max(seen) if seen else math.nan
    out = {}
    for name in spreads:
        if name not in zero:
            continue
        value = spreads[name]
        if hops.get(name, math.inf) > rule.max_hops:
            out[name] = "far"
        elif not seen:
            out[name] = "no seen tasks"
        elif not math.isfinite(value):
            out[name] = "no points"
        elif value >= rule.absolute or value > relative:
            out[name] = "spread"
        else:
            out[name] = ""
    return out


def rule_sentence(rule: GuessRule, regression: bool, k: int) -> str:
    """The rule in words, for the page (only the parts that are on)."""
    parts = []
    if math.isfinite(rule.margin):
        parts.append(f"its {k} models disagree more than {rule.margin:g}× as much as on any task with data")
    if math.isfinite(rule.absolute):
        parts.append(f"the band of their curves is at least {rule.absolute:.0%} as wide as the data's spread"
                     if regression else
                     f"they name different classes {rule.absolute:.0%} as often as {k} models at most can")
    if math.isfinite(rule.max_hops):
        parts.append(f"it lies more than {rule.max_hops:g} relation(s) off the end of the data (not between tasks "
                     "with data)")
    if not parts:
        return "No zero-shot task is flagged while tasks with data show how much the models agree."
    return "A zero-shot task is flagged as a guess when " + ", or when ".join(parts) + "."


def guess_flags(spreads: Mapping[str, float], zero_shot: Iterable[str], hops: Mapping[str, float],
                rule: GuessRule) -> dict[str, bool]:
    """Zero-shot task → True when its prediction is a guess (see :func:`guess_reasons`)."""
    return {name: bool(why) for name, why in guess_reasons(spreads, zero_shot, hops, rule).items()}


# --------------------------------------------------------------------------- judging the warning
def is_wrong(metric: float, regression: bool, no_edges_mse: float | None = None) -> bool:
    """Whether a zero-shot prediction counts as wrong: accuracy below :data:`WRONG_ACCURACY`, or an MSE above
    :data:`WRONG_MSE_SHARE` × the no-edges model's on the same task."""
    if regression:
        if no_edges_mse is None:
            raise ValueError("regression is judged against the no-edges model's MSE")
        return metric > WRONG_MSE_SHARE * no_edges_mse
    return metric < WRONG_ACCURACY


@dataclass(frozen=True)
class Quality:
    """How a warning did against the truth: counts, and the shares the issue asks for."""

    flagged_wrong: int  # true alarms
    flagged_right: int  # false alarms
    missed: int  # wrong, not flagged
    quiet_right: int

    @property
    def recall(self) -> float:
        """Share of the wrong predictions that were flagged (NaN when none was wrong)."""
        wrong = self.flagged_wrong + self.missed
        return self.flagged_wrong / wrong if wrong else float("nan")

    @property
    def precision(self) -> float:
        """Share of the flags that were right (NaN with no flag)."""
        flags = self.flagged_wrong + self.flagged_right
        return self.flagged_wrong / flags if flags else float("nan")

    @property
    def false_alarm_rate(self) -> float:
        """Share of the right predictions that were flagged anyway (NaN when none was right)."""
        right = self.flagged_right + self.quiet_right
        return self.flagged_right / right if right else float("nan")


def warning_quality(flags: Sequence[bool], wrong: Sequence[bool]) -> Quality:
    """Count true alarms, false alarms, misses and quiet right predictions."""
    if len(flags) != len(wrong):
        raise ValueError("one flag per judged prediction")
    pairs = list(zip((bool(f) for f in flags), (bool(w) for w in wrong), strict=True))
    return Quality(sum(f and w for f, w in pairs), sum(f and not w for f, w in pairs),
                   sum(w and not f for f, w in pairs), sum(not f and not w for f, w in pairs))


@dataclass(frozen=True)
class Case:
    """One zero-shot task of one run, as calibration sees it."""

    spread: float
    seen_spreads: tuple[float, ...]
    hops: float
    wrong: bool


def flag_case(case: Case, rule: GuessRule) -> bool:
    """:func:`guess_flags` for one :class:`Case`."""
    spreads = {"v": case.spread, **{f"s{i}": s for i, s in enumerate(case.seen_spreads)}}
    return guess_flags(spreads, ["v"], {"v": case.hops}, rule)["v"]


def calibrate(cases: Sequence[Case], rules: Iterable[GuessRule], max_false_alarm_rate: float) -> GuessRule:
    """The rule with the highest recall on ``cases`` whose false-alarm rate stays within the limit; ties go
    to fewer false alarms, then to the first candidate. Without any wrong case: the fewest false alarms."""
    best: tuple[float, float, int] | None = None
    chosen = None
    for order, rule in enumerate(rules):
        quality = warning_quality([flag_case(c, rule) for c in cases], [c.wrong for c in cases])
        rate = quality.false_alarm_rate if math.isfinite(quality.false_alarm_rate) else 0.0
        if rate > max_false_alarm_rate:
            continue
        recall = quality.recall if math.isfinite(quality.recall) else 0.0
        key = (recall, -rate, -order)
        if best is None or key > best:
            best, chosen = key, rule
    if chosen is None:
        raise ValueError(f"no candidate rule keeps false alarms within {max_false_alarm_rate:.0%}")
    return chosen
