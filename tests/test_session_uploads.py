"""The bookkeeping that decides when a session has ended and what Streamlit holds for it can go."""

from __future__ import annotations

from ragviz.ui.session_uploads import DEFAULT_SWEEP_S, ended_sessions, session_upload_cap, surplus_files, sweep_interval


def test_a_session_ends_only_after_the_ttl_has_passed_since_it_was_first_seen_inactive() -> None:
    active = {"a"}
    since: dict[str, float] = {}
    assert ended_sessions(["a", "b"], active.__contains__, since, now=100.0, ttl_s=10) == []
    assert since == {"b": 100.0}  # the clock starts when the sweep first sees it gone, never earlier
    assert ended_sessions(["a", "b"], active.__contains__, since, now=110.0, ttl_s=10) == []  # not past the TTL
    assert ended_sessions(["a", "b"], active.__contains__, since, now=110.5, ttl_s=10) == ["b"]
    assert since == {}


def test_a_session_that_reconnects_in_time_keeps_its_uploads() -> None:
    since: dict[str, float] = {}
    ended_sessions(["a"], lambda _: False, since, now=0.0, ttl_s=10)
    assert ended_sessions(["a"], lambda _: True, since, now=5.0, ttl_s=10) == []  # back: its clock is dropped
    assert ended_sessions(["a"], lambda _: False, since, now=12.0, ttl_s=10) == []  # gone again: a new clock
    assert ended_sessions(["a"], lambda _: False, since, now=22.5, ttl_s=10) == ["a"]


def test_sessions_that_no_longer_hold_anything_are_forgotten() -> None:
    since = {"gone": 1.0}
    assert ended_sessions([], lambda _: False, since, now=2.0, ttl_s=10) == [] and since == {}


def test_the_sweep_interval_comes_from_the_environment_and_a_bad_value_means_the_default() -> None:
    assert sweep_interval({"RAGVIZ_SESSION_SWEEP_S": "2.5"}) == 2.5
    for bad in ("", "soon", "0", "-3", "1e9"):
        assert sweep_interval({"RAGVIZ_SESSION_SWEEP_S": bad}) == DEFAULT_SWEEP_S


def test_a_session_over_its_share_loses_its_oldest_uploads_first() -> None:
    from ragviz.safety.limits import get_limits

    files = [("a", 60), ("b", 50), ("c", 40), ("d", 30)]  # oldest first
    assert surplus_files(files, cap=200) == []
    assert surplus_files(files, cap=100) == ["a", "b"]  # 70 left
    assert surplus_files(files, cap=10) == ["a", "b", "c"]  # the newest is always kept
    assert surplus_files([], cap=0) == []
    limits = get_limits({})
    assert session_upload_cap(limits) == sum(limits.upload_bytes_for(k) for k in ("graph", "table", "checkpoint",
                                                                                  "audio")) == 227_000_000
