#!/usr/bin/env python3
"""A third-party stdio adapter for a toy ``connect()``, on the adapter kit (``conformance.adapter_kit``).

The "implementation" is ``ToySocket``: plain asyncio streams with ``opened``/``closed`` as
futures, one reader and one writer. It supports ``"host:port"`` addresses,
``secureTransport: "off"``, read, write, close_writer and close; the other ops answer
``unsupported``. Everything else an adapter does (the message loop, seq, timeouts, values,
errors, handles, pending promises, ``end``) is the kit's, written from docs/adapters.md only:

    connect-conformance adapter-check --adapter stdio:'python tests/thirdparty/toy_adapter.py'
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from conformance.adapter_kit import UNDEFINED, JSBytes, JSError, Unsupported, create_adapter, run_stdio

VERSION = "0.1.0"
#: What the toy serves; the kit answers the other client ops with `unsupported`.
OPS = ("connect", "await", "get", "read", "write", "close_writer", "close")


def log(*parts: object) -> None:
    print("toy-adapter:", *parts, file=sys.stderr, flush=True)


# -- the toy implementation of connect() ---------------------------------------------------------------


def parse_address(address: Any) -> tuple[str, int]:
    if not isinstance(address, str):
        raise JSError("TypeError", 'toy connect() accepts only "host:port" strings')
    host, colon, port = address.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise JSError("TypeError", f'toy connect() needs "host:port", got {address!r}')
    return host.strip("[]"), int(port)


class ToySocket:
    secure_transport = "off"

    def __init__(self, address: str, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.address = address
        self.opened: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.readable = ToyReadable(self)
        self.writable = ToyWritable(self)
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
        if not isinstance(data, JSBytes):
            raise JSError("TypeError", "toy write() accepts bytes only")
        _, writer = await self._ready()
        writer.write(data.data)
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


class ToyReadable:
    """The toy has no locks: every reader reads the socket."""

    def __init__(self, socket: ToySocket) -> None:
        self._socket = socket

    def get_reader(self) -> ToySocket:
        return self._socket


class ToyWritable:
    def __init__(self, socket: ToySocket) -> None:
        self._socket = socket

    def get_writer(self) -> ToyWriter:
        return ToyWriter(self._socket)


class ToyWriter:
    def __init__(self, socket: ToySocket) -> None:
        self.write = socket.write
        self.close = socket.close_writer


def connect(address: Any = UNDEFINED, options: Any = UNDEFINED) -> ToySocket:
    if isinstance(options, dict) and options.get("secureTransport", "off") not in ("off", UNDEFINED):
        raise Unsupported("the toy has no TLS")
    host, port = parse_address(address)
    return ToySocket(address, host, port)


if __name__ == "__main__":
    log(f"started (version {VERSION})")
    runtime = f"CPython {sys.version.split()[0]} asyncio"
    run_stdio(create_adapter(name="toy", version=VERSION, runtime=runtime, connect=connect, ops=OPS))
    log("bye")
