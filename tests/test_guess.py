"""The ensemble's warning, pure: spreads on one scale, hops from data, the rule, judging and calibrating it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ragviz.training.guess import (
    CLASS_RULE,
    Case,
    GuessRule,
    calibrate,
    class_spread,
    flag_case,
    guess_flags,
    guess_reasons,
    hops_beyond_data,
    hops_from_data,
    is_wrong,
    max_pair_disagreement,
    output_scale,
    pair_disagreement,
    regression_spread,
    rule_sentence,
    warning_quality,
)


def _members(labels: list[list[int]], classes: int) -> np.ndarray:
    """(K, n, C) one-hot probabilities from each member's predicted classes."""
    return np.eye(classes)[np.asarray(labels)]


def test_class_spread_is_zero_when_members_agree_and_one_at_the_most_they_can_disagree() -> None:
    assert class_spread(_members([[0, 1, 1]] * 5, 2)) == 0.0
    most = _members([[0], [0], [0], [1], [1]], 2)  # a 3–2 split: as even as five members can be over 2 classes
    assert pair_disagreement(most)[0] == pytest.approx(0.6)
    assert class_spread(most) == pytest.approx(1.0)
    # Over 10 classes five members can all differ: a 3–2 split is then 0.6 of the most, not all of it.
    assert class_spread(np.pad(most, ((0, 0), (0, 0), (0, 8)))) == pytest.approx(0.6)
    assert max_pair_disagreement(5, 2) == pytest.approx(0.6) and max_pair_disagreement(3, 6) == 1.0
    assert max_pair_disagreement(1, 2) == 0.0
    assert math.isnan(class_spread(np.zeros((3, 0, 2))))
    assert math.isnan(class_spread(_members([[0, 1]], 2)))  # one member cannot disagree with itself
    with pytest.raises(ValueError):
        class_spread(np.zeros((3, 4)))


def test_regression_spread_is_the_members_std_against_the_output_scale() -> None:
    outputs = np.array([[0.0, 1.0], [2.0, 1.0]])  # std 1 at the first point, 0 at the second
    assert regression_spread(outputs, scale=1.0) == pytest.approx(0.5)
    assert regression_spread(outputs * 10, scale=10.0) == pytest.approx(0.5)  # units cancel
    assert output_scale(np.array([1.0, 3.0])) == pytest.approx(1.0)
    assert math.isnan(output_scale(np.array([2.0])))
    assert math.isnan(regression_spread(outputs, scale=0.0))
    with pytest.raises(ValueError):
        regression_spread(np.zeros((2, 3, 2)), 1.0)


def test_hops_from_data_go_both_ways_and_unreachable_is_infinite() -> None:
    names = ["a", "b", "c", "d", "e"]
    hops = hops_from_data(names, [("a", "b"), ("c", "b"), ("c", "d")], zero_shot=["b", "c", "d", "e"])
    assert hops == {"a": 0, "b": 1, "c": 2, "d": 3, "e": math.inf}


def test_the_rule_flags_spread_relative_to_seen_absolute_spread_and_distance() -> None:
    rule = GuessRule(margin=2.0, absolute=0.5, max_hops=1)
    spreads = {"s1": 0.05, "s2": 0.1, "near": 0.15, "wide": 0.25, "huge": 0.6, "far": 0.0, "dark": float("nan")}
    hops = {"s1": 0, "s2": 0, "near": 1, "wide": 1, "huge": 1, "far": 2, "dark": 1}
    zero = ["near", "wide", "huge", "far", "dark"]
    assert guess_reasons(spreads, zero, hops, rule) == {"near": "", "wide": "spread", "huge": "spread",
                                                        "far": "far", "dark": "no points"}
    loose = GuessRule(margin=math.inf, absolute=0.7, max_hops=2)
    assert guess_flags(spreads, zero, hops, loose) == {"near": False, "wide": False, "huge": False, "far": False,
                                                       "dark": True}
    assert guess_flags({"z": 0.0}, ["z"], {"z": 1}, rule) == {"z": True}  # nothing seen to calibrate on
    # Seen members that agree exactly (spread 0) do not make every zero-shot task a guess.
    assert guess_flags({"s": 0.0, "z": 0.0}, ["z"], {"s": 0, "z": 1}, rule) == {"z": False}
    assert guess_flags({"a": 0.0}, [], {"a": 0}, CLASS_RULE) == {}


def test_wrong_and_the_quality_counts() -> None:
    assert is_wrong(0.74, regression=False) and not is_wrong(0.75, regression=False)
    assert is_wrong(0.6, regression=True, no_edges_mse=1.0) and not is_wrong(0.5, regression=True, no_edges_mse=1.0)
    with pytest.raises(ValueError):
        is_wrong(0.1, regression=True)
    q = warning_quality([True, True, False, False, True], [True, False, True, False, True])
    assert (q.flagged_wrong, q.flagged_right, q.missed, q.quiet_right) == (2, 1, 1, 1)
    assert q.recall == pytest.approx(2 / 3) and q.precision == pytest.approx(2 / 3)
    assert q.false_alarm_rate == pytest.approx(0.5)
    empty = warning_quality([], [])
    assert math.isnan(empty.recall) and math.isnan(empty.precision) and math.isnan(empty.false_alarm_rate)
    with pytest.raises(ValueError):
        warning_quality([True], [])


def test_calibration_takes_the_most_recall_within_the_false_alarm_limit() -> None:
    seen = (0.05, 0.1)
    cases = [Case(0.3, seen, 1, True), Case(0.25, seen, 1, True), Case(0.0, seen, 3, True),  # wrong ones
             *[Case(0.05, seen, 1, False)] * 8, Case(0.22, seen, 1, False), Case(0.3, seen, 1, False)]
    strict = GuessRule(margin=math.inf, absolute=0.28, max_hops=math.inf)
    loose = GuessRule(margin=2.0, absolute=math.inf, max_hops=2)  # catches all three, 2 of 10 false alarms
    middle = GuessRule(margin=2.4, absolute=math.inf, max_hops=2)  # catches all three, 1 of 10
    assert [flag_case(c, loose) for c in cases[:3]] == [True, True, True]
    assert calibrate(cases, [strict, loose, middle], max_false_alarm_rate=0.1) == middle
    assert calibrate(cases, [strict, loose], max_false_alarm_rate=0.2) == loose
    assert calibrate(cases, [strict, loose], max_false_alarm_rate=0.1) == strict
    with pytest.raises(ValueError, match="false alarms"):
        calibrate(cases, [loose], max_false_alarm_rate=0.05)
    right_only = [Case(0.25, seen, 1, False), Case(0.01, seen, 1, False)]
    assert calibrate(right_only, [loose, strict], 0.5) == strict  # nothing to catch: the fewest false alarms


def test_hops_beyond_data_count_only_off_the_end_not_between_tasks_with_data() -> None:
    chain = ["a", "b", "c", "d", "e", "f"]
    edges = list(zip(chain, chain[1:], strict=False))
    between = hops_beyond_data(chain, edges, zero_shot=["b", "c", "d"])  # a and e have data: b–d lie between
    assert between == {name: 0 for name in chain}
    beyond = hops_beyond_data(chain, edges, zero_shot=["d", "e", "f"])  # only c touches the group
    assert beyond == {"a": 0, "b": 0, "c": 0, "d": 1, "e": 2, "f": 3}
    assert hops_beyond_data(["a", "b"], [], ["b"]) == {"a": 0, "b": math.inf}  # cut off from every task with data


def test_the_rule_in_words_names_only_the_parts_that_are_on() -> None:
    words = rule_sentence(GuessRule(margin=math.inf, absolute=0.17, max_hops=1), regression=False, k=5)
    assert "17%" in words and "1 relation(s) off the end" in words and "inf" not in words and "×" not in words
    numbers = rule_sentence(GuessRule(margin=2.0, absolute=0.3, max_hops=math.inf), regression=True, k=5)
    assert "2× as much" in numbers and "30% as wide" in numbers and "relation" not in numbers
    assert "No zero-shot task" in rule_sentence(GuessRule(math.inf, math.inf, math.inf), False, 5)
