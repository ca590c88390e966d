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

    def one_line(self) -> str:
        """The peer kind and the steps as one line of YAML flow style."""
        steps = yaml.safe_dump(list(self.steps), default_flow_style=True, width=1_000_000).strip()
        return f"{self.peer}: {steps}"

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
    ["${peer.port}", "${peer.port}", "${peer.port}", "${peer.refused_port}", 0, 65536, -1, "${peer.refused_port}x"]
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


def _weighted(draw: st.DrawFn, weights: dict[str, int]) -> str:
    """A weighted choice through a random drawn from hypothesis (still replayed and shrunk by it):
    ``sampled_from`` clumps on a few values per run, and a few hundred examples then miss whole kinds."""
    # randrange, not choices: hypothesis's random floats lean towards 0 (the first entry).
    pick = draw(st.randoms(use_true_random=False)).randrange(sum(weights.values()))
    for value, weight in weights.items():
        pick -= weight
        if pick < 0:
            return value
    raise AssertionError("unreachable: pick < sum of the weights")


#: Steps of a scenario: with the ``end`` step a divergence at the session's end adds, a written case has 8 at most.
MAX_STEPS = 7

#: Most scenarios reach their peer, so that what happens after the connection is compared too.
ADDRESS_KINDS = {"listening": 10, "not_listening": 1, "object": 2, "invalid": 2}


@st.composite
def addresses(draw: st.DrawFn, peer: str) -> Any:
    kind = _weighted(draw, ADDRESS_KINDS)
    if kind == "listening" and peer != "none":
        return draw(st.sampled_from(_LISTENING))
    if kind in ("listening", "not_listening"):
        return draw(st.sampled_from(_NOT_LISTENING))
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
        found["secureTransport"] = _weighted(
            draw, {natural: 6, "off": 1, "on": 1, "starttls": 1, "bogus": 1, "null": 1}
        )
        if found["secureTransport"] == "null":
            found["secureTransport"] = None
    if draw(st.booleans()):
        found["allowHalfOpen"] = draw(st.sampled_from([True, False, True, "yes", 0]))
    if draw(st.integers(0, 3)) == 0:
        found["highWaterMark"] = draw(st.sampled_from([0, 1, 16, 65536, -1, "16"]))
    return found


_SIZES = st.sampled_from([0, 1, 5, 100, 65535, 65536, 65537, 1048576])


@st.composite
def payloads(draw: st.DrawFn) -> Any:
    kind = _weighted(draw, {"text": 3, "pattern": 2, "view": 1, "string": 2, "raw": 1})
    if kind == "text":
        return draw(st.text(alphabet="abcxyz\n", min_size=0, max_size=8))
    if kind == "pattern":
        return {"pattern": draw(st.sampled_from(["a", "xyz", "0123456789"])), "size": draw(_SIZES)}
    if kind == "view":
        return {"text": "abcd", "view": draw(st.sampled_from(["ArrayBuffer", "DataView", "Uint16Array", "Int32Array"]))}
    if kind == "string":
        # A JS string chunk (UTF-8 encoded by the implementation), not bytes.
        return {"raw": draw(st.sampled_from(["str", "h\u00e9\n", ""]))}
    return {"raw": draw(st.sampled_from([42, None, {"$type": "undefined"}]))}


def _client(action: str, arg: Any, **more: Any) -> Step:
    return {action: arg, "within": CLIENT_WITHIN, **more}


#: Client actions with their weights: the ones most behaviours hinge on (writes, reads, both
#: closes, startTls) come up most, so a few hundred examples reach their combinations.
CLIENT_KINDS = {
    "opened": 2,
    "closed": 2,
    "write": 6,
    "read": 6,
    "read_bytes": 3,
    "close_writer": 3,
    "abort_writer": 1,
    "cancel_reader": 1,
    "close": 4,
    "get": 2,
    "start_tls": 3,
    "reader_lock": 1,
    "writer_lock": 1,
    "ready": 1,
    "desired_size": 1,
    "same": 1,
    "another_socket": 1,
}

#: Peer actions with their weights.
PEER_KINDS = {
    "accept": 1,
    "send": 5,
    "recv": 4,
    "wait_end": 3,
    "shutdown": 3,
    "close": 1,
    "reset": 2,
    "start_tls": 2,
    "sleep": 1,
}

#: Short sequences that most behaviours start from, drawn like single actions: the peer's FIN
#: read to done, bytes the peer sends read back, bytes written read by the peer, and an op
#: right after one of the closes.
IDIOMS = {
    "peer_eof": 5,
    "receive": 4,
    "deliver": 3,
    "after_close": 5,
}

_CLOSES = ["close", "close", "close_writer", "abort_writer", "cancel_reader"]
_AFTER_CLOSE = ["write", "read", "closed", "opened", "close", "close_writer", "start_tls", "desired_size"]

_KINDS = {
    **CLIENT_KINDS,
    **{f"peer.{kind}": weight for kind, weight in PEER_KINDS.items()},
    **{f"idiom.{kind}": weight for kind, weight in IDIOMS.items()},
}


@st.composite
def moves(draw: st.DrawFn, peer: str) -> list[Step]:
    """One action, or one idiom of a few."""
    kind = _weighted(draw, _KINDS)
    if kind == "idiom.peer_eof":
        # What the FIN did to the writable shows in what follows (allowHalfOpen).
        after = draw(st.sampled_from(["write", "closed", "close_writer"]))
        return [{"peer.shutdown": "write"}, _client("read", {}), _client("read", {}), draw(client_steps(peer, after))]
    if kind == "idiom.receive":
        return [draw(peer_steps(peer, "send")), _client("read", {})]
    if kind == "idiom.deliver":
        return [_client("write", draw(payloads())), draw(peer_steps(peer, "recv"))]
    if kind == "idiom.after_close":
        closing = _client(draw(st.sampled_from(_CLOSES)), {})
        return [closing, draw(client_steps(peer, draw(st.sampled_from(_AFTER_CLOSE))))]
    if kind.startswith("peer."):
        return [draw(peer_steps(peer, kind.removeprefix("peer.")))]
    return [draw(client_steps(peer, kind))]


@st.composite
def client_steps(draw: st.DrawFn, peer: str, kind: str) -> Step:
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
    if kind == "desired_size":
        return {"desired_size": {}}
    if kind == "same":
        return {"same": draw(st.sampled_from([["opened", "opened"], ["closed", "close()"], ["readable", "readable"]]))}
    if kind == "another_socket":
        # Several sockets at once: later client ops act on the newest one, peer ops on the newest connection.
        return {"connect": {"address": draw(st.sampled_from(_LISTENING if peer != "none" else _NOT_LISTENING))}}
    return _client(kind, {})


def _peer(action: str, arg: Any) -> Step:
    return {action: arg, "within": PEER_WITHIN}


@st.composite
def peer_steps(draw: st.DrawFn, peer: str, kind: str) -> Step:
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
def scenarios(draw: st.DrawFn, max_steps: int = MAX_STEPS) -> Scenario:
    peer = _weighted(draw, {"plain": 5, "tls": 1, "starttls": 1, "none": 1})
    connect: dict[str, Any] = {"address": draw(addresses(peer))}
    chosen = draw(options(peer))
    if chosen is not None:
        connect["options"] = chosen
    head: list[Step] = [{"connect": connect}]
    # Accepting early makes most scenarios exchange data; later steps are free.
    if peer != "none" and _weighted(draw, {"accept": 3, "later": 1}) == "accept":
        head.append(_peer("peer.accept", {}))
    # Drawn moves, not a list strategy of steps: lists favour a few elements, and the behaviours
    # worth comparing need several steps in a row (a FIN, reads to done, then a write).
    body: list[Step] = []
    for _ in range(int(_weighted(draw, {str(count): 1 for count in range(2, 7)}))):
        body.extend(draw(moves(peer)))
    return Scenario(peer, tuple(head + body[: max_steps - len(head)]))
