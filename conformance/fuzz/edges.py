"""The ``edges`` feature: a scenario's listener and first ``connect`` aimed at a value that an
implementation must get exactly right, or it dials what it must refuse (or refuses what it must dial).

Each of these is one value among hundreds an ordinary scenario could draw, so a few hundred examples
never reached them (issue 23): the first and last usable address of every published Cloudflare range
and the public address just beside each end (docs/sandbox.md binds them all on ``lo``), the legacy
IPv4 and the uncompressed or upper-case IPv6 spellings of a Cloudflare address, names resolving to an
allowed and a blocked address, port 25 with TLS, a port that only octal digits spell (a leading zero
read as octal dials another port), and the ports and addresses at the parser's own edges (65535, a
string without a port, an infinite port). Swarm testing (``features.py``) turns the feature on for a
share of the scenarios; in those, most listeners and first connects are one of these.

Everything here is dialled only inside the sandbox: the feature needs it.
"""

from __future__ import annotations

import functools
from typing import Any

from ..sandbox.ranges import published

#: Kinds of edge listener, by weight.
TARGETS = {"range": 5, "spelling": 3, "names": 2, "port25": 2, "octal": 2, "loopback": 4}

#: Listener hosts whose address has spellings a block check must see through.
SPELLED_HOSTS = ("sandbox-cloudflare-v4", "sandbox-cloudflare-v6", "sandbox-cloudflare-v6-b")

#: Ports only octal digits spell: ``0${peer.port}`` read as octal is another port (B4).
OCTAL_PORTS = (4321, 1234, 7654)

#: 104.16.0.1 (``sandbox-cloudflare-v4``) in the legacy IPv4 forms a resolver may accept (B23).
_LEGACY_V4 = (
    "1745879041",
    "0x68100001",
    "015004000001",
    "0150.020.0.01",
    "0x68.0x10.0x0.0x1",
    "104.16.1",
    "104.1048577",
    "0x68.020.1",
)
#: Non-canonical IPv6 spellings of each Cloudflare address (mapped ones for the IPv4 address).
_V6_SPELLINGS = {
    "sandbox-cloudflare-v4": ("0:0:0:0:0:ffff:104.16.0.1", "::FFFF:6810:1", "0000:0000:0000:0000:0000:ffff:6810:0001"),
    "sandbox-cloudflare-v6": ("2606:4700:0:0:0:0:0:1", "2606:4700:0000:0000:0000:0000:0000:0001", "2606:4700:0::1"),
    "sandbox-cloudflare-v6-b": ("2400:CB00::1", "2400:cb00:0:0:0:0:0:1"),
}
#: Names giving an allowed and a blocked address, in both orders (only the blocked one listens).
MIXED_NAMES = {
    "sandbox-cloudflare-v4": ("mixed_public", "mixed_public_reversed", "mixed"),
    "sandbox-cloudflare-v6": ("mixed6", "mixed6_reversed"),
}

#: What the first connect to a plain loopback listener dials at the parser's edges: no port (B6), the
#: largest port (B10, nothing listens there in the sandbox), infinite ports (B10).
LOOPBACK_EDGES: tuple[Any, ...] = (
    "127.0.0.1",
    "localhost",
    {"hostname": "127.0.0.1", "port": 65535},
    {"hostname": "localhost", "port": 65535},
    {"hostname": "localhost", "port": "65535"},
    {"hostname": "127.0.0.1", "port": {"$type": "number", "value": "Infinity"}},
    {"hostname": "127.0.0.1", "port": {"$type": "number", "value": "-Infinity"}},
    # opened's remoteAddress keeps the address as written (B17): upper case stays upper case.
    "LOCALHOST:${peer.port}",
    "LocalHost:${peer.port}",
    {"hostname": "LOCALHOST", "port": "${peer.port}"},
)

#: Those of them a broken parser dials on a port someone outside the sandbox may serve (443, 65535).
SANDBOX_ONLY: tuple[Any, ...] = ("localhost", {"hostname": "localhost", "port": "65535"})


@functools.cache
def range_hosts() -> tuple[str, ...]:
    """Every range's first and last usable address, and the public addresses beside the ranges."""
    ranges = published()
    return (*ranges.edges(), *ranges.beside())


def _object(hostname: str, port: Any = "${peer.port}") -> dict[str, Any]:
    return {"hostname": hostname, "port": port}


def edge_addresses(target: str, host: str | None, port: int | None) -> tuple[Any, ...]:
    """What the first connect to an edge listener (of ``TARGETS``) dials: its peer, spelt at an edge."""
    if target == "names" and host in MIXED_NAMES:
        names = tuple(f"${{sandbox.name.{name}}}" for name in MIXED_NAMES[host])
        return (*(f"{name}:${{peer.port}}" for name in names), *map(_object, names))
    if host is None:
        return LOOPBACK_EDGES
    if host == "sandbox-loopback":
        # Port 25: the plain spelling (with TLS, see ``tls_for``); else the leading zero.
        return ("${peer.address}",) if port == 25 else ("${peer.host}:0${peer.port}",)
    if host in SPELLED_HOSTS:
        legacy = _LEGACY_V4 if host == "sandbox-cloudflare-v4" else ()
        spelled = (*legacy, *(f"[{text}]" for text in _V6_SPELLINGS[host]))
        return (*(f"{text}:${{peer.port}}" for text in spelled), *map(_object, spelled[::2]))
    return ("${peer.address}", _object("${peer.host}"))


def tls_for(port: int | None) -> bool:
    """Port 25 is refused whatever the transport (B24): an edge listener on it is dialled with TLS."""
    return port == 25
