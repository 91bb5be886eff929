"""Sessions per client address: whose address a session has, and whether one more may open (pure functions)."""

from __future__ import annotations

import pytest

from ragviz.safety.client_address import (
    client_address,
    is_limited,
    live_sessions,
    may_open,
    refusal_message,
    trusted_proxies,
)
from ragviz.safety.limits import get_limits

PROXY = trusted_proxies("127.0.0.1, ::1, 172.16.0.0/12")


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy() -> None:
    spoof = {"X-Real-IP": "198.51.100.9", "X-Forwarded-For": "198.51.100.10"}
    assert client_address("203.0.113.7", spoof, []) == "203.0.113.7"  # no proxy trusted: headers ignored
    assert client_address("203.0.113.7", spoof, PROXY) == "203.0.113.7"  # a stranger's headers ignored
    assert client_address("172.18.0.5", {"x-real-ip": "198.51.100.9"}, PROXY) == "198.51.100.9"  # nginx
    assert client_address(None, {"X-Real-IP": "198.51.100.9"}, PROXY) == "198.51.100.9"  # nginx on loopback
    # Without X-Real-IP, the last X-Forwarded-For entry: the one the trusted proxy added, not the browser's.
    assert client_address("172.18.0.5", {"X-Forwarded-For": "10.9.9.9, 198.51.100.3"}, PROXY) == "198.51.100.3"
    assert client_address("172.18.0.5", {"X-Forwarded-For": "junk"}, PROXY) == "172.18.0.5"
    assert client_address(None, {}, []) == "127.0.0.1"  # Streamlit says None for loopback
    assert client_address("not an address", {}, PROXY) is None
    assert client_address("::1", {"X-Real-IP": "2001:db8::1"}, PROXY) == "2001:db8::1"


def test_loopback_and_unknown_clients_are_not_limited() -> None:
    assert is_limited("203.0.113.7") and is_limited("2001:db8::1")
    assert not is_limited("127.0.0.1") and not is_limited("::1") and not is_limited(None)


def test_a_new_session_opens_while_its_address_has_fewer_live_sessions_than_the_limit() -> None:
    sessions = {f"s{i}": "203.0.113.7" for i in range(3)} | {"other": "198.51.100.1", "closed": "203.0.113.7"}
    live = {"s0", "s1", "s2", "other"}.__contains__
    assert live_sessions("203.0.113.7", sessions, live) == 3  # the closed tab does not count
    assert live_sessions("203.0.113.7", sessions, live, exclude="s0") == 2
    assert may_open("new", "203.0.113.7", sessions, live, limit=4)
    assert not may_open("new", "203.0.113.7", sessions, live, limit=3)
    assert may_open("s1", "203.0.113.7", sessions, live, limit=3)  # already admitted: always goes on
    assert may_open("new", "198.51.100.1", sessions, live, limit=3)  # another address has its own count
    assert may_open("new", "127.0.0.1", sessions, lambda _: True, limit=1)  # loopback: no limit
    assert may_open("new", None, sessions, lambda _: True, limit=1)


def test_the_limit_is_configurable_and_a_bad_proxy_entry_is_ignored_with_a_warning() -> None:
    assert get_limits({}).sessions_per_address == 12  # a classroom behind one NAT address still fits
    assert get_limits({"RAGVIZ_MAX_SESSIONS_PER_ADDRESS": "30"}).sessions_per_address == 30
    with pytest.warns(UserWarning, match="not an address"):
        assert trusted_proxies("10.0.0.0/8, nginx") == trusted_proxies("10.0.0.0/8")
    assert trusted_proxies("") == [] and trusted_proxies(None) == []
    message = refusal_message(12)
    assert "12 ragviz tabs" in message and "RAGVIZ_MAX_SESSIONS_PER_ADDRESS" in message
