#!/usr/bin/env python3
"""A third-party stdio adapter for a toy ``connect()``, written only from docs/adapters.md.

The "implementation" is ``ToySocket``: plain asyncio streams with
``opened``/``closed`` as futures, one reader and one writer. It supports
``"host:port"`` addresses, ``secureTransport: "off"``, read, write,
close_writer and close; other ops answer ``unsupported``. It imports nothing
from the ``conformance`` package, like any adapter written outside this
repository:

    connect-conformance adapter-check --adapter stdio:'python tests/thirdparty/toy_adapter.py'
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import sys
from typing import Any

VERSION = "0.1.0"
CLIENT_OPS = {
    "connect",
    "await",
    "get",
    "read",
    "read_bytes",
    "write",
    "close_writer",
    "abort_writer",
    "cancel_reader",
    "get_reader",
    "get_writer",
    "release_lock",
    "ready",
    "desired_size",
    "close",
    "same",
    "start_tls",
}


def log(*parts: object) -> None:
    print("toy-adapter:", *parts, file=sys.stderr, flush=True)  # never stdout


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


# -- values (docs/adapters.md, section 6) ---------------------------------------------------------


class Undefined:
    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = Undefined()


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("$type")
    if kind is None:
        return {key: decode(item) for key, item in value.items()}
    if kind == "undefined":
        return UNDEFINED
    if kind == "bytes":
        return base64.b64decode(value["b64"])
    if kind == "pattern":
        seed, size = base64.b64decode(value["seed"]), int(value["size"])
        return (seed * (size // len(seed) + 1))[:size] if size else b""
    if kind == "number":
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}[value["value"]]
    if kind == "bigint":
        return int(value["value"])
    raise ValueError(f"unknown $type {kind!r}")


def encode(value: Any) -> Any:
    if value is UNDEFINED:
        return {"$type": "undefined"}
    if isinstance(value, bytes):
        return {"$type": "bytes", "b64": base64.b64encode(value).decode("ascii"), "view": "Uint8Array"}
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items() if item is not UNDEFINED}
    if isinstance(value, list):
        return [encode(item) for item in value]
    return value


# -- errors (section 7) ---------------------------------------------------------------------------


class JSError(Exception):
    """An Error of the toy implementation: a name and a message, as JavaScript has them."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def encode_error(error: BaseException) -> dict[str, Any]:
    if isinstance(error, JSError):
        return {"name": error.name, "message": error.message}
    return {"name": type(error).__name__, "message": str(error)}


class ProtocolError(Exception):
    """The request makes no sense to the adapter: answered protocol_error."""


# -- the toy implementation of connect() ---------------------------------------------------------------


def parse_address(address: Any) -> tuple[str, int]:
    if not isinstance(address, str):
        raise JSError("TypeError", 'toy connect() accepts only "host:port" strings')
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise JSError("TypeError", f'toy connect() needs "host:port", got {address!r}')
    return host.strip("[]"), int(port)


class ToySocket:
    def __init__(self, address: str, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.address = address
        self.opened: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._connecting = asyncio.ensure_future(self._connect(host, port))

    async def _connect(self, host: str, port: int) -> None:
        try:
            self._reader, self._writer = await asyncio.open_connection(host, port)
        except OSError as error:
            failure = JSError("Error", f"toy: cannot connect to {self.address}: {error.strerror or error}")
            self.opened.set_exception(failure)
            self.closed.set_exception(failure)
            return
        self.opened.set_result({"remoteAddress": self.address})

    async def _ready(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        await asyncio.wait({self.opened})
        if self.opened.exception() is not None or self._reader is None or self._writer is None:
            raise JSError("Error", "toy: the socket is not connected")
        if self.closed.done():
            raise JSError("Error", "toy: the socket is closed")
        return self._reader, self._writer

    async def read(self) -> bytes | None:
        """One chunk, or None when the stream is done."""
        if self.closed.done() and self.opened.done() and self.opened.exception() is not None:
            return None
        reader, _ = await self._ready()
        try:
            chunk = await reader.read(65536)
        except ConnectionError as error:
            failure = JSError("Error", f"toy: connection reset: {error}")
            if not self.closed.done():
                self.closed.set_exception(failure)
            raise failure from None
        if not chunk:
            await self.close()  # no half-open in the toy: the peer's EOF ends the socket
            return None
        return chunk

    async def write(self, data: Any) -> None:
        if not isinstance(data, bytes):
            raise JSError("TypeError", "toy write() accepts bytes only")
        _, writer = await self._ready()
        writer.write(data)
        await writer.drain()

    async def close_writer(self) -> None:
        _, writer = await self._ready()
        if writer.can_write_eof():
            writer.write_eof()

    async def close(self) -> None:
        await asyncio.wait({self.opened})
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), 1.0)
        if not self.closed.done():
            self.closed.set_result(None)

    def abort(self) -> None:
        self._connecting.cancel()
        if self._writer is not None:
            self._writer.transport.abort()


def connect(address: Any, options: Any = UNDEFINED) -> ToySocket:
    host, port = parse_address(address)
    return ToySocket(address, host, port)


# -- the adapter -----------------------------------------------------------------------------------------


class Adapter:
    def __init__(self) -> None:
        self.sockets: dict[str, ToySocket] = {}
        self.promises: dict[str, asyncio.Future[Any]] = {}
        self.encoders: dict[str, Any] = {}

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "hello":
            return {
                "status": "returned",
                "value": {
                    "name": "toy",
                    "version": VERSION,
                    "runtime": f"CPython {sys.version.split()[0]} asyncio",
                    "protocol": 1,
                    "capabilities": [],
                },
            }
        if op == "begin":
            self._discard()
            return {"status": "returned"}
        if op == "end":
            return await self._end(request)
        if op == "shutdown":
            self._discard()
            return {"status": "returned"}
        if op not in CLIENT_OPS:
            raise ProtocolError(f"unknown op {op!r}")
        method = getattr(self, f"op_{op}", None)
        if method is None:
            return {"status": "unsupported", "reason": f"the toy has no {op}"}
        result: dict[str, Any] = await method(request)
        return result

    # sessions (sections 4 and 9)

    async def _end(self, request: dict[str, Any]) -> dict[str, Any]:
        timeout = int(request.get("timeout_ms", 2000)) / 1000
        open_sockets = sum(1 for socket in self.sockets.values() if not socket.closed.done())
        closing = [
            asyncio.ensure_future(socket.close()) for socket in self.sockets.values() if not socket.closed.done()
        ]
        if closing:
            await asyncio.wait(closing, timeout=timeout)
        self._discard()
        return {"status": "returned", "value": {"open_sockets": open_sockets, "unhandled_rejections": []}}

    def _discard(self) -> None:
        for socket in self.sockets.values():
            socket.abort()
        for promise in self.promises.values():
            promise.cancel()
        self.sockets, self.promises, self.encoders = {}, {}, {}

    # helpers

    def _socket(self, request: dict[str, Any]) -> ToySocket:
        handle = request.get("socket")
        if not isinstance(handle, str):
            raise ProtocolError(f"{request.get('op')} needs socket")
        socket = self.sockets.get(handle)
        if socket is None:
            raise ProtocolError(f"unknown socket handle {handle!r}")
        return socket

    @staticmethod
    def _timeout(request: dict[str, Any]) -> float:
        value = request.get("timeout_ms")
        if type(value) is not int or value < 0:
            raise ProtocolError("timeout_ms must be a non-negative integer")
        return value / 1000

    async def _settle(self, promise: asyncio.Future[Any], timeout: float, encoder: Any = encode) -> dict[str, Any]:
        """Wait at most ``timeout``: resolved, rejected, or pending with a handle (section 8)."""
        promise.add_done_callback(_retrieve)  # asked for: from now on it has a handler
        await asyncio.wait({promise}, timeout=timeout)
        if promise.done():
            error = promise.exception()
            if error is not None:
                return {"status": "rejected", "error": encode_error(error)}
            return {"status": "resolved", "value": encoder(promise.result())}
        for handle, parked in self.promises.items():
            if parked is promise:
                return {"status": "pending", "promise": handle}
        handle = f"p{len(self.promises) + 1}"
        self.promises[handle] = promise
        self.encoders[handle] = encoder
        return {"status": "pending", "promise": handle}

    # client ops (section 5)

    async def op_connect(self, request: dict[str, Any]) -> dict[str, Any]:
        # No address: connect() with no argument, which the toy sees as undefined.
        address = decode(request["address"]) if "address" in request else UNDEFINED
        options = decode(request["options"]) if "options" in request else UNDEFINED
        if isinstance(options, dict) and options.get("secureTransport", "off") not in ("off", UNDEFINED):
            return {"status": "unsupported", "reason": "the toy has no TLS"}
        try:
            socket = connect(address, options)
        except JSError as error:
            return {"status": "threw", "error": encode_error(error)}
        handle = f"s{len(self.sockets) + 1}"
        self.sockets[handle] = socket
        return {"status": "returned", "value": {"socket": handle}}

    async def op_await(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("promise")
        timeout = self._timeout(request)
        if "socket" in request or name in ("opened", "closed"):
            socket = self._socket(request)
            if name == "opened":
                return await self._settle(socket.opened, timeout)
            if name == "closed":
                return await self._settle(socket.closed, timeout)
            raise ProtocolError(f"a socket has no promise {name!r}")
        if not isinstance(name, str) or name not in self.promises:
            raise ProtocolError(f"unknown promise handle {name!r}")
        return await self._settle(self.promises[name], timeout, self.encoders[name])

    async def op_get(self, request: dict[str, Any]) -> dict[str, Any]:
        self._socket(request)
        if request.get("property") == "secureTransport":
            return {"status": "returned", "value": "off", "typeof": "string"}
        return {"status": "unsupported", "reason": f"the toy has no property {request.get('property')!r}"}

    async def op_read(self, request: dict[str, Any]) -> dict[str, Any]:
        socket, timeout = self._socket(request), self._timeout(request)
        return await self._settle(asyncio.ensure_future(socket.read()), timeout, _encode_read)

    async def op_write(self, request: dict[str, Any]) -> dict[str, Any]:
        socket, timeout = self._socket(request), self._timeout(request)
        if "data" not in request:
            raise ProtocolError("write needs data")
        try:
            data = decode(request["data"])
        except (ValueError, KeyError, TypeError) as error:
            raise ProtocolError(f"cannot decode data: {error!r}") from None
        return await self._settle(asyncio.ensure_future(socket.write(data)), timeout, _undefined)

    async def op_close_writer(self, request: dict[str, Any]) -> dict[str, Any]:
        socket, timeout = self._socket(request), self._timeout(request)
        return await self._settle(asyncio.ensure_future(socket.close_writer()), timeout, _undefined)

    async def op_close(self, request: dict[str, Any]) -> dict[str, Any]:
        socket, timeout = self._socket(request), self._timeout(request)
        return await self._settle(asyncio.ensure_future(socket.close()), timeout, _undefined)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _undefined(_: Any) -> Any:
    return {"$type": "undefined"}


def _encode_read(chunk: bytes | None) -> Any:
    return {"done": True} if chunk is None else {"done": False, "value": encode(chunk)}


# -- the message loop (section 3) ----------------------------------------------------------------------


async def main() -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader(limit=256 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    adapter = Adapter()
    log(f"started (version {VERSION})")
    while line := await stdin.readline():
        try:
            request = json.loads(line)
        except ValueError:
            send({"seq": 0, "status": "protocol_error", "reason": "not JSON"})
            continue
        if not isinstance(request, dict) or type(request.get("seq")) is not int:
            send({"seq": 0, "status": "protocol_error", "reason": "a request is an object with an integer seq"})
            continue
        try:
            response = await adapter.handle(request)
        except ProtocolError as error:
            response = {"status": "protocol_error", "reason": str(error)}
        except Exception as error:  # a bug of the adapter: say so on stderr and answer
            log("bug:", repr(error))
            response = {"status": "protocol_error", "reason": f"toy adapter bug: {error!r}"}
        send({"seq": request["seq"], **response})
        if request.get("op") == "shutdown":
            break
    log("bye")


if __name__ == "__main__":
    asyncio.run(main())
