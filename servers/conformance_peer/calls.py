"""Every op of a peer session as a typed call, which is also the control message that carries it.

A call is a frozen dataclass. Its class names the op (`op="send"`) and the
results the op answers; its fields are the op's arguments, and what a field
may hold on the control channel is the rule of its name in `ARGUMENTS`. One
class serves every place a call goes:

- in process, `PeerSession.perform(call)` runs the session's method of the op
  with the call's fields;
- to a peer service, the harness sends `call.as_message()`; the service reads it
  back with `PeerCall.from_message` (through the table of `_requests`, which is
  made from these classes), performs it and answers `call.result_to_wire(result)`;
- the harness turns that answer into the typed result with `call.result_from_wire`.

A new op is a class here and the method of its name on `PeerSession`.
This module loads neither asyncio nor ssl: the harness's pure engine builds
calls without loading the server.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from . import wire
from ._chunks import ChunkPlan
from ._errors import WireError
from ._results import Accepted, Done, Echoed, EndSeen, NoConnection, PeerResult, Received, Sent, TlsInfo
from ._rules import Base64Bytes, Fields, Flag, Integer, Nullable, Number, Rule, Text, shown

CHUNKS = Nullable(
    Fields(
        {"min": Integer(minimum=1), "max": Integer(minimum=1), "seed": Integer()},
        tag="ChunkPlan",
        build=ChunkPlan,
        meaning='null or a chunk plan, {type: "ChunkPlan", min, max, seed}',
    )
)

ARGUMENTS: dict[str, Rule] = {
    "name": Text(min_length=1),
    "conn": Text(),
    "data": Base64Bytes(),
    "chunks": CHUNKS,
    "n": Nullable(Integer(minimum=0)),
    "timeout": Number(minimum=0),
    "digest": Flag(),
}
"""What each argument may hold on the control channel, by its name: a name means the same in every op."""

CALLS: dict[str, type["PeerCall"]] = {}
"""Every call class by its op, in the order they are defined."""


@dataclass(frozen=True)
class PeerCall:
    """One op of a peer session with its arguments (the subclasses below)."""

    op: ClassVar[str]
    """The op's name: the `PeerSession` method and the control request's `op`."""
    results: ClassVar[tuple[type, ...]]
    """The result types the op answers."""

    def __init_subclass__(cls, *, op: str, results: tuple[type, ...], **more: Any) -> None:
        super().__init_subclass__(**more)
        if op in CALLS:
            raise TypeError(f"two calls of op {op!r}: {CALLS[op].__name__} and {cls.__name__}")
        cls.op = op
        cls.results = results
        CALLS[op] = cls

    def args(self) -> dict[str, Any]:
        """The op's arguments by name, as the session's method takes them."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def time_limit(self) -> float | None:
        """How long the op may take by its own arguments (its `timeout`); None for an op without one."""
        timeout: float | None = getattr(self, "timeout", None)
        return timeout

    @classmethod
    def rule(cls) -> Fields:
        """What the `args` of this op's request must be, field by field; it builds the call."""
        names = [field.name for field in dataclasses.fields(cls)]
        return Fields({name: ARGUMENTS[name] for name in names}, build=cls, meaning=f"an object of {', '.join(names)}")

    def as_message(self) -> dict[str, Any]:
        """The call as a control request carries it (a client adds `id` and `session`)."""
        return {"op": self.op, "args": wire.to_wire(self.args())}

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> "PeerCall":
        """The call a request's `op` and `args` stand for; WireError, beginning with the op, names a wrong field."""
        op = message.get("op")
        call = CALLS.get(op) if isinstance(op, str) else None
        if call is None or not issubclass(call, cls):
            raise WireError(f"{shown(op)} is not an op of a peer session")
        if "args" not in message:
            raise WireError(f"{op}: args is missing")
        try:
            parsed: PeerCall = call.rule().parse(message["args"], "args")
        except WireError as exc:
            raise WireError(f"{op}: {exc}") from None
        return parsed

    def result_to_wire(self, result: PeerResult) -> Any:
        """The answer's `result` for what performing this call gave: `null` for `Done`."""
        return None if isinstance(result, Done) else wire.to_wire(result)

    def result_from_wire(self, value: Any) -> PeerResult:
        """The typed result of an answer to this call; WireError when it is not one this op answers."""
        result = Done() if value is None else wire.from_wire(value)
        if not isinstance(result, self.results):
            expected = " or ".join(kind.__name__ for kind in self.results)
            raise WireError(f"{self.op} answers {expected}, not {type(result).__name__}")
        return cast(PeerResult, result)  # one of this op's result types, each a PeerResult


@dataclass(frozen=True)
class Accept(PeerCall, op="accept", results=(Accepted, NoConnection)):
    """Take the next incoming connection (or one that came earlier) and name it `name`."""

    name: str
    timeout: float


@dataclass(frozen=True)
class Send(PeerCall, op="send", results=(Sent,)):
    conn: str
    data: bytes
    chunks: ChunkPlan | None
    timeout: float


@dataclass(frozen=True)
class Recv(PeerCall, op="recv", results=(Received,)):
    """Read `n` bytes (None: until the end), keeping only their digest with `digest`."""

    conn: str
    n: int | None
    timeout: float
    digest: bool


@dataclass(frozen=True)
class WaitEnd(PeerCall, op="wait_end", results=(EndSeen,)):
    """Wait for the client's end of the stream (FIN or RST), or for nothing during `timeout`."""

    conn: str
    timeout: float


@dataclass(frozen=True)
class Echo(PeerCall, op="echo", results=(Echoed,)):
    conn: str
    chunks: ChunkPlan | None
    timeout: float


@dataclass(frozen=True)
class StartTls(PeerCall, op="start_tls", results=(TlsInfo,)):
    """Upgrade a `starttls` connection to TLS, server side."""

    conn: str
    timeout: float


@dataclass(frozen=True)
class ShutdownWrite(PeerCall, op="shutdown_write", results=(Done,)):
    conn: str


@dataclass(frozen=True)
class Close(PeerCall, op="close", results=(Done,)):
    conn: str


@dataclass(frozen=True)
class Reset(PeerCall, op="reset", results=(Done,)):
    conn: str
