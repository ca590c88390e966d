"""The reference implementation behind the adapter protocol (docs/adapter-protocol.md).

``ReferenceAdapter.request`` takes one decoded request and returns its
response, exactly as a stdio or WebSocket adapter would, so running the suite
against the reference also exercises the protocol. It lives in the harness's
event loop: every op returns within its ``timeout_ms``, background work
belongs to the current session, and ``end``/``shutdown``/``aclose`` leave no
task or socket behind.

Requests (docs/adapter-protocol.md, section 4): every socket remembers the request
that made it; an op from another request gets what workerd does (B2): reads and
writes reject with the cross-request error, close() closes but ``closed`` rejects
with it, promises and locks are shared freely. Each request has its own six
connection slots (B48). ``request: global`` makes connect() throw before it looks
at its arguments (B1). The ``outbound-worker`` environment fails every connection
without dialling (B53).

TLS needs the run's CA, handed over at launch (docs/adapter-protocol.md,
section 7): ``ReferenceAdapter(ca_pem=...)``. With it the adapter declares
the ``tls`` and ``starttls`` capabilities; without it ``secureTransport: "on"``
fails like a network without ``tlsOptions`` (B44) and ``start_tls`` answers
``unsupported``.
"""

from __future__ import annotations

import base64
import platform
import socket as stdlib_socket
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, Literal, TypeVar

from conformance._version import __version__
from conformance.protocol import PROTOCOL_VERSION

from ...core.jsshow import show
from ...core.jsvalues import UNDEFINED, JSBytes, decode, encode, typeof
from . import errors
from .arguments import parse_connect_arguments
from .collect import Collector, read_bytes
from .errors import JSThrow
from .mutants import MUTANTS, quirks_for
from .payload import BLOCK_SIZE, repeated_pattern
from .promises import Promise
from .readable import ReadableStreamReader, ReadResult
from .session import Encoder, Session, SocketEntry, encode_error
from .socket import Socket, StartTlsUnavailable
from .tls import TlsConfig
from .writable import WritableStreamWriter

#: Used when a request that involves a promise carries no ``timeout_ms``.
DEFAULT_TIMEOUT_MS = 2000
#: The ``request`` that means module evaluation, where no request is being handled (B1).
GLOBAL_SCOPE = "global"
#: The ``begin`` environments the reference sets up.
OUTBOUND_WORKER = "outbound-worker"
#: Ops that run inside a request (the client ops); the others belong to the session.
_SESSION_OPS = frozenset({"hello", "begin", "end", "shutdown"})

Response = dict[str, Any]
#: A socket's current reader or writer, as an op guarded by ``_guarded`` uses it.
_Held = TypeVar("_Held")


class ProtocolError(Exception):
    """The request is malformed; answered with status ``protocol_error``."""


@cache
def _can_bind_ipv6_loopback() -> bool:
    try:
        with stdlib_socket.socket(stdlib_socket.AF_INET6, stdlib_socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _encode_undefined(_: object) -> Any:
    return encode(UNDEFINED)


def _encode_read(result: ReadResult) -> Any:
    if result.done:
        return {"done": True}
    return {"done": False, "value": encode(JSBytes(result.value, result.view))}


def _identity(value: Any) -> Any:
    return value


class ReferenceAdapter:
    """The reference ``connect()``.

    ``mutant`` names a deliberately broken variant (see mutants.py); ``ca_pem``
    is the run's CA certificate, the only trust anchor of TLS (None: no TLS).
    """

    def __init__(self, mutant: str | None = None, ca_pem: str | None = None) -> None:
        if mutant is not None and mutant not in MUTANTS:
            raise ValueError(f"unknown mutant {show(mutant)}; known: {', '.join(sorted(MUTANTS))}")
        self.mutant = mutant
        self.quirks = quirks_for(mutant)
        self._tls = TlsConfig(ca_pem, self.quirks) if ca_pem else None
        self._session = Session(self.quirks)
        self._shut_down = False
        self._ops: dict[str, Callable[[dict[str, Any]], Awaitable[Response]]] = {
            "hello": self._hello,
            "begin": self._begin,
            "end": self._end,
            "shutdown": self._shutdown,
            "connect": self._connect,
            "await": self._await,
            "get": self._get,
            "read": self._read,
            "read_bytes": self._read_bytes,
            "write": self._write,
            "close_writer": self._close_writer,
            "abort_writer": self._abort_writer,
            "cancel_reader": self._cancel_reader,
            "get_reader": self._get_reader,
            "get_writer": self._get_writer,
            "release_lock": self._release_lock,
            "ready": self._ready,
            "desired_size": self._desired_size,
            "close": self._close,
            "same": self._same,
            "start_tls": self._start_tls,
            "driver": self._driver,
        }

    @property
    def name(self) -> str:
        return "reference" if self.mutant is None else f"reference+{self.mutant}"

    @property
    def ops(self) -> tuple[str, ...]:
        """Every op ``request`` serves."""
        return tuple(self._ops)

    @property
    def session(self) -> Session:
        """The current case session (for tests and diagnostics)."""
        return self._session

    async def request(self, message: dict[str, Any]) -> Response:
        seq = message.get("seq")
        try:
            if self._shut_down:
                raise ProtocolError("the adapter has shut down")
            op = message.get("op")
            handler = self._ops.get(op) if isinstance(op, str) else None
            if handler is None:
                raise ProtocolError(f"unknown op {show(op)}")
            scope = message.get("request")
            if scope is not None and (not isinstance(scope, str) or op in _SESSION_OPS):
                raise ProtocolError(f"{op} cannot carry request {show(scope)}")
            if scope == GLOBAL_SCOPE:
                body = await self._in_global_scope(message)
            else:
                body = await handler(message)
        except ProtocolError as error:
            body = {"status": "protocol_error", "reason": str(error)}
        return {"seq": seq, **body}

    async def aclose(self) -> None:
        """Drop the session at once (the in-process transport calls this on close)."""
        self._shut_down = True
        await self._session.discard()

    # -- session ops --------------------------------------------------------------------

    async def _hello(self, message: dict[str, Any]) -> Response:
        if message.get("protocol", PROTOCOL_VERSION) != PROTOCOL_VERSION:
            raise ProtocolError(f"protocol {show(message.get('protocol'))} is not supported; this is 1")
        capabilities = ["unhandled-rejections", "request-scope", "global-scope", "outbound-worker"]
        if self._tls is not None:
            capabilities[:0] = ["tls", "starttls"]
        if _can_bind_ipv6_loopback():
            capabilities.insert(0, "ipv6")
        value = {
            "name": self.name,
            "version": __version__,
            "runtime": f"CPython {platform.python_version()}",
            "protocol": PROTOCOL_VERSION,
            "capabilities": capabilities,
        }
        return {"status": "returned", "value": value}

    async def _begin(self, message: dict[str, Any]) -> Response:
        environment = message.get("environment")
        if environment not in (None, OUTBOUND_WORKER):
            return {"status": "unsupported", "reason": f"the reference has no environment {show(environment)}"}
        await self._session.discard()  # a session left open by a broken case ends here
        self._session = Session(self.quirks, outbound_worker=environment == OUTBOUND_WORKER)
        return {"status": "returned"}

    async def _end(self, message: dict[str, Any]) -> Response:
        report = await self._session.end(_timeout_ms(message))
        self._session = Session(self.quirks)
        return {"status": "returned", "value": report}

    async def _shutdown(self, message: dict[str, Any]) -> Response:
        await self.aclose()
        return {"status": "returned"}

    # -- client ops --------------------------------------------------------------------

    async def _connect(self, message: dict[str, Any]) -> Response:
        # No address: connect() with no argument, which JS sees as an undefined address (B52).
        address = _decode(message["address"]) if "address" in message else UNDEFINED
        options = _decode(message["options"]) if "options" in message else UNDEFINED
        session = self._session
        try:
            request = parse_connect_arguments(address, options, self.quirks)
        except JSThrow as thrown:
            return _threw(thrown)
        scope = _scope(message)
        socket = Socket(
            request,
            tracker=session.tracker,
            tasks=session.tasks,
            quirks=self.quirks,
            tls=self._tls,
            slots=session.slots_for(scope),
            outbound_worker=session.outbound_worker,
        )
        return {"status": "returned", "value": {"socket": session.add_socket(socket, scope)}}

    async def _in_global_scope(self, message: dict[str, Any]) -> Response:
        """An op at module evaluation: only connect() can be called there, and it throws (B1)."""
        if message.get("op") != "connect":
            return {"status": "unsupported", "reason": "only connect is called at module evaluation"}
        unscoped = {key: value for key, value in message.items() if key != "request"}
        if self.quirks.global_scope_connect_allowed:
            return await self._connect(unscoped)
        address = _decode(message["address"]) if "address" in message else UNDEFINED
        options = _decode(message["options"]) if "options" in message else UNDEFINED
        try:
            parse_connect_arguments(address, options, self.quirks, global_scope=True)
        except JSThrow as thrown:
            return _threw(thrown)
        raise AssertionError("connect() in the global scope always throws")

    async def _await(self, message: dict[str, Any]) -> Response:
        name = _required(message, "promise", str)
        promise: Promise[Any]
        encoder: Encoder
        if "socket" in message or name in ("opened", "closed"):
            socket = self._entry(message).socket
            if name == "opened":
                promise, encoder = socket.opened, encode
            elif name == "closed":
                promise, encoder = socket.closed, _encode_undefined
            else:
                raise ProtocolError(f"a socket has no promise {show(name)} (opened or closed)")
        else:
            parked = self._session.parked(name)
            if parked is None:
                raise ProtocolError(f"unknown promise handle {show(name)}")
            promise, encoder = parked
        return await self._session.outcome(promise, encoder, _timeout_ms(message))

    async def _get(self, message: dict[str, Any]) -> Response:
        socket = self._entry(message).socket
        prop = _required(message, "property", str)
        values: dict[str, Any] = {
            "secureTransport": socket.secure_transport,
            "upgraded": socket.upgraded,
            # Both accessors return one stored object, so identity always holds (B27).
            "readable_identity": True,
            "writable_identity": True,
        }
        if prop in ("opened", "closed"):
            # A promise is not a value: only its type is reported, as interpreter.js does.
            return {"status": "returned", "typeof": "object"}
        if prop not in values:
            # A name outside the protocol's list; a listed property is never missing here.
            return {"status": "unsupported", "reason": f"the protocol has no property {show(prop)} to read"}
        value = values[prop]
        return {"status": "returned", "value": encode(value), "typeof": typeof(value)}

    async def _read(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        return await self._reading(
            entry,
            message,
            _encode_read,
            lambda reader: self._session.outcome(reader.read(), _encode_read, _timeout_ms(message)),
        )

    async def _read_bytes(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        n = message.get("n")
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
            raise ProtocolError("read_bytes needs n: a non-negative integer or null")
        digest = bool(message.get("digest", False))

        async def collect(reader: ReadableStreamReader) -> Response:
            result: Promise[Any] = Promise(self._session.tracker, handled=True)
            if digest:
                self._session.tasks.spawn(read_bytes(reader, n, digest, result))
            else:
                Collector(reader, n, result).start()
            return await self._session.outcome(result, _identity, _timeout_ms(message))

        return await self._reading(entry, message, _identity, collect)

    async def _write(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        if "data" not in message:
            raise ProtocolError("write needs data")
        data = _decode_chunk(message["data"])
        return await self._writing(entry, message, lambda writer: writer.write(data))

    async def _close_writer(self, message: dict[str, Any]) -> Response:
        return await self._writing(self._entry(message), message, lambda writer: writer.close())

    async def _abort_writer(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        reason = _decode(message.get("reason", {"$type": "undefined"}))
        return await self._writing(entry, message, lambda writer: writer.abort(reason))

    async def _cancel_reader(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        reason = _decode(message.get("reason", {"$type": "undefined"}))

        async def cancel(reader: ReadableStreamReader) -> Response:
            cancelled = reader.cancel(reason)
            if self.quirks.cancel_reader_closes_socket:
                entry.socket.close().mark_handled()
            return await self._session.outcome(cancelled, _encode_undefined, _timeout_ms(message))

        return await self._reading(entry, message, _encode_undefined, cancel)

    async def _get_reader(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        try:
            reader = entry.socket.readable.get_reader()
        except JSThrow as thrown:
            return _threw(thrown)
        if entry.reader is None:
            entry.reader = reader  # the lock holder becomes the adapter's current reader
        return {"status": "returned"}

    async def _get_writer(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        try:
            writer = entry.socket.writable.get_writer()
        except JSThrow as thrown:
            return _threw(thrown)
        if entry.writer is None:
            entry.writer = writer
        return {"status": "returned"}

    async def _release_lock(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        stream = message.get("stream")
        try:
            if stream == "readable":
                if entry.reader is not None:
                    entry.reader.release_lock()
                    entry.reader = None
            elif stream == "writable":
                if entry.writer is not None:
                    entry.writer.release_lock()
                    entry.writer = None
            else:
                raise ProtocolError("release_lock needs stream: readable or writable")
        except JSThrow as thrown:
            return _threw(thrown)
        return {"status": "returned"}

    async def _ready(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        try:
            writer = self._writer(entry)
        except JSThrow as thrown:
            return _threw(thrown)
        return await self._session.outcome(writer.ready, _encode_undefined, _timeout_ms(message))

    async def _desired_size(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        try:
            writer = self._writer(entry)
        except JSThrow as thrown:
            return _threw(thrown)
        size = writer.desired_size
        value = None if size is None else int(size) if float(size).is_integer() else size
        return {"status": "returned", "value": encode(value), "typeof": "object" if value is None else "number"}

    async def _same(self, message: dict[str, Any]) -> Response:
        socket = self._entry(message).socket
        values: dict[str, Callable[[], object]] = {
            "opened": lambda: socket.opened,
            "closed": lambda: socket.closed,
            "close()": socket.close,
            "readable": lambda: socket.readable,
            "writable": lambda: socket.writable,
        }
        names = [message.get("a"), message.get("b")]
        chosen = [values.get(name) if isinstance(name, str) else None for name in names]
        if chosen[0] is None or chosen[1] is None:
            raise ProtocolError(f"same needs a and b, each one of {', '.join(values)}")
        left = chosen[0]()
        right = chosen[1]()
        for value in (left, right):
            if isinstance(value, Promise):
                value.mark_handled()  # the case compares it; a rejection is not unhandled
        return {"status": "returned", "value": left is right, "typeof": "boolean"}

    async def _close(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        socket = entry.socket
        if self.quirks.close_closes_all_sockets:
            for other in self._session.sockets.values():
                if other.socket is not socket:
                    other.socket.close().mark_handled()
        if _foreign(entry, message) and not self.quirks.cross_request_close_allowed:
            closing = socket.close_from_other_request(errors.cross_request("Writable"))
        else:
            closing = socket.close()
        return await self._session.outcome(closing, _encode_undefined, _timeout_ms(message))

    async def _driver(self, message: dict[str, Any]) -> Response:
        # A model of connect() runs no JavaScript: it declares no `drivers` capability, so the harness
        # never sends this (the drivers cases skip as a gap of this adapter).
        return {"status": "unsupported", "reason": "the reference models connect() only; it runs no driver"}

    async def _start_tls(self, message: dict[str, Any]) -> Response:
        entry = self._entry(message)
        options = _decode(message["options"]) if "options" in message else UNDEFINED
        try:
            upgraded = entry.socket.start_tls(options)
        except JSThrow as thrown:
            return _threw(thrown)
        except StartTlsUnavailable as missing:
            return {"status": "unsupported", "reason": str(missing)}
        return {"status": "returned", "value": {"socket": self._session.add_socket(upgraded, entry.request)}}

    # -- other requests (B2) ---------------------------------------------------------------

    def _reading(
        self,
        entry: SocketEntry,
        message: dict[str, Any],
        encoder: Encoder,
        use: Callable[[ReadableStreamReader], Awaitable[Response]],
    ) -> Awaitable[Response]:
        """``use`` the socket's current reader (read, read_bytes, cancel_reader)."""
        return self._guarded(entry, message, "readable", encoder, lambda: self._reader(entry), use)

    def _writing(
        self, entry: SocketEntry, message: dict[str, Any], call: Callable[[WritableStreamWriter], Promise[Any]]
    ) -> Awaitable[Response]:
        """``call`` the socket's current writer and await its promise (write, close_writer, abort_writer)."""
        return self._guarded(
            entry,
            message,
            "writable",
            _encode_undefined,
            lambda: self._writer(entry),
            lambda writer: self._session.outcome(call(writer), _encode_undefined, _timeout_ms(message)),
        )

    async def _guarded(
        self,
        entry: SocketEntry,
        message: dict[str, Any],
        stream: Literal["readable", "writable"],
        encoder: Encoder,
        acquire: Callable[[], _Held],
        use: Callable[[_Held], Awaitable[Response]],
    ) -> Response:
        """``use`` the socket's current reader or writer (``acquire``); the op's answer instead when
        acquiring it throws (``threw``) or when the op runs in another request than the socket's
        and the I/O is refused (B2)."""
        try:
            held = acquire()
        except JSThrow as thrown:
            return _threw(thrown)
        if stream == "readable" and _foreign(entry, message) and not self.quirks.cross_request_read_allowed:
            return await self._refused(entry, message, "ReadableStreamSource", encoder)
        if stream == "writable" and _foreign(entry, message) and not self.quirks.cross_request_write_allowed:
            return await self._refused(entry, message, "Writable", encoder)
        return await use(held)

    async def _refused(self, entry: SocketEntry, message: dict[str, Any], io_type: str, encoder: Encoder) -> Response:
        """I/O on a socket from another request's handler: the op's promise rejects. A refused
        read also errors the readable for good (workerd: the owner's next read rejects too)."""
        error = errors.cross_request(io_type)
        if io_type == "ReadableStreamSource":
            entry.socket.readable.push_error(error)
        refused: Promise[Any] = Promise(self._session.tracker, handled=True)
        refused.reject(error)
        return await self._session.outcome(refused, encoder, _timeout_ms(message))

    # -- helpers -------------------------------------------------------------------------

    def _entry(self, message: dict[str, Any]) -> SocketEntry:
        handle = _required(message, "socket", str)
        entry = self._session.sockets.get(handle)
        if entry is None:
            raise ProtocolError(f"unknown socket handle {show(handle)}")
        return entry

    @staticmethod
    def _reader(entry: SocketEntry) -> ReadableStreamReader:
        if entry.reader is None:
            entry.reader = entry.socket.readable.get_reader()
        return entry.reader

    @staticmethod
    def _writer(entry: SocketEntry) -> WritableStreamWriter:
        if entry.writer is None:
            entry.writer = entry.socket.writable.get_writer()
        return entry.writer


def _scope(message: dict[str, Any]) -> str | None:
    """The request an op runs in (None: the session's own)."""
    scope = message.get("request")
    return scope if isinstance(scope, str) else None


def _foreign(entry: SocketEntry, message: dict[str, Any]) -> bool:
    """Whether the op runs in another request than the one that made the socket."""
    return entry.request != _scope(message)


def _decode(value: Any) -> Any:
    try:
        return decode(value)
    except (ValueError, KeyError, TypeError) as error:  # binascii.Error is a ValueError
        raise ProtocolError(f"cannot decode the value {str(value)[:80]}: {error!r}") from None


def _decode_chunk(value: Any) -> Any:
    """A write's data; a large pattern stays a repeated block instead of being built whole."""
    if isinstance(value, dict) and value.get("$type") == "pattern":
        try:
            size = int(value["size"])
            if size > BLOCK_SIZE:
                seed = base64.b64decode(value["seed"], validate=True)
                return repeated_pattern(seed, size, str(value.get("view", "Uint8Array")))
        except (ValueError, KeyError, TypeError) as error:
            raise ProtocolError(f"bad pattern {value}: {error!r}") from None
    return _decode(value)


def _threw(thrown: JSThrow) -> Response:
    return {"status": "threw", "error": encode_error(thrown.value)}


def _required(message: dict[str, Any], key: str, kind: type) -> Any:
    value = message.get(key)
    if not isinstance(value, kind):
        raise ProtocolError(f"{message.get('op')} needs {key} ({kind.__name__})")
    return value


def _timeout_ms(message: dict[str, Any]) -> int:
    value = message.get("timeout_ms", DEFAULT_TIMEOUT_MS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError("timeout_ms must be a non-negative integer")
    return value
