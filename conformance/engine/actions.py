"""Every step action of the case format, as one table (spec/README.md, section 3).

An ``ActionSpec`` says all the harness knows about one action: whether the
implementation (client), our server (peer) or the harness itself (control)
performs it, whether a client op returns synchronously, how its request is
built from the step, what it expects when the step says nothing, which
expectation kinds it accepts, and which judge applies to a peer observation.
The interpreter and the runner are driven by this table, the loader's lint
rules read it, and a test checks it against the schema's ``$defs.actions``
both ways.

Adding a client action means: an entry here, its argument schema in
``schema/case.schema.json``, its request schema in ``protocol/schemas/``, the
reference adapter's handler, the JS interpreter's handler, and the docs
(docs/architecture.md has the full recipe).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from conformance_peer import ChunkPlan, PeerCall
from conformance_peer.calls import Accept, Close, Echo, Recv, Reset, Send, ShutdownWrite, StartTls, WaitEnd

from ..core import units
from ..core.jsshow import show
from ..core.model import Step
from ..errors import ConformanceError
from ..protocol.replies import SHAPE_OF_OP, Shape
from . import judging
from .values import to_bytes, to_protocol_value

Expect = dict[str, Any]


#: The ``request`` of a client op that runs where no request is being handled (module evaluation).
GLOBAL_SCOPE = "global"


class Kind(StrEnum):
    CLIENT = "client"  # the implementation does it, through the adapter
    PEER = "peer"  # our server does it
    CONTROL = "control"  # the harness itself (waiting, joining, ending the session)


# -- what builders return ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientRequest:
    """A request for the adapter (without ``seq``), and the shape its settled value must have."""

    request: dict[str, Any]
    shape: Shape = "any"
    #: What the transcript shows of the request when it is not all of it (a server's password and CA stay out).
    shown: dict[str, Any] | None = None


@dataclass(frozen=True)
class SleepFor:
    seconds: float


@dataclass(frozen=True)
class JoinNamed:
    """Wait for the background step ``name`` and judge it."""

    name: str


@dataclass(frozen=True)
class EndNow:
    """End the adapter session now and judge its report."""


Built = ClientRequest | PeerCall | SleepFor | JoinNamed | EndNow


class Planner(Protocol):
    """What builders may ask of the interpreter: names resolved to handles, and step timings."""

    def socket(self, step: Step) -> str: ...
    def connection(self, step: Step) -> str: ...
    def new_connection(self, step: Step) -> str: ...
    def promise(self, name: str) -> tuple[str, Shape] | None: ...
    def is_background(self, name: str) -> bool: ...
    def within(self, step: Step) -> float: ...
    def timeout_ms(self, step: Step) -> int: ...
    def server(self) -> dict[str, Any]: ...


Builder = Callable[[Planner, Step, Any], Built]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    kind: Kind
    summary: str
    build: Builder
    #: What a step without ``expect`` must observe (client actions; peer judges know their own default).
    default_expect: Expect | None = None
    #: Expectation kinds a step of this action may write.
    expects: frozenset[str] = frozenset()
    #: A client op that returns or throws synchronously (the rest settle a promise).
    sync: bool = False
    #: Its reply names a socket (``connect``, ``start_tls``): later steps act on it.
    yields_socket: bool = False
    #: It accepts a connection (``peer.accept``): later peer steps act on it.
    yields_connection: bool = False
    #: It may run where no request is being handled (``request: global``, B1): ``connect``.
    module_scope: bool = False
    #: Its argument names a background step (``join``).
    joins: bool = False
    #: It runs a real client library against the case's ``server:`` (``driver``).
    drives_server: bool = False
    judge: judging.PeerJudge | None = None
    #: How long the op may take when the step gives no ``within`` (``None``: the interpreter's default, 2 s).
    default_within: float | None = None


# -- builders ---------------------------------------------------------------------------------------


def _client(op: str, *, with_socket: bool = True, sync: bool = False, **fixed: Any) -> Builder:
    """A client op whose request is the op name, the socket, the fixed fields and (for promises) timeout_ms."""

    def build(planner: Planner, step: Step, arg: Any) -> Built:
        request: dict[str, Any] = {"op": op}
        if with_socket:
            request["socket"] = planner.socket(step)
        request.update(fixed)
        if not sync:
            request["timeout_ms"] = planner.timeout_ms(step)
        return ClientRequest(request, SHAPE_OF_OP.get(op, "any"))

    return build


def _with_options(op: str, request: dict[str, Any], arg: Mapping[str, Any]) -> ClientRequest:
    if "options" in arg:
        request["options"] = arg["options"]
    return ClientRequest(request, SHAPE_OF_OP[op])


def _connect(planner: Planner, step: Step, arg: Any) -> Built:
    # No `address` key: connect() is called with no argument at all (B52).
    request = {"op": "connect", "address": arg["address"]} if "address" in arg else {"op": "connect"}
    return _with_options("connect", request, arg)


def _start_tls(planner: Planner, step: Step, arg: Any) -> Built:
    return _with_options("start_tls", {"op": "start_tls", "socket": planner.socket(step)}, arg)


def _await(planner: Planner, step: Step, arg: Any) -> Built:
    if planner.is_background(arg):
        return JoinNamed(arg)
    if arg in ("opened", "closed"):
        request = {"op": "await", "socket": planner.socket(step), "promise": arg}
        return ClientRequest({**request, "timeout_ms": planner.timeout_ms(step)})
    named = planner.promise(arg)
    if named is None:
        raise SpecRuntimeError(f"nothing to await named {show(arg)}")
    handle, shape = named
    return ClientRequest({"op": "await", "promise": handle, "timeout_ms": planner.timeout_ms(step)}, shape)


def _with_field(op: str, field: str, value: Callable[[Any], Any], sync: bool = False) -> Builder:
    def build(planner: Planner, step: Step, arg: Any) -> Built:
        built = _client(op, sync=sync)(planner, step, arg)
        assert isinstance(built, ClientRequest)
        built.request[field] = value(arg)
        return built

    return build


def _same(planner: Planner, step: Step, arg: Any) -> Built:
    left, right = arg
    return ClientRequest({"op": "same", "socket": planner.socket(step), "a": left, "b": right}, SHAPE_OF_OP["same"])


def _read_bytes(planner: Planner, step: Step, arg: Any) -> Built:
    built = _client("read_bytes")(planner, step, arg)
    assert isinstance(built, ClientRequest)
    built.request["n"] = None if arg["n"] is None else units.size(arg["n"])
    built.request["digest"] = bool(arg.get("digest", False))
    return built


def _with_reason(op: str) -> Builder:
    def build(planner: Planner, step: Step, arg: Any) -> Built:
        built = _client(op)(planner, step, arg)
        assert isinstance(built, ClientRequest)
        if "reason" in arg:
            built.request["reason"] = arg["reason"]
        return built

    return build


#: What a transcript never shows of a server (``drivers/model.py``: ``ServerInfo.variables``).
SERVER_SECRETS = ("password", "ca")
#: A driver's scenario connects, authenticates and moves up to 10 MiB: far more than a socket op's 2 s.
DRIVER_WITHIN = 20.0


def _driver(planner: Planner, step: Step, arg: Any) -> Built:
    server = planner.server()
    request = {
        "op": "driver",
        "driver": arg["name"],
        "scenario": arg["scenario"],
        "options": arg.get("options", {}),
        "server": server,
        "timeout_ms": planner.timeout_ms(step),
    }
    public = {key: value for key, value in server.items() if key not in SERVER_SECRETS}
    return ClientRequest(request, shown={**request, "server": public})


def _chunks(arg: Any) -> ChunkPlan | None:
    plan = arg.get("chunks") if isinstance(arg, dict) else None
    return None if plan is None else ChunkPlan(min=plan["min"], max=plan["max"], seed=plan.get("seed", 0))


def _peer_accept(planner: Planner, step: Step, arg: Any) -> Built:
    expect = step.expect or {}
    timeout = units.seconds(expect["no_connection"]["for"]) if "no_connection" in expect else planner.within(step)
    return Accept(planner.new_connection(step), timeout)


def _peer_send(planner: Planner, step: Step, arg: Any) -> Built:
    data = arg["data"] if isinstance(arg, dict) and "data" in arg else arg
    chunks = _chunks(arg) if isinstance(arg, dict) and "data" in arg else None
    return Send(planner.connection(step), to_bytes(data), chunks, planner.within(step))


def _peer_recv(planner: Planner, step: Step, arg: Any) -> Built:
    n = None if arg["n"] is None else units.size(arg["n"])
    return Recv(planner.connection(step), n, planner.within(step), bool(arg.get("digest", False)))


def _peer_wait_end(planner: Planner, step: Step, arg: Any) -> Built:
    return WaitEnd(planner.connection(step), planner.within(step))


def _peer_expect_silence(planner: Planner, step: Step, arg: Any) -> Built:
    return WaitEnd(planner.connection(step), units.seconds(arg["for"]))


def _peer_echo(planner: Planner, step: Step, arg: Any) -> Built:
    return Echo(planner.connection(step), _chunks(arg), planner.within(step))


def _peer_start_tls(planner: Planner, step: Step, arg: Any) -> Built:
    return StartTls(planner.connection(step), planner.within(step))


def _on_connection(call: type[ShutdownWrite | Close | Reset]) -> Builder:
    def build(planner: Planner, step: Step, arg: Any) -> Built:
        return call(planner.connection(step))

    return build


def _sleep(planner: Planner, step: Step, arg: Any) -> Built:
    return SleepFor(units.seconds(arg))


def _join(planner: Planner, step: Step, arg: Any) -> Built:
    return JoinNamed(arg)


def _end(planner: Planner, step: Step, arg: Any) -> Built:
    return EndNow()


class SpecRuntimeError(ConformanceError):
    """The case asked for something impossible at run time (no such socket, promise or connection)."""


# -- the table ---------------------------------------------------------------------------------------

_RETURNS: Expect = {"returns": {"$any": True}}
_RESOLVES: Expect = {"resolves": {"$any": True}}
_SYNC = frozenset({"returns", "throws", "any_of"})
_PROMISE = frozenset({"resolves", "rejects", "settles", "pending", "throws", "any_of"})
_READ = _PROMISE | {"done", "chunk", "bytes", "size"}
_ANY = frozenset(judging.CLIENT_EXPECTATIONS) | {"no_connection", "tls"}


def _sync(name: str, summary: str, build: Builder, **more: Any) -> ActionSpec:
    more.setdefault("default_expect", _RETURNS)
    return ActionSpec(name, Kind.CLIENT, summary, build, expects=_SYNC, sync=True, **more)


def _promise(name: str, summary: str, build: Builder, expects: frozenset[str] = _PROMISE, **more: Any) -> ActionSpec:
    return ActionSpec(name, Kind.CLIENT, summary, build, default_expect=_RESOLVES, expects=expects, **more)


def _peer(
    name: str,
    summary: str,
    build: Builder,
    judge: judging.PeerJudge,
    expects: frozenset[str] = frozenset(),
    **more: Any,
) -> ActionSpec:
    return ActionSpec(name, Kind.PEER, summary, build, expects=expects | {"any_of"}, judge=judge, **more)


_ACTIONS = (
    _sync(
        "connect",
        "connect(address, options)",
        _connect,
        default_expect={"returns": "socket"},
        yields_socket=True,
        module_scope=True,
    ),
    _promise("await", "await opened, closed, a pending promise or a background step", _await, _READ),
    _sync("get", "read a property of the socket", _with_field("get", "property", lambda arg: arg, sync=True)),
    _promise("read", "reader.read(): one chunk or done", _client("read"), _PROMISE | {"done", "chunk"}),
    _promise("read_bytes", "read until N bytes or done", _read_bytes, _PROMISE | {"done", "bytes", "size"}),
    _promise("write", "writer.write(chunk)", _with_field("write", "data", to_protocol_value)),
    _promise("close_writer", "writer.close(): half-close (FIN)", _client("close_writer")),
    _promise("abort_writer", "writer.abort(reason)", _with_reason("abort_writer")),
    _promise("cancel_reader", "reader.cancel(reason)", _with_reason("cancel_reader")),
    _sync("get_reader", "a new socket.readable.getReader()", _client("get_reader", sync=True)),
    _sync("get_writer", "a new socket.writable.getWriter()", _client("get_writer", sync=True)),
    _sync(
        "release_lock",
        "release the current reader or writer",
        _with_field("release_lock", "stream", lambda arg: arg, sync=True),
    ),
    _promise("ready", "await writer.ready", _client("ready")),
    _sync("desired_size", "read writer.desiredSize", _client("desired_size", sync=True)),
    _promise("close", "socket.close()", _client("close")),
    _sync("same", "compare two of the socket's values with ===, evaluated left to right", _same),
    _sync(
        "start_tls",
        "socket.startTls(options)",
        _start_tls,
        default_expect={"returns": "socket"},
        yields_socket=True,
    ),
    _promise(
        "driver",
        "a scenario of a real client library (pg, Redis, ...), run in the runtime against the case's server",
        _driver,
        default_within=DRIVER_WITHIN,
        drives_server=True,
    ),
    _peer(
        "peer.accept",
        "wait for the next incoming connection",
        _peer_accept,
        judging.judge_accept,
        frozenset({"no_connection", "tls"}),
        yields_connection=True,
    ),
    _peer("peer.send", "send bytes, in chunks of random sizes with `chunks`", _peer_send, judging.judge_transfer),
    _peer(
        "peer.recv",
        "receive exactly N bytes, or until EOF",
        _peer_recv,
        judging.judge_transfer,
        frozenset({"bytes", "size"}),
    ),
    _peer("peer.expect_eof", "the client's FIN arrives", _peer_wait_end, judging.judge_end_seen("eof")),
    _peer("peer.expect_reset", "the client's RST arrives", _peer_wait_end, judging.judge_end_seen("reset")),
    _peer(
        "peer.expect_silence", "nothing arrives for a while", _peer_expect_silence, judging.judge_end_seen("silence")
    ),
    _peer("peer.echo", "echo everything until EOF", _peer_echo, judging.judge_transfer, frozenset({"size"})),
    _peer("peer.shutdown", "half-close: send FIN", _on_connection(ShutdownWrite), judging.judge_transfer),
    _peer("peer.close", "close the connection", _on_connection(Close), judging.judge_transfer),
    _peer("peer.reset", "abort with RST", _on_connection(Reset), judging.judge_transfer),
    _peer(
        "peer.start_tls",
        "upgrade the connection to TLS, server side",
        _peer_start_tls,
        judging.judge_start_tls,
        frozenset({"tls"}),
    ),
    ActionSpec("sleep", Kind.CONTROL, "wait", _sleep),
    ActionSpec("join", Kind.CONTROL, "wait for a background step and judge it", _join, expects=_ANY, joins=True),
    ActionSpec(
        "end",
        Kind.CONTROL,
        "end the adapter session and judge its report",
        _end,
        expects=frozenset({"unhandled_rejections"}),
    ),
)

#: Action name -> its spec, in the order of spec/README.md.
ACTIONS: dict[str, ActionSpec] = {spec.name: spec for spec in _ACTIONS}


def by_kind(kind: Kind) -> tuple[str, ...]:
    return tuple(name for name, spec in ACTIONS.items() if spec.kind is kind)
