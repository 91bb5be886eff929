"""Who a session is, for the limit on sessions per client address, and whether one more may open.

Pure functions (no Streamlit): :mod:`ragviz.ui.session_gate` feeds them what Streamlit exposes,
the connection's peer address (``st.context.ip_address``) and its request headers.

The peer is the client, unless the peer is a proxy this server trusts (``RAGVIZ_TRUSTED_PROXIES``,
a comma-separated list of addresses and networks, such as ``127.0.0.1,172.16.0.0/12``; empty: trust
none). Only then is the client read from the proxy's ``X-Real-IP`` header, or else from the last
entry of ``X-Forwarded-For`` (the one the trusted proxy added: a browser can send earlier ones
itself). A header from anyone else is ignored, so a student cannot pose as a hundred addresses.

A client on the server's own machine (loopback: the administrator, a test, a load client) is not
limited, and neither is a session whose address is unknown: the limit is there to stop one
machine of a class from holding the server, never to lock a class out.
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Callable, Iterable, Mapping

TRUSTED_PROXIES_ENV = "RAGVIZ_TRUSTED_PROXIES"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies(value: str | None) -> list[Network]:
    """The networks in ``RAGVIZ_TRUSTED_PROXIES``; an entry that is no address is ignored with a warning."""
    networks: list[Network] = []
    for entry in (value or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            warnings.warn(f"{TRUSTED_PROXIES_ENV}: {entry!r} is not an address or network; ignored.", stacklevel=2)
    return networks


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value or ""
    return ""


def client_address(peer: str | None, headers: Mapping[str, str], trusted: Iterable[Network]) -> str | None:
    """The client's address as text, or None when unknown.

    ``peer`` is the connection's address, None for loopback (as ``st.context.ip_address`` gives it).
    """
    peer_ip = _address(peer) if peer is not None else ipaddress.ip_address("127.0.0.1")
    if peer_ip is None:
        return None
    if any(peer_ip.version == net.version and peer_ip in net for net in trusted):
        forwarded = _address(_header(headers, "x-real-ip"))
        if forwarded is None:
            entries = [e for e in _header(headers, "x-forwarded-for").split(",") if e.strip()]
            forwarded = _address(entries[-1]) if entries else None
        if forwarded is not None:
            return str(forwarded)
    return str(peer_ip)


def is_limited(address: str | None) -> bool:
    """Whether sessions from ``address`` count against the limit: a known address that is not loopback."""
    ip = _address(address)
    return ip is not None and not ip.is_loopback


def live_sessions(address: str, sessions: Mapping[str, str | None], is_live: Callable[[str], bool],
                  exclude: str | None = None) -> int:
    """How many of ``sessions`` (session id → client address) from ``address`` are live, ``exclude`` aside."""
    return sum(1 for sid, addr in sessions.items() if addr == address and sid != exclude and is_live(sid))


def may_open(session_id: str, address: str | None, sessions: Mapping[str, str | None],
             is_live: Callable[[str], bool], limit: int) -> bool:
    """Whether the session may go on: one already admitted always may, a new one while its address has
    fewer than ``limit`` live sessions (or its address is not limited)."""
    if session_id in sessions or address is None or not is_limited(address):
        return True
    return live_sessions(address, sessions, is_live, exclude=session_id) < limit


def refusal_message(limit: int) -> str:
    """What a session over the limit sees (plain text)."""
    return (f"This computer already has {limit} ragviz tabs open, this server's limit per address, so this one "
            "was not opened (a class shares the server). Close a ragviz tab you no longer use, then reload this "
            "page. (The server's administrator can raise the limit with RAGVIZ_MAX_SESSIONS_PER_ADDRESS.)")
