"""Moves: what a generated scenario does after its ``connect``, one action or one idiom at a time.

Every action of ``engine.actions.ACTIONS`` has an entry in ``GENERATED`` (how
the fuzzer draws it, by weight per feature) or in ``NOT_GENERATED`` (why not);
a unit test fails when an action is in neither, so a new action cannot be
forgotten here. An *idiom* is a short sequence most behaviours hinge on (the
peer's FIN read to done, then a write; megabytes queued, then ``close()``; seven
sockets at once), drawn like a single action so that a few hundred examples
reach it; hypothesis still shrinks inside it.

Steps are mappings exactly as a spec file writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ..engine.actions import ACTIONS, Kind
from .arguments import (
    LARGE_SIZES,
    MISSING,
    Listener,
    addresses,
    listening_addresses,
    one_of,
    options,
    payloads,
    peer_payloads,
    start_tls_arguments,
    weighted,
)

Step = dict[str, Any]

#: How long a generated client op waits before it counts as pending, and a peer op before it gives up.
CLIENT_WITHIN = "250ms"
#: Awaiting opened/closed may wait on a handshake, which a loaded machine can slow a lot.
AWAIT_WITHIN = "1s"
PEER_WITHIN = "600ms"
#: The peer reading everything until the client's FIN after megabytes were written.
DRAIN_WITHIN = "5s"
#: The peer's neutral wait: what it saw (data, FIN, RST or nothing) becomes the written expectation.
NEUTRAL_WAIT = "peer.expect_silence"
#: What a written case does in place of the neutral wait, by what the peer saw there.
AFTER_WAIT = {"eof": "peer.expect_eof", "reset": "peer.expect_reset", "data": "peer.recv"}
#: The second request of ``request: b`` (B2).
OTHER_REQUEST = "b"
#: ``Builder.client``'s ``request`` when the builder draws it.
DRAWN = "<drawn>"


class Builder:
    """The state of one scenario being drawn: its features, its listener, the sockets named so far."""

    def __init__(self, draw: st.DrawFn, features: Collection[str], listener: Listener) -> None:
        self.draw = draw
        self.features = frozenset(features)
        self.listener = listener
        #: Sockets are named (``as: s1``) when a feature acts on more than the newest one.
        self.named = bool(self.features & {"sockets", "limits", "tls", "upgrade"})
        self.sockets: list[str] = []
        #: The socket client ops act on by default: the newest one a connect or startTls named.
        self.current: str | None = None

    def has(self, feature: str) -> bool:
        return feature in self.features

    def pick(self, weights: dict[str, int]) -> str:
        return weighted(self.draw, {key: weight for key, weight in weights.items() if weight > 0})

    def coin(self, one_in: int) -> bool:
        return self.pick({"yes": 1, "no": one_in - 1}) == "yes"

    def _name(self, prefix: str) -> str:
        name = f"{prefix}{len(self.sockets) + 1}"
        self.sockets.append(name)
        self.current = name
        return name

    # -- client steps -------------------------------------------------------------------------------

    def connect(
        self, address: Any = None, *, request: str | None = None, with_options: bool = True, head: bool = False
    ) -> Step:
        chosen = self.draw(addresses(self.listener, self.features, head)) if address is None else address
        argument: dict[str, Any] = {} if chosen is MISSING else {"address": chosen}
        if with_options and chosen is not MISSING:  # options without an address cannot be written
            found = self.draw(options(self.listener, self.features))
            if found is not None:
                argument["options"] = found
        step: Step = {"connect": argument}
        if request is not None:
            step["request"] = request
        if self.named and request != "global":
            step["as"] = self._name("s")
        return step

    def client(
        self, action: str, argument: Any = None, *, socket: str | None = None, request: str | None = DRAWN
    ) -> Step:
        """A client op with its argument drawn (unless given), and now and then on an older socket or
        in the other request (unless ``request`` names one, or is None for the case's own)."""
        if argument is None:
            argument = GENERATED[action].argument(self)
        step: Step = {action: argument}
        if not ACTIONS[action].sync:
            step["within"] = AWAIT_WITHIN if action == "await" else CLIENT_WITHIN
        if socket is not None:
            step["socket"] = socket
        elif len(self.sockets) > 1 and self.coin(4):
            step["socket"] = one_of(self.draw, self.sockets)
        if request is DRAWN:
            request = OTHER_REQUEST if self.has("requests") and self.coin(10) else None
        if request is not None:
            step["request"] = request
        return step

    def start_tls(self, argument: Any = None, *, socket: str | None = None) -> Step:
        step = self.client("start_tls", argument, socket=socket)
        if self.named:
            step["as"] = self._name("t")
        return step

    def accept(self) -> Step:
        """The peer accepting the next connection (the action of ACTIONS that yields one)."""
        accepting = next(name for name, spec in ACTIONS.items() if spec.yields_connection)
        return self.peer(accepting, {})

    def opened(self) -> Step:
        """Awaiting the newest socket's opened, in the case's own request."""
        return self.client("await", "opened", socket=self.current, request=None)

    def peer(self, action: str, argument: Any = None, within: str | None = PEER_WITHIN) -> Step:
        step: Step = {action: GENERATED[action].argument(self) if argument is None else argument}
        if within is not None:
            step["within"] = within
        return step

    # -- moves --------------------------------------------------------------------------------------

    def theme(self) -> list[Step]:
        """An idiom of one of the features switched on, drawn before any other move: nothing has closed
        or reset the socket yet, so the idiom shows what it is there for (issue 23: the flush and
        half-open idioms were drawn, but mostly after a move that had already spoilt them)."""
        if self.listener.handshake:
            return IDIOMS["handshake"].build(self)
        themed = {name: idiom.weight(self.features, own=True) for name, idiom in IDIOMS.items()}
        if not any(themed.values()):
            return []
        return IDIOMS[self.pick(themed)].build(self)

    def move(self) -> list[Step]:
        """One action or one idiom, drawn by the weights of the features switched on."""
        kinds = {name: entry.weight(self.features) for name, entry in GENERATED.items()}
        kinds |= {f"idiom.{name}": idiom.weight(self.features) for name, idiom in IDIOMS.items()}
        kind = self.pick(kinds)
        if kind.startswith("idiom."):
            return IDIOMS[kind.removeprefix("idiom.")].build(self)
        return GENERATED[kind].build(self, kind)


# -- the table of actions -----------------------------------------------------------------------------


def _single(builder: Builder, action: str) -> list[Step]:
    spec = ACTIONS[action]
    if action == "connect":
        return [builder.connect()]
    if action == "start_tls":
        return [builder.start_tls()]
    if spec.kind is Kind.CLIENT:
        return [builder.client(action)]
    if action in ("peer.shutdown", "peer.close", "peer.reset", NEUTRAL_WAIT):
        return [builder.peer(action, within=None)]
    if action == "sleep":
        return [{"sleep": GENERATED[action].argument(builder)}]
    return [builder.peer(action)]


@dataclass(frozen=True)
class Generated:
    """How the fuzzer draws one action: its weight as a move of its own (per feature, ``None`` for
    every scenario) and its argument."""

    weights: dict[str | None, int]
    argument: Callable[[Builder], Any]
    build: Callable[[Builder, str], list[Step]] = _single
    #: A capability every step of it needs, whatever its argument (spec/README.md section 6).
    requires: str | None = None

    def weight(self, features: Collection[str]) -> int:
        return sum(weight for feature, weight in self.weights.items() if feature is None or feature in features)


def _same_pair(builder: Builder) -> list[str]:
    values = ["opened", "closed", "close()", "readable", "writable"]
    return [one_of(builder.draw, values), one_of(builder.draw, values)]


def _reason(builder: Builder) -> dict[str, Any]:
    return {} if builder.coin(2) else {"reason": one_of(builder.draw, ["why", {"$type": "undefined"}, 7])}


GENERATED: dict[str, Generated] = {
    "connect": Generated({"sockets": 3, "odd_addresses": 2, "sandbox": 2}, lambda b: None),
    "await": Generated({None: 4}, lambda b: one_of(b.draw, ["opened", "closed"])),
    "get": Generated({None: 2}, lambda b: one_of(b.draw, ["secureTransport", "upgraded", "readable_identity"])),
    "read": Generated({None: 6}, lambda b: {}),
    "read_bytes": Generated({None: 3}, lambda b: {"n": one_of(b.draw, [1, 3, 5, 100])}),
    "write": Generated({None: 6, "large": 2}, lambda b: b.draw(payloads(b.features))),
    "close_writer": Generated({None: 3}, lambda b: {}),
    "abort_writer": Generated({None: 1}, _reason),
    "cancel_reader": Generated({None: 1}, _reason),
    "get_reader": Generated({"locks": 2}, lambda b: {}),
    "get_writer": Generated({"locks": 2}, lambda b: {}),
    "release_lock": Generated({"locks": 3}, lambda b: one_of(b.draw, ["readable", "writable"])),
    "ready": Generated({None: 1, "large": 2}, lambda b: {}),
    "desired_size": Generated({None: 1, "large": 2, "odd_options": 2}, lambda b: {}),
    "close": Generated({None: 4}, lambda b: {}),
    "same": Generated({None: 1}, _same_pair),
    "start_tls": Generated({"tls": 4}, lambda b: b.draw(start_tls_arguments()), requires="starttls"),
    "peer.accept": Generated({None: 1, "sockets": 2}, lambda b: {}),
    "peer.send": Generated({None: 5}, lambda b: b.draw(peer_payloads(b.features))),
    "peer.recv": Generated({None: 4}, lambda b: {"n": one_of(b.draw, [1, 2, 5, None])}),
    # A neutral wait: what the peer saw (data, FIN, RST or nothing) becomes the expectation.
    "peer.expect_silence": Generated({None: 3}, lambda b: {"for": "200ms"}),
    "peer.shutdown": Generated({None: 1, "fin_rst": 3, "half_open": 2}, lambda b: "write"),
    "peer.close": Generated({"fin_rst": 2}, lambda b: {}),
    "peer.reset": Generated({None: 1, "fin_rst": 3}, lambda b: {}),
    "peer.start_tls": Generated({"tls": 3}, lambda b: {}, requires="starttls"),
    "sleep": Generated({None: 1}, lambda b: "100ms"),
}

#: Actions no scenario draws, and why.
NOT_GENERATED: dict[str, str] = {
    "peer.expect_eof": "written in place of a peer.expect_silence when the peer saw the client's FIN",
    "peer.expect_reset": "written in place of a peer.expect_silence when the peer saw a reset",
    "peer.echo": "it waits for the client's FIN; peer.recv {n: null} reads until it too",
    "join": "no step is started in the background (a pending op is simply left pending)",
    "end": "written when the session's end diverges (unhandled rejections)",
    "driver": "a real client library's scenario against the case's server: (no generated scenario has one)",
}


def unaccounted() -> list[str]:
    """Actions of ACTIONS neither generated nor listed as not generated (a new action the fuzzer does
    not know), and client actions that are not generated: an implementation's every op must be fuzzed
    (a driver scenario aside: it needs a server of the case's, which generated scenarios have not)."""
    missing = [name for name in ACTIONS if name not in GENERATED and name not in NOT_GENERATED]
    clients = [name for name, spec in ACTIONS.items() if spec.kind is Kind.CLIENT and not spec.drives_server]
    return missing + [name for name in clients if name not in GENERATED and name not in missing]


# -- idioms ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Idiom:
    weights: dict[str | None, int]
    build: Callable[[Builder], list[Step]]

    def weight(self, features: Collection[str], *, own: bool = False) -> int:
        """Its weight given the features on; ``own``: only what those features add (a scenario's theme)."""
        return sum(
            weight for feature, weight in self.weights.items() if (feature is None and not own) or feature in features
        )


def _receive(b: Builder) -> list[Step]:
    return [b.peer("peer.send"), b.client(b.pick({"read": 3, "read_bytes": 1}))]


def _deliver(b: Builder) -> list[Step]:
    return [b.client("write"), b.peer("peer.recv")]


_CLOSES = {"close": 2, "close_writer": 1, "abort_writer": 1, "cancel_reader": 1}
_AFTER_CLOSE = {
    "write": 3,
    "read": 2,
    "closed": 2,
    "opened": 1,
    "close": 1,
    "close_writer": 1,
    "desired_size": 1,
    "ready": 1,
    "start_tls": 1,
}


def _then(b: Builder, action: str) -> Step:
    if action in ("opened", "closed"):
        return b.client("await", action)
    if action == "start_tls":
        return b.start_tls()
    return b.client(action)


def _after_close(b: Builder) -> list[Step]:
    after = dict(_AFTER_CLOSE, start_tls=_AFTER_CLOSE["start_tls"] if b.has("tls") else 0)
    return [b.client(b.pick(_CLOSES)), _then(b, b.pick(after))]


def _peer_eof(b: Builder) -> list[Step]:
    """The peer's FIN read to done, then what allowHalfOpen decides (B31, B33), or more reads (B27)."""
    steps = [b.peer("peer.send")] if b.coin(4) else []
    steps += [b.peer("peer.shutdown", "write", within=None), b.client("read", {}), b.client("read", {})]
    after = b.pick({"write": 6, "closed": 2, "close_writer": 2, "close": 2, "read": 2, "desired_size": 1})
    steps.append(_then(b, after))
    if after == "close":
        steps.append(b.client("await", "closed"))
    return steps


def _fin_then_write(b: Builder) -> list[Step]:
    """A write after the peer's FIN arrived but before it was read (B31: still writable)."""
    return [b.peer("peer.shutdown", "write", within=None), {"sleep": "100ms"}, b.client("write")]


def _abrupt(b: Builder) -> list[Step]:
    ending = b.pick({"peer.reset": 3, "peer.close": 2})
    after = b.pick({"read": 4, "write": 2, "closed": 2, "close": 1})
    return [b.peer(ending, within=None), _then(b, after)]


def _large(b: Builder) -> Any:
    return {"pattern": "xyz", "size": b.pick(LARGE_SIZES)}


def _flush(b: Builder) -> list[Step]:
    """Megabytes queued (the peer reads nothing yet), then a close: every byte must still arrive (B35)."""
    steps = [b.client("write", _large(b))]
    if b.coin(2):
        steps.append(b.client("write", _large(b) if b.coin(2) else None))
    closing = b.pick({"close": 4, "close_writer": 2})
    steps.append(b.client(closing, {}, socket=b.current))
    steps.append(b.peer("peer.recv", {"n": None}, within=DRAIN_WITHIN))
    return steps


def _backpressure(b: Builder) -> list[Step]:
    """A large write against the highWaterMark: ready and desiredSize while it drains (B15)."""
    steps = [b.client("write", _large(b))]
    steps.append(b.client(b.pick({"ready": 2, "desired_size": 2, "write": 1})))
    if b.coin(2):
        steps.append(b.peer("peer.recv", {"n": one_of(b.draw, [1, 65536, "1MiB"])}))
    return steps


def _burst(b: Builder) -> list[Step]:
    """Five to eight connects in a row: the six-connection limit of a request (B48)."""
    count = int(b.pick({"5": 1, "6": 2, "7": 4, "8": 3}))
    kind = b.pick(
        {"listening": 5, "refused": 2, "refused_then_listening": 2} if b.listener.listening else {"refused": 1}
    )
    listening = listening_addresses(b.listener)[0]
    split = count // 2 if b.has("requests") and b.coin(2) else count
    steps = []
    for index in range(count):
        last = index == count - 1
        refused = kind == "refused" or (kind == "refused_then_listening" and not last)
        address = "${peer.refused_address}" if refused else listening
        steps.append(b.connect(address, request=OTHER_REQUEST if index >= split else None, with_options=False))
    newest = b.sockets[-1] if b.sockets else None
    after = b.pick(
        {"opened": 3, "close_then_opened": 2, "close_first": 4, "reset_then_opened": 4, "write": 1, "accept": 1}
    )
    if after == "close_then_opened" and len(b.sockets) > 1:
        steps.append(b.client("close", {}, socket=b.sockets[-2]))
    if after == "close_first" and len(b.sockets) >= 8:
        # Two sockets wait: the slot the first one frees goes to the one that waited longest (B48).
        steps.append(b.client("close", {}, socket=b.sockets[0]))
        newest = b.sockets[6]
    if after == "reset_then_opened":
        # A connection lost to the peer's reset frees its slot too (B48): the seventh socket gets it.
        steps += [b.accept(), b.peer("peer.reset", within=None)]
        newest = b.sockets[6] if len(b.sockets) >= 7 else newest
    if after == "write":
        steps.append(b.client("write", "queued", socket=newest))
    elif after == "accept":
        steps.append(b.peer("peer.accept", {}))
    steps.append(b.client("await", "opened", socket=newest))
    return steps


def _cross_request(b: Builder) -> list[Step]:
    """An op from another request's handler on this request's socket (B2), or a socket of the other request."""
    if b.coin(3):
        steps = [b.connect(request=OTHER_REQUEST)]
        return [*steps, b.client(b.pick({"write": 2, "read": 1, "close": 1}), request=None)]
    op = b.pick({"write": 3, "read": 2, "close": 2, "close_writer": 1, "get_reader": 1, "cancel_reader": 1})
    steps = [b.client(op, request=OTHER_REQUEST)]
    if op in ("close", "close_writer"):
        steps.append(b.client("await", "closed", request=None))
    return steps


def _global_connect(b: Builder) -> list[Step]:
    """connect() at module evaluation (B1), with any address."""
    return [b.connect(request="global")]


def _upgrade(b: Builder) -> list[Step]:
    """startTls() and what the old and the new socket do next (B39, B40)."""
    old = b.current
    steps = [b.start_tls()]
    new = b.current
    follow = {
        "peer.start_tls": 4,
        "opened": 3,
        "old_upgraded": 2,
        "new_upgraded": 1,
        "old_closed": 2,
        "again": 2,
        "write": 1,
        "read": 1,
        "desired_size": 1,
        "secure": 1,
    }
    for _ in range(int(b.pick({"1": 1, "2": 2, "3": 2}))):
        kind = b.pick(follow)
        if kind == "peer.start_tls":
            steps.append(b.peer("peer.start_tls", {}))
        elif kind == "opened":
            steps.append(b.client("await", "opened", socket=new))
        elif kind in ("old_upgraded", "new_upgraded"):
            steps.append(b.client("get", "upgraded", socket=old if kind == "old_upgraded" else new))
        elif kind == "secure":
            steps.append(b.client("get", "secureTransport", socket=new))
        elif kind == "old_closed":
            steps.append(b.client("await", "closed", socket=old))
        elif kind == "again":
            steps.append(b.start_tls(socket=old))
        else:
            steps.append(b.client(kind, socket=new))
    return steps


#: The peer's side of a handshake: a loaded machine can take seconds (the spec's cases wait 5 s too).
HANDSHAKE_WITHIN = "5s"
#: What is checked between startTls() and the peer's handshake, each at most once (B39, B40): the old
#: socket's upgraded (true at once) and closed (resolves), the new one's upgraded (false) and
#: desiredSize (the highWaterMark it inherits), a second startTls() (throws).
_WHILE_UPGRADING = {"old_upgraded": 3, "new_upgraded": 3, "again": 2, "old_closed": 2, "desired_size": 2}


def _handshake(b: Builder) -> list[Step]:
    """The theme of a listener the ``upgrade`` feature drew (the head connect used its transport and
    the peer accepted): for "on", opened after the peer's handshake (B17, B18, B45); for "starttls",
    startTls() and everything it changes, then the peer's handshake and the new socket's opened."""
    if b.listener.kind == "tls":
        steps = [b.client("await", "opened", socket=b.current)]
        if b.coin(2):
            steps.append(b.client("get", "secureTransport", socket=b.current))
        return steps
    old = b.current
    # Writes on the new socket wait for the peer's handshake: a queue of them, then perhaps a close
    # (which must flush every one) or an abort (which must settle every one) (B16, B35, B56).
    queued = int(b.pick({"0": 2, "2": 1, "3": 1, "9": 1, "10": 1}))
    steps = [b.client("await", "opened", socket=old)] if b.coin(2) and queued < 9 else []
    steps.append(b.start_tls(b.draw(start_tls_arguments())))
    new = b.current
    checks = dict(_WHILE_UPGRADING)
    for _ in range(int(b.pick({"1": 1, "2": 2, "3": 2})) if queued < 9 else 0):
        kind = b.pick(checks)
        checks[kind] = 0
        if kind in ("old_upgraded", "new_upgraded"):
            steps.append(b.client("get", "upgraded", socket=old if kind == "old_upgraded" else new))
        elif kind == "again":
            steps.append(b.start_tls(socket=old))
            b.current = new
        elif kind == "old_closed":
            steps.append(b.client("await", "closed", socket=old))
        else:
            steps.append(b.client("desired_size", {}, socket=new))
    if queued:
        return [*steps, *_queued_writes(b, queued, new)]
    steps.append(b.peer("peer.start_tls", {}, within=HANDSHAKE_WITHIN))
    steps.append(b.client("await", "opened", socket=new))
    after = b.pick({"old_upgraded": 1, "desired_size": 2, "nothing": 2})
    if after == "old_upgraded":
        steps.append(b.client("get", "upgraded", socket=old))
    elif after == "desired_size":
        steps.append(b.client("desired_size", {}, socket=new))
    return steps


def _queued_writes(b: Builder, count: int, socket: str | None) -> list[Step]:
    """``count`` writes queued on a socket whose handshake waits for the peer, each named (``as``) so
    that a later ``await`` finds it; then a close, an abort or nothing; then the peer's handshake, and
    what it received (or, after an abort, the last write's promise)."""
    chunks = [f"w{index:02};" for index in range(count)]
    steps = [
        {**b.client("write", chunk, socket=socket, request=None), "as": f"q{index}"}
        for index, chunk in enumerate(chunks)
    ]
    ending = b.pick({"close": 2, "abort_writer": 2, "nothing": 1})
    if ending != "nothing":
        steps.append(b.client(ending, {}, socket=socket, request=None))
    steps.append(b.peer("peer.start_tls", {}, within=HANDSHAKE_WITHIN))
    if ending == "abort_writer":
        steps.append(b.client("await", f"q{count - 1}", socket=socket, request=None))
    else:
        total = sum(map(len, chunks))
        steps.append(b.peer("peer.recv", {"n": None if ending == "close" else total}, within=DRAIN_WITHIN))
    return steps


def _second_lock(b: Builder) -> list[Step]:
    """A second getReader() or getWriter() while the first still holds the lock: it throws (B30)."""
    op = b.pick({"get_reader": 1, "get_writer": 1})
    steps = [b.client(op, socket=b.current)]
    if b.coin(3):
        steps.append(b.client("read" if op == "get_reader" else "write", socket=b.current))
    return [*steps, b.client(op, socket=b.current)]


def _two_sockets(b: Builder) -> list[Step]:
    """A second socket to the same peer; one of them closed; the other used (B51)."""
    first = b.current
    steps = [b.connect(listening_addresses(b.listener)[0] if b.listener.listening else None)]
    second = b.current
    closed, other = (first, second) if b.coin(2) else (second, first)
    steps.append(b.client("close", {}, socket=closed))
    after = b.pick({"closed": 2, "opened": 1, "write": 2, "read": 1})
    if after in ("closed", "opened"):
        steps.append(b.client("await", after, socket=other))
    else:
        steps.append(b.client(after, socket=other))
    return steps


IDIOMS: dict[str, Idiom] = {
    "receive": Idiom({None: 4}, _receive),
    "deliver": Idiom({None: 3}, _deliver),
    "after_close": Idiom({None: 5}, _after_close),
    "peer_eof": Idiom({None: 2, "half_open": 8, "fin_rst": 2}, _peer_eof),
    "fin_then_write": Idiom({"half_open": 3, "fin_rst": 1}, _fin_then_write),
    "abrupt": Idiom({None: 1, "fin_rst": 6}, _abrupt),
    "flush": Idiom({"large": 8}, _flush),
    "backpressure": Idiom({"large": 3}, _backpressure),
    "burst": Idiom({"limits": 12}, _burst),
    "cross_request": Idiom({"requests": 8}, _cross_request),
    "global_connect": Idiom({"global": 8}, _global_connect),
    "upgrade": Idiom({"tls": 8}, _upgrade),
    # Only as the theme of a listener the ``upgrade`` feature drew (``Builder.theme``).
    "handshake": Idiom({}, _handshake),
    "two_sockets": Idiom({"sockets": 6}, _two_sockets),
    "second_lock": Idiom({"locks": 6}, _second_lock),
}
