"""Generated scenarios: hypothesis strategies over the step language, and scenarios as YAML cases.

A ``Scenario`` is a peer listener kind and a list of steps written exactly as a
spec file writes them (mappings with one action and modifiers), so every
scenario is checked by the same loader as a hand-written case and a finding is
already a case. Every address the strategies produce is on loopback, or is
rejected while it is parsed: the fuzzer never dials anything else, and never
asks a resolver for a name (``localhost`` is in every hosts file).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

#: How long a generated client op waits before it counts as pending, and a peer op before it gives up.
CLIENT_WITHIN = "250ms"
#: Awaiting opened/closed may wait on a handshake, which a loaded machine can slow a lot.
AWAIT_WITHIN = "1s"
PEER_WITHIN = "600ms"

Step = dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    peer: str
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def digest(self) -> str:
        text = yaml.safe_dump({"peer": self.peer, "steps": list(self.steps)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def case_yaml(
    scenario: Scenario,
    case_id: str,
    title: str,
    level: str = "info",
    source: tuple[str, ...] = ("fuzz",),
    comments: tuple[str, ...] = (),
) -> str:
    """The scenario as a spec file holding one case (the steps may carry ``expect``)."""
    case = {
        "id": case_id,
        "title": title,
        "level": level,
        "source": list(source),
        "tags": ["fuzz"],
        "peer": scenario.peer,
        "timeout": "20s",
        "steps": list(scenario.steps),
    }
    header = "".join(f"# {line}\n" if line else "#\n" for line in comments)
    return header + yaml.safe_dump([case], sort_keys=False, allow_unicode=True, width=110)


# -- strategies ---------------------------------------------------------------------------------

#: Ports only of this case's own peer, or that no one can listen on: a broken implementation that
#: dials an address it should have rejected must not reach a server of another test.
_PORTS = st.sampled_from(
    ["${peer.port}", "${peer.refused_port}", "${peer.refused_port}", 0, 65536, -1, "${peer.refused_port}x"]
)

#: Address spellings the parser must reject (never dialled by a conforming implementation, and
#: on loopback when a broken one dials them anyway).
INVALID_ADDRESSES = (
    "127.0.0.1",
    "127.0.0.1:",
    "127.0.0.1:99999",
    "127.0.0.1:-1",
    "127.0.0.1:1.1",
    "127.0.0.1:0x1",
    "localhost:65536",
    ":1",
    "::1:1",
    "[::1",
    "[::1]",
    "local host:1",
    "local%host:1",
    "",
    " 127.0.0.1:1",
)

_LISTENING = ["${peer.address}", "${peer.address}", "localhost:${peer.port}", "127.0.0.1:${peer.port}"]
_NOT_LISTENING = ["${peer.refused_address}", "127.0.0.1:0", "localhost:${peer.refused_port}"]


@st.composite
def addresses(draw: st.DrawFn, peer: str) -> Any:
    kind = draw(st.sampled_from(["valid", "valid", "valid", "object", "invalid"]))
    if kind == "valid":
        return draw(st.sampled_from((_LISTENING if peer != "none" else []) + _NOT_LISTENING))
    if kind == "invalid":
        return draw(st.sampled_from(INVALID_ADDRESSES))
    hostname = draw(st.sampled_from(["127.0.0.1", "localhost", "", None]))
    port = draw(st.one_of(_PORTS, st.none()))
    if peer == "none" and port == "${peer.port}":
        port = "${peer.refused_port}"
    address: dict[str, Any] = {}
    if hostname is not None:
        address["hostname"] = hostname
    if port is not None:
        address["port"] = port
    return address


@st.composite
def options(draw: st.DrawFn, peer: str) -> dict[str, Any] | None:
    if not draw(st.booleans()):
        return None
    found: dict[str, Any] = {}
    natural = {"tls": "on", "starttls": "starttls"}.get(peer, "off")
    if draw(st.booleans()):
        found["secureTransport"] = draw(st.sampled_from([natural, natural, "off", "on", "starttls", "bogus", None]))
    if draw(st.booleans()):
        found["allowHalfOpen"] = draw(st.sampled_from([True, False, True, "yes", 0]))
    if draw(st.integers(0, 3)) == 0:
        found["highWaterMark"] = draw(st.sampled_from([0, 1, 16, 65536, -1, "16"]))
    return found


_SIZES = st.sampled_from([0, 1, 5, 100, 65535, 65536, 65537, 1048576])


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["text", "text", "pattern", "view", "raw"]))
    if kind == "text":
        return draw(st.text(alphabet="abcxyz\n", min_size=0, max_size=8))
    if kind == "pattern":
        return {"pattern": draw(st.sampled_from(["a", "xyz", "0123456789"])), "size": draw(_SIZES)}
    if kind == "view":
        return {"text": "abcd", "view": draw(st.sampled_from(["ArrayBuffer", "DataView", "Uint16Array", "Int32Array"]))}
    return {"raw": draw(st.sampled_from(["str", 42, None, {"$type": "undefined"}]))}


def _client(action: str, arg: Any, **more: Any) -> Step:
    return {action: arg, "within": CLIENT_WITHIN, **more}


@st.composite
def client_steps(draw: st.DrawFn, peer: str) -> Step:
    kind = draw(
        st.sampled_from(
            [
                "opened",
                "opened",
                "closed",
                "write",
                "write",
                "read",
                "read",
                "read_bytes",
                "close_writer",
                "abort_writer",
                "cancel_reader",
                "close",
                "get",
                "start_tls",
                "reader_lock",
                "writer_lock",
            ]
        )
    )
    if kind in ("opened", "closed"):
        return {"await": kind, "within": AWAIT_WITHIN}
    if kind == "write":
        return _client("write", draw(payloads()))
    if kind == "read":
        return _client("read", {})
    if kind == "read_bytes":
        return _client("read_bytes", {"n": draw(st.sampled_from([1, 3, 5, 100]))})
    if kind == "get":
        return {"get": draw(st.sampled_from(["secureTransport", "upgraded", "readable_identity"]))}
    if kind == "start_tls":
        return {"start_tls": {}}
    if kind == "reader_lock":
        return {"get_reader": {}} if draw(st.booleans()) else {"release_lock": "readable"}
    if kind == "writer_lock":
        return {"get_writer": {}} if draw(st.booleans()) else {"release_lock": "writable"}
    return _client(kind, {})


def _peer(action: str, arg: Any) -> Step:
    return {action: arg, "within": PEER_WITHIN}


@st.composite
def peer_steps(draw: st.DrawFn, peer: str) -> Step:
    kind = draw(
        st.sampled_from(
            ["accept", "send", "send", "recv", "wait_end", "shutdown", "close", "reset", "start_tls", "sleep"]
        )
    )
    if kind == "accept":
        return _peer("peer.accept", {})
    if kind == "send":
        if draw(st.booleans()):
            return _peer("peer.send", draw(st.text(alphabet="pqr\n", min_size=1, max_size=6)))
        size = draw(st.sampled_from([1, 100, 65536, 65537, 1048576]))
        chunks = draw(st.sampled_from([None, {"min": 1, "max": 7, "seed": 1}, {"min": 1000, "max": 70000, "seed": 2}]))
        data = {"pattern": "qrs", "size": size}
        return _peer("peer.send", {"data": data, "chunks": chunks} if chunks else data)
    if kind == "recv":
        return _peer("peer.recv", {"n": draw(st.sampled_from([1, 2, 5, None]))})
    if kind == "wait_end":
        # A neutral wait: what the peer saw (data, FIN, RST or nothing) becomes the expectation.
        return {"peer.expect_silence": {"for": "200ms"}}
    if kind == "shutdown":
        return {"peer.shutdown": "write"}
    if kind == "start_tls":
        return _peer("peer.start_tls", {})
    if kind == "sleep":
        return {"sleep": "100ms"}
    return {f"peer.{kind}": {}}


@st.composite
def scenarios(draw: st.DrawFn, max_steps: int = 10) -> Scenario:
    peer = draw(st.sampled_from(["plain", "plain", "plain", "tls", "starttls", "none"]))
    connect: dict[str, Any] = {"address": draw(addresses(peer))}
    chosen = draw(options(peer))
    if chosen is not None:
        connect["options"] = chosen
    steps: list[Step] = [{"connect": connect}]
    # Accepting early makes most scenarios exchange data; later steps are free.
    if peer != "none" and draw(st.integers(0, 3)) > 0:
        steps.append(_peer("peer.accept", {}))
    more = draw(st.lists(st.one_of(client_steps(peer), peer_steps(peer)), max_size=max_steps - len(steps)))
    return Scenario(peer, tuple(steps + more))
