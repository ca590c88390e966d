"""The client ops (docs/adapter-protocol.md, section 5), the Python twin of ``js/ops.js``.

``CLIENT_OPS[op](state, message)`` performs one request on the implementation and returns the
response's body (``{status, ...}``, no seq). What the implementation raises, synchronously or
in a promise, is a response (``threw``, ``rejected``); a malformed request raises
``ProtocolError``; a method or attribute the implementation lacks raises ``Unsupported``.

The implementation's objects are read with these Python names (docs/adapters.md, "The Python kit"):
the socket's ``opened``, ``closed``, ``secure_transport``, ``upgraded``, ``readable``, ``writable``,
``close()``, ``start_tls(options)``; the readable's ``get_reader()`` and the reader's ``read()``,
``cancel(reason)``, ``release_lock()``; the writable's ``get_writer()`` and the writer's
``write(chunk)``, ``close()``, ``abort(reason)``, ``release_lock()``, ``ready``, ``desired_size``.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..core.jsvalues import UNDEFINED, JSBytes
from .errors import ProtocolError, Unsupported
from .session import AdapterState, Encoder, Session, SocketEntry, Tracked
from .values import chunk_bytes, decode, encode_error, encode_read_result, encode_value, read_result, typeof

Response = dict[str, Any]
T = TypeVar("T")
#: Used when a request that involves a promise carries no ``timeout_ms``.
DEFAULT_TIMEOUT_MS = 2000
_MISSING = object()


class Threw(Exception):
    """The implementation raised synchronously: the op answers ``threw``."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def attempt(call: Callable[[], T]) -> T:
    """``call()``; what it raises is the implementation's (``threw``), but for the adapter's answers."""
    try:
        return call()
    except (Unsupported, ProtocolError):
        raise
    except Exception as error:
        raise Threw(error) from None


def member(owner: object, name: str, what: str) -> Any:
    """``owner.name``: ``Unsupported`` when the implementation has no such attribute at all."""
    if inspect.getattr_static(owner, name, _MISSING) is _MISSING and not hasattr(type(owner), "__getattr__"):
        raise Unsupported(f"{what} has no attribute {name}")
    return attempt(lambda: getattr(owner, name))


def invoke(owner: object, name: str, what: str, *args: Any) -> Any:
    method = member(owner, name, what)
    return attempt(lambda: method(*args))


# -- a request's fields ------------------------------------------------------------------------


def required(message: dict[str, Any], key: str) -> str:
    """``message[key]``, which must be a string (a handle, a promise's or a property's name)."""
    value = message.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{message.get('op')} needs {key} (a string)")
    return value


def timeout_of(message: dict[str, Any]) -> float:
    """``timeout_ms`` in seconds."""
    value = message.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    if type(value) is not int or value < 0:
        raise ProtocolError("timeout_ms must be a non-negative integer")
    return value / 1000


def _reason(message: dict[str, Any]) -> Any:
    return decode(message["reason"]) if "reason" in message else UNDEFINED


# -- the session's sockets, readers, writers and promises -------------------------------------------


def entry_of(state: AdapterState, message: dict[str, Any]) -> SocketEntry:
    handle = required(message, "socket")
    entry = state.session.sockets.get(handle)
    if entry is None:
        raise ProtocolError(f"unknown socket handle {handle!r}")
    return entry


def reader_of(entry: SocketEntry) -> Any:
    if entry.reader is None:
        entry.reader = invoke(member(entry.socket, "readable", "the socket"), "get_reader", "the readable")
    return entry.reader


def writer_of(entry: SocketEntry) -> Any:
    if entry.writer is None:
        entry.writer = invoke(member(entry.socket, "writable", "the socket"), "get_writer", "the writable")
    return entry.writer


async def outcome(session: Session, promise: object, encode: Encoder, seconds: float) -> Response:
    """Awaits ``promise`` for at most ``seconds``: resolved, rejected, or pending with a handle."""
    return await outcome_of(session, session.track(promise), encode, seconds)


async def outcome_of(session: Session, tracked: Tracked, encode: Encoder, seconds: float) -> Response:
    await tracked.within(seconds)
    if not tracked.settled:
        return {"status": "pending", "promise": session.park(tracked, encode)}
    future = tracked.future
    if future.cancelled():
        return {"status": "rejected", "error": {"name": "CancelledError", "message": "the promise was cancelled"}}
    error = future.exception()
    if error is not None:
        return {"status": "rejected", "error": encode_error(error)}
    return {"status": "resolved", "value": encode(tracked.value())}


async def _settled(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def read_bytes(entry: SocketEntry, read: Callable[[], Any], n: int | None, digest: bool) -> dict[str, Any]:
    """Chunks of ``read()`` until ``n`` bytes (None: until done); never consumes past ``n`` (the rest
    is left over). What ``read`` raises rejects the whole read_bytes, as an ``await`` would."""
    parts: list[bytes] = []
    length = chunks = 0
    done = False
    while n is None or length < n:
        if entry.leftover is not None:
            data, entry.leftover = entry.leftover, None
        else:
            finished, chunk = read_result(await _settled(read()))
            if finished:
                done = True
                break
            data = chunk_bytes(chunk)
        if n is not None and len(data) > n - length:
            data, entry.leftover = data[: n - length], data[n - length :]
        chunks += 1
        length += len(data)
        parts.append(data)
    value: dict[str, Any] = {"length": length, "done": done, "chunks": chunks}
    joined = b"".join(parts)
    if digest:
        value["sha256"] = hashlib.sha256(joined).hexdigest()
    else:
        value["data"] = encode_value(JSBytes(joined))
    return value


def _identity(value: Any) -> Any:
    return value


# -- the ops ------------------------------------------------------------------------------------------

Op = Callable[[AdapterState, dict[str, Any]], Awaitable[Response]]


async def connect(state: AdapterState, message: dict[str, Any]) -> Response:
    # No address: connect() with no argument at all; no options: connect(address).
    if "options" in message and "address" not in message:
        raise ProtocolError("connect with options needs an address")
    arguments = [decode(message[key]) for key in ("address", "options") if key in message]
    socket = attempt(lambda: state.connect(*arguments))
    return {"status": "returned", "value": {"socket": state.session.add_socket(socket)}}


async def await_(state: AdapterState, message: dict[str, Any]) -> Response:
    name = required(message, "promise")
    seconds = timeout_of(message)
    if "socket" in message or name in ("opened", "closed"):
        entry = entry_of(state, message)
        if name not in ("opened", "closed"):
            raise ProtocolError(f"a socket has no promise {name!r} (opened or closed)")
        return await outcome(state.session, member(entry.socket, name, "the socket"), encode_value, seconds)
    parked = state.session.parked.get(name)
    if parked is None:
        raise ProtocolError(f"unknown promise handle {name!r}")
    return await outcome_of(state.session, parked.tracked, parked.encode, seconds)


#: ``get``'s JS property names and the Python attributes they read.
PROPERTIES = {"secureTransport": "secure_transport", "upgraded": "upgraded", "opened": "opened", "closed": "closed"}


async def get(state: AdapterState, message: dict[str, Any]) -> Response:
    socket = entry_of(state, message).socket
    prop = required(message, "property")
    if prop in ("readable_identity", "writable_identity"):
        stream = prop.removesuffix("_identity")
        value: Any = member(socket, stream, "the socket") is member(socket, stream, "the socket")
    elif prop in PROPERTIES:
        value = member(socket, PROPERTIES[prop], "the socket")
    else:
        return {"status": "unsupported", "reason": f"the adapter does not read the property {prop!r}"}
    response: Response = {"status": "returned", "typeof": typeof(value)}
    # For opened/closed only the type is reported: the promise itself is not a value.
    if prop not in ("opened", "closed") or value is UNDEFINED:
        response["value"] = encode_value(value)
    return response


async def read(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    seconds = timeout_of(message)
    reader = reader_of(entry)
    if entry.leftover is not None:
        chunk, entry.leftover = entry.leftover, None
        return {"status": "resolved", "value": encode_read_result(JSBytes(chunk))}
    promise = invoke(reader, "read", "the reader")
    return await outcome(state.session, promise, encode_read_result, seconds)


async def read_bytes_op(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    seconds = timeout_of(message)
    n = message.get("n")
    if n is not None and (type(n) is not int or n < 0):
        raise ProtocolError("read_bytes needs n: a non-negative integer or null")
    digest = message.get("digest", False)
    if not isinstance(digest, bool):
        raise ProtocolError("read_bytes digest must be a boolean")
    read = member(reader_of(entry), "read", "the reader")
    return await outcome(state.session, read_bytes(entry, read, n, digest), _identity, seconds)


async def _on_writer(state: AdapterState, message: dict[str, Any], method: str, *args: Any) -> Response:
    """``writer.method(*args)`` on the current writer, awaited for at most ``timeout_ms``."""
    entry = entry_of(state, message)
    seconds = timeout_of(message)
    promise = invoke(writer_of(entry), method, "the writer", *args)
    return await outcome(state.session, promise, encode_value, seconds)


async def write(state: AdapterState, message: dict[str, Any]) -> Response:
    entry_of(state, message)  # an unknown handle is reported before a missing field
    if "data" not in message:
        raise ProtocolError("write needs data")
    return await _on_writer(state, message, "write", decode(message["data"]))


async def close_writer(state: AdapterState, message: dict[str, Any]) -> Response:
    return await _on_writer(state, message, "close")


async def abort_writer(state: AdapterState, message: dict[str, Any]) -> Response:
    return await _on_writer(state, message, "abort", _reason(message))


async def cancel_reader(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    seconds = timeout_of(message)
    reason = _reason(message)
    reader = reader_of(entry)
    entry.leftover = None
    return await outcome(state.session, invoke(reader, "cancel", "the reader", reason), encode_value, seconds)


async def get_reader(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    reader = invoke(member(entry.socket, "readable", "the socket"), "get_reader", "the readable")
    if entry.reader is None:
        entry.reader = reader  # the lock holder becomes current
    return {"status": "returned"}


async def get_writer(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    writer = invoke(member(entry.socket, "writable", "the socket"), "get_writer", "the writable")
    if entry.writer is None:
        entry.writer = writer
    return {"status": "returned"}


async def release_lock(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    stream = message.get("stream")
    if stream not in ("readable", "writable"):
        raise ProtocolError("release_lock needs stream: readable or writable")
    held = entry.reader if stream == "readable" else entry.writer
    if held is not None:
        invoke(held, "release_lock", "the reader" if stream == "readable" else "the writer")
        if stream == "readable":
            entry.reader = None
        else:
            entry.writer = None
    return {"status": "returned"}


async def ready(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    seconds = timeout_of(message)
    return await outcome(state.session, member(writer_of(entry), "ready", "the writer"), encode_value, seconds)


async def desired_size(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    size = member(writer_of(entry), "desired_size", "the writer")
    if isinstance(size, float) and size.is_integer():
        size = int(size)
    return {"status": "returned", "value": encode_value(size), "typeof": typeof(size)}


#: What ``same`` can compare, each evaluated when asked for (``close()`` really closes).
SAME: dict[str, Callable[[Any], Any]] = {
    "opened": lambda socket: member(socket, "opened", "the socket"),
    "closed": lambda socket: member(socket, "closed", "the socket"),
    "close()": lambda socket: invoke(socket, "close", "the socket"),
    "readable": lambda socket: member(socket, "readable", "the socket"),
    "writable": lambda socket: member(socket, "writable", "the socket"),
}


async def same(state: AdapterState, message: dict[str, Any]) -> Response:
    socket = entry_of(state, message).socket
    names = [message.get("a"), message.get("b")]
    if not all(isinstance(name, str) and name in SAME for name in names):
        raise ProtocolError(f"same needs a and b, each one of {', '.join(SAME)}")
    left = SAME[str(names[0])](socket)
    right = SAME[str(names[1])](socket)
    # A promise compared here is tracked, so its rejection is never reported as unhandled.
    for value in (left, right):
        if inspect.isawaitable(value):
            state.session.track(value)
    return {"status": "returned", "value": left is right, "typeof": "boolean"}


async def close(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    seconds = timeout_of(message)
    return await outcome(state.session, invoke(entry.socket, "close", "the socket"), encode_value, seconds)


async def start_tls(state: AdapterState, message: dict[str, Any]) -> Response:
    entry = entry_of(state, message)
    arguments = [decode(message["options"])] if "options" in message else []
    socket = invoke(entry.socket, "start_tls", "the socket", *arguments)
    return {"status": "returned", "value": {"socket": state.session.add_socket(socket)}}


async def driver(state: AdapterState, message: dict[str, Any]) -> Response:
    # The drivers area runs JavaScript client libraries (pg, mysql2, ...) inside a JS runtime; a Python
    # connect() has none to run. Its adapter does not declare `drivers`, so the harness skips those cases.
    raise Unsupported("the Python kit runs no JavaScript driver (it declares no drivers capability)")


CLIENT_OPS: dict[str, Op] = {
    "connect": connect,
    "await": await_,
    "get": get,
    "read": read,
    "read_bytes": read_bytes_op,
    "write": write,
    "close_writer": close_writer,
    "abort_writer": abort_writer,
    "cancel_reader": cancel_reader,
    "get_reader": get_reader,
    "get_writer": get_writer,
    "release_lock": release_lock,
    "ready": ready,
    "desired_size": desired_size,
    "same": same,
    "close": close,
    "start_tls": start_tls,
    "driver": driver,
}
