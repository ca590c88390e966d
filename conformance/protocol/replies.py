"""Adapter replies as typed records: checked once by the client, judged by the interpreter.

The schemas (``schemas/<op>.json``) say what a response may look like; this
module turns a schema-valid response into a ``Reply`` and checks what a schema
cannot: the shape of a value that depends on which op created a promise (an
``await`` on a pending ``read`` resolves like a ``read``), and that base64
really decodes. A reply that makes no sense for its op raises ``ReplyShapeError``
naming the op and the field; the client turns it into an ``AdapterError``, so the
case is ``error`` (the adapter broke the protocol) and the adapter is restarted.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypeGuard

from ..core.jsshow import show
from ..errors import ConformanceError


class Status(StrEnum):
    RETURNED = "returned"
    THREW = "threw"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    PENDING = "pending"
    UNSUPPORTED = "unsupported"
    PROTOCOL_ERROR = "protocol_error"


_STATUS = {status.value: status for status in Status}

#: What the value of a settled reply must look like, by the op that made it.
Shape = Literal["any", "socket", "read", "read_bytes", "end", "hello", "boolean", "desired_size"]

SHAPE_OF_OP: dict[str, Shape] = {
    "connect": "socket",
    "start_tls": "socket",
    "read": "read",
    "read_bytes": "read_bytes",
    "end": "end",
    "hello": "hello",
    "same": "boolean",
    "desired_size": "desired_size",
}


class _Absent:
    """A key the reply did not have (distinct from JSON ``null``)."""

    def __repr__(self) -> str:
        return "absent"

    def __js__(self) -> str:
        # How messages show it (jsshow): a reply without a value, not a JS value.
        return "no value"


ABSENT: Any = _Absent()


class ReplyShapeError(ConformanceError):
    def __init__(self, op: str, field: str, problem: str) -> None:
        super().__init__(f"{op}: {field}: {problem}")


@dataclass(slots=True)
class ReadChunk:
    """What ``read`` resolves with: ``done``, or one chunk (bytes, or another value a runtime produced)."""

    done: bool
    data: bytes | None = None
    view: str | None = None
    #: The chunk as sent when it was not bytes (e.g. a JS string).
    other: Any = ABSENT


@dataclass(slots=True)
class Received:
    """What ``read_bytes`` resolves with."""

    length: int
    done: bool
    chunks: int | None = None
    data: bytes | None = None
    sha256: str | None = None


@dataclass(slots=True)
class EndReport:
    open_sockets: int
    unhandled_rejections: list[dict[str, Any]]


@dataclass(frozen=True)
class HelloInfo:
    name: str
    version: str
    runtime: str
    protocol: int
    capabilities: frozenset[str] = field(default_factory=frozenset)
    #: With the ``drivers`` capability: driver -> the npm packages it is made of (``pg@8.23.1 ...``).
    drivers: dict[str, str] = field(default_factory=dict, hash=False)

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "runtime": self.runtime,
            "protocol": self.protocol,
            "capabilities": sorted(self.capabilities),
        }
        if self.drivers:
            document["drivers"] = dict(sorted(self.drivers.items()))
        return document


@dataclass(slots=True)
class Reply:
    """One response: its status and, by status, the value, error, promise handle or reason.

    ``value`` is the JSON value as sent (matchers compare it); ``typed`` is the
    same value parsed for its op's shape (``str`` socket handle, ``ReadChunk``,
    ``Received``, ``EndReport``, ``HelloInfo``), or ``None``. ``raw`` is the
    response as received, for the transcript. (Not frozen: one is made per
    adapter reply, and a frozen dataclass's ``__init__`` costs a tenth of an
    in-process round trip; nothing changes it after ``parse``.)
    """

    status: Status
    raw: dict[str, Any]
    value: Any = ABSENT
    typed: Any = None
    error: dict[str, Any] | None = None
    promise: str | None = None
    reason: str = ""
    typeof: str | None = None

    @property
    def settled(self) -> bool:
        return self.status in (Status.RESOLVED, Status.REJECTED)

    @property
    def adapter_refused(self) -> bool:
        """The adapter could not do the op at all: the case cannot be judged."""
        return self.status in (Status.UNSUPPORTED, Status.PROTOCOL_ERROR)


def parse(op: str, message: dict[str, Any], shape: Shape = "any") -> Reply:
    """A typed ``Reply`` from a schema-valid response; ``ReplyShapeError`` when it makes no sense for ``op``."""
    status = _STATUS[message["status"]]
    value = message.get("value", ABSENT)
    typed = None
    if shape != "any" and status in _SHAPED_STATUS[shape]:
        typed = _PARSERS[shape](op, value)
    return Reply(
        status=status,
        raw=message,
        value=value,
        typed=typed,
        error=message.get("error"),
        promise=message.get("promise"),
        reason=message.get("reason", ""),
        typeof=message.get("typeof"),
    )


def _socket(op: str, value: Any) -> str:
    handle = value.get("socket") if isinstance(value, dict) else None
    if not isinstance(handle, str) or not handle:
        raise ReplyShapeError(
            op, "value", f"expected {{socket: <handle>}} for the returned socket, got {show(value, 80)}"
        )
    return handle


def _read(op: str, value: Any) -> ReadChunk:
    if not isinstance(value, dict) or not isinstance(value.get("done"), bool):
        raise ReplyShapeError(op, "value", f"expected a read result {{done, value}}, got {show(value, 80)}")
    if value["done"]:
        return ReadChunk(done=True)
    chunk = value.get("value", ABSENT)
    if isinstance(chunk, dict) and chunk.get("$type") == "bytes":
        return ReadChunk(done=False, data=_b64(op, "value.value.b64", chunk.get("b64")), view=chunk.get("view"))
    return ReadChunk(done=False, other=chunk)


def _received(op: str, value: Any) -> Received:
    if not isinstance(value, dict):
        raise ReplyShapeError(op, "value", f"expected {{length, done, data or sha256}}, got {show(value, 80)}")
    length, done = value.get("length"), value.get("done")
    if not _count(length):
        raise ReplyShapeError(op, "value.length", f"expected a byte count, got {show(length, 40)}")
    if not isinstance(done, bool):
        raise ReplyShapeError(op, "value.done", f"expected true or false, got {show(done, 40)}")
    chunks = value.get("chunks")
    if chunks is not None and not _count(chunks):
        raise ReplyShapeError(op, "value.chunks", f"expected a count, got {show(chunks, 40)}")
    data, sha256 = value.get("data"), value.get("sha256")
    if data is not None:
        if not isinstance(data, dict) or data.get("$type") != "bytes":
            raise ReplyShapeError(op, "value.data", f"expected bytes ({{$type: bytes, b64}}), got {show(data, 80)}")
        decoded = _b64(op, "value.data.b64", data.get("b64"))
        if len(decoded) != length:
            raise ReplyShapeError(op, "value.length", f"says {length} bytes, but data holds {len(decoded)}")
        return Received(length, done, chunks, data=decoded)
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise ReplyShapeError(op, "value", "expected data (bytes) or sha256 (64 hex digits)")
    return Received(length, done, chunks, sha256=sha256.lower())


def _end(op: str, value: Any) -> EndReport:
    if not isinstance(value, dict):
        raise ReplyShapeError(op, "value", f"expected {{open_sockets, unhandled_rejections}}, got {show(value, 80)}")
    open_sockets, rejections = value.get("open_sockets"), value.get("unhandled_rejections")
    if not _count(open_sockets):
        raise ReplyShapeError(op, "value.open_sockets", f"expected a count, got {show(open_sockets, 40)}")
    if not isinstance(rejections, list) or not all(isinstance(item, dict) for item in rejections):
        raise ReplyShapeError(
            op, "value.unhandled_rejections", f"expected a list of errors, got {show(rejections, 80)}"
        )
    return EndReport(open_sockets, rejections)


def _hello(op: str, value: Any) -> HelloInfo:
    if not isinstance(value, dict):
        raise ReplyShapeError(
            op, "value", f"expected {{name, version, runtime, protocol, capabilities}}, got {show(value, 80)}"
        )
    for key in ("name", "version", "runtime"):
        if not isinstance(value.get(key), str):
            raise ReplyShapeError(op, f"value.{key}", f"expected a string, got {show(value.get(key), 40)}")
    capabilities = value.get("capabilities")
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise ReplyShapeError(op, "value.capabilities", f"expected a list of names, got {show(capabilities, 80)}")
    protocol = value.get("protocol")
    if not _count(protocol):
        raise ReplyShapeError(op, "value.protocol", f"expected the protocol version, got {show(protocol, 40)}")
    drivers = value.get("drivers", {})
    if not isinstance(drivers, dict) or not all(isinstance(v, str) for v in drivers.values()):
        raise ReplyShapeError(op, "value.drivers", f"expected driver names and versions, got {show(drivers, 80)}")
    return HelloInfo(value["name"], value["version"], value["runtime"], protocol, frozenset(capabilities), drivers)


def _boolean(op: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ReplyShapeError(op, "value", f"expected true or false, got {show(value, 40)}")
    return value


def _desired_size(op: str, value: Any) -> float | None:
    """``writer.desiredSize``: a number, or null once the stream errored."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    if isinstance(value, dict) and value.get("$type") == "number" and value.get("value") in ("Infinity", "-Infinity"):
        return float(value["value"])
    raise ReplyShapeError(op, "value", f"expected a number or null, got {show(value, 40)}")


def _count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _b64(op: str, field: str, text: Any) -> bytes:
    if not isinstance(text, str):
        raise ReplyShapeError(op, field, f"expected base64 text, got {show(text, 40)}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ReplyShapeError(op, field, f"invalid base64: {error}") from None


_PARSERS: dict[Shape, Any] = {
    "socket": _socket,
    "read": _read,
    "read_bytes": _received,
    "end": _end,
    "hello": _hello,
    "boolean": _boolean,
    "desired_size": _desired_size,
}
_SHAPED_STATUS: dict[Shape, tuple[Status, ...]] = {
    "socket": (Status.RETURNED,),
    "read": (Status.RESOLVED,),
    "read_bytes": (Status.RESOLVED,),
    "end": (Status.RETURNED,),
    "hello": (Status.RETURNED,),
    "boolean": (Status.RETURNED,),
    "desired_size": (Status.RETURNED,),
}
