"""Swarm testing: each generated scenario switches whole features on and off.

A generator that mixes every kind of step in every scenario rarely builds the
long, single-minded sequences some behaviours need (allowHalfOpen with the
peer's FIN read to done, then a write; several MiB queued, then ``close()``;
seven sockets at once). Swarm testing (Groce et al., ISSTA 2012) draws a set
of features first, each on or off like a coin, and then only what those
features allow: a scenario without TLS, locks or odd addresses has room for
the half-open idiom three times. Hypothesis draws the set like any other value,
so a finding shrinks towards fewer features too.

A feature is only drawn when both implementations (and this machine) can do
it: the ``Profile`` holds what they share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hypothesis import strategies as st


@dataclass(frozen=True)
class Feature:
    #: The capabilities (spec/README.md section 6) it needs from both sides and from this machine.
    needs: frozenset[str] = frozenset()
    #: How often it is on, out of 8: 4 for most; less for one that changes every step after it
    #: (behind an Outbound Worker nothing connects at all).
    odds: int = 4


FEATURES: dict[str, Feature] = {
    # tls and starttls listeners, secureTransport "on"/"starttls", startTls() and the peer's handshake
    "tls": Feature(frozenset({"tls", "starttls"})),
    # a starttls or tls listener dialled with its own transport, then the handshake and what it
    # changes: upgraded on both sockets, a second startTls, the old socket's closed, the new one's
    # opened, the SNI and the certificate as the peer saw them (moves._handshake)
    "upgrade": Feature(frozenset({"tls", "starttls"}), odds=3),
    # allowHalfOpen drawn often, the peer's FIN read to done and what follows it
    "half_open": Feature(),
    # writes and sends of several MiB (up to past 16 MiB), queued writes, then a close or a FIN
    "large": Feature(),
    # the peer's FIN, RST and close as moves of their own
    "fin_rst": Feature(),
    # a second and third socket, and ops on an older one (``socket:``)
    "sockets": Feature(),
    # bursts of up to eight connects in a row (the six-connection limit, B48)
    "limits": Feature(odds=4),
    # ops in a second request of the same runtime (``request: b``, B2, B48)
    "requests": Feature(frozenset({"request-scope"}), odds=3),
    # connect() at module evaluation (``request: global``, B1)
    "global": Feature(frozenset({"global-scope"}), odds=3),
    # the first connect aimed at an edge: a range's first, last or beside address, a spelling of a
    # Cloudflare address, port 25 with TLS, a port only octal digits spell, port 65535, no port (edges.py)
    "edges": Feature(frozenset({"sandbox"}), odds=4),
    # Cloudflare's addresses and names, port 25, ports 80 and 443, odd hosts (all on the sandbox's lo)
    "sandbox": Feature(frozenset({"sandbox"})),
    # the session behind an Outbound Worker (``environment: outbound-worker``, B53)
    "outbound": Feature(frozenset({"outbound-worker"}), odds=1),
    # URL objects, missing addresses, upper case, odd ports (Infinity, BigInt...)
    "odd_addresses": Feature(),
    # highWaterMark at its bounds, secureTransport and allowHalfOpen of the wrong type
    "odd_options": Feature(),
    # getReader(), getWriter(), releaseLock()
    "locks": Feature(odds=3),
}

#: Everything the fuzzer can use: what a profile holds when nothing limits it (the unit tests).
ALL_CAPABILITIES = frozenset().union(*(feature.needs for feature in FEATURES.values())) | {"ipv6"}


@dataclass(frozen=True)
class Profile:
    """What both implementations and this machine can do (their hellos' capabilities, the sandbox)."""

    capabilities: frozenset[str] = ALL_CAPABILITIES

    @classmethod
    def shared(cls, *sides: Iterable[str]) -> Profile:
        found = frozenset(ALL_CAPABILITIES)
        for side in sides:
            found &= frozenset(side)
        return cls(found)

    def available(self) -> tuple[str, ...]:
        return tuple(name for name, feature in FEATURES.items() if feature.needs <= self.capabilities)

    @property
    def ipv6(self) -> bool:
        return "ipv6" in self.capabilities


@st.composite
def feature_sets(draw: st.DrawFn, profile: Profile) -> frozenset[str]:
    """A biased coin per available feature (hypothesis shrinks each towards off)."""
    from .arguments import weighted

    return frozenset(
        name
        for name in profile.available()
        if weighted(draw, {"off": 8 - FEATURES[name].odds, "on": FEATURES[name].odds}) == "on"
    )
