"""How the peer's values travel on the control channel (docs/peer-protocol.md): JSON, nothing lost.

Both ends use this module: the control server in the peer, the remote client in
the harness. The rules are few:

- bytes are `{"b64": "<base64>"}`;
- the peer's dataclasses (the op results, `TlsInfo`, `ChunkPlan`) are objects
  with their fields and a `"type"` naming the class;
- a `ListenerSpec` is an object with its fields and no `"type"`: it travels
  whole, so a field added to it later needs only its rule in `_requests` (a
  peer that does not know the field refuses it by name);
- a peer call is `{"op": ..., "args": {...}}` (`calls.PeerCall.as_message`);
- a `PeerError` (or an `OSError` from opening a listener) is
  `{"type": <class name>, "message": ...}`, raised again as the same class.
"""

import base64
import binascii
import dataclasses
from typing import Any

from ._chunks import ChunkPlan
from ._errors import PeerError, UnknownConnection, UnsupportedListener
from ._errors import WireError as WireError  # the harness catches it here, where the encoding is
from ._results import Accepted, Echoed, EndSeen, NoConnection, Received, Sent, TlsInfo
from ._spec import ListenerSpec

PROTOCOL = 1
"""The control protocol's version; `hello` carries it and both ends must agree."""

VALUE_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (Accepted, NoConnection, Sent, Received, EndSeen, Echoed, TlsInfo, ChunkPlan)
}


def to_wire(value: Any) -> Any:
    """`value` as JSON-ready data: bytes and the peer's dataclasses tagged, the rest as is."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and type(value).__name__ in VALUE_TYPES:
        out = {"type": type(value).__name__}
        for field in dataclasses.fields(value):
            out[field.name] = to_wire(getattr(value, field.name))
        return out
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"{type(value).__name__} cannot travel on the control channel")


def from_wire(value: Any) -> Any:
    """The inverse of `to_wire`; WireError on anything it would not produce."""
    if isinstance(value, dict):
        if "b64" in value:
            return _bytes(value)
        if "type" in value:
            return _dataclass(value)
        return {key: from_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_wire(item) for item in value]
    return value


def _bytes(value: dict[str, Any]) -> bytes:
    encoded = value["b64"]
    if set(value) != {"b64"} or not isinstance(encoded, str):
        raise WireError("bytes are {'b64': '<base64 text>'} and nothing else")
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise WireError(f"invalid base64: {exc}") from None


def _dataclass(value: dict[str, Any]) -> Any:
    cls = VALUE_TYPES.get(value["type"])
    if cls is None:
        raise WireError(f"unknown value type {value['type']!r}")
    names = {field.name for field in dataclasses.fields(cls)}
    given = set(value) - {"type"}
    if given - names:
        raise WireError(f"{cls.__name__} has no field(s) {', '.join(sorted(given - names))}")
    try:
        return cls(**{key: from_wire(item) for key, item in value.items() if key != "type"})
    except (TypeError, ValueError) as exc:  # a missing field; a value __post_init__ refuses
        raise WireError(f"{cls.__name__}: {exc}") from None


def listener_to_wire(spec: ListenerSpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


ERROR_TYPES: dict[str, type[Exception]] = {
    "PeerError": PeerError,
    "UnknownConnection": UnknownConnection,
    "UnsupportedListener": UnsupportedListener,
}
"""The peer's own errors, raised again by name on the harness side."""


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """What went wrong, for the harness: the error's class when it is one it knows."""
    if isinstance(exc, UnknownConnection):
        return {"type": "UnknownConnection", "message": str(exc), "name": exc.name}
    for name, cls in ERROR_TYPES.items():
        if type(exc) is cls:
            return {"type": name, "message": str(exc)}
    if isinstance(exc, PeerError):
        return {"type": "PeerError", "message": str(exc)}
    if isinstance(exc, OSError):
        return {"type": "OSError", "message": str(exc), "errno": exc.errno}
    if isinstance(exc, WireError):
        return {"type": "ProtocolError", "message": str(exc)}
    return {"type": "InternalError", "message": f"{type(exc).__name__}: {exc}"}


def error_from_wire(error: dict[str, Any]) -> Exception:
    """The exception an error object stands for (the caller decides what the others mean)."""
    kind, message = error.get("type"), str(error.get("message", ""))
    if kind == "UnknownConnection":
        return UnknownConnection(str(error.get("name", "")))
    if kind in ERROR_TYPES:
        return ERROR_TYPES[str(kind)](message)
    if kind == "OSError":
        os_error = OSError(message)
        os_error.errno = error.get("errno") if isinstance(error.get("errno"), int) else None
        return os_error
    return PeerError(f"{kind}: {message}")
