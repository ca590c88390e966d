"""The transport half of one accepted connection: bytes in, how the stream ended, write flow.

An `asyncio.Protocol` rather than asyncio streams, so that the order of events is
exact: bytes that arrived before a FIN or a reset are handed out first, and the
end is seen only once they are taken. A FIN keeps the transport open (half-close),
so the peer can go on writing after the client's `close_writer()`.

With TLS (`start_tls`), the same holds for the decrypted stream: the client's
close_notify or FIN is `eof`, `shutdown_write` sends close_notify then FIN, and
`reset` sends RST without close_notify.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections import deque
from collections.abc import Callable
from typing import Literal

from ._results import TlsInfo
from ._tls import TlsSession

Ending = Literal["eof", "reset", "closed"]
"""How the incoming stream ended: the client's FIN, a reset (RST, or a write the
kernel refused because the client was gone), or our own close or reset."""

READ_HIGH_WATER = 4 * 1024 * 1024
"""Bytes held unread before the peer stops reading from the socket (TCP pushes back)."""
READ_LOW_WATER = 1024 * 1024


class Stream(asyncio.Protocol):
    """One TCP connection, as the peer's ops see it."""

    def __init__(self, on_connected: Callable[[Stream], None]) -> None:
        self._on_connected = on_connected
        self._transport: asyncio.Transport | None = None
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._reading_paused = False
        self._ending: Ending | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False
        self.write_shut = False
        """We sent FIN (or closed): nothing more may be written."""
        self.closed_locally = False
        """We closed or reset the connection ourselves."""
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Done once the socket is closed, whoever closed it."""
        self._tls: TlsSession | None = None
        self._plain_out = self._cipher_out = 0
        self.handshake: asyncio.Future[TlsInfo] | None = None
        """Set when TLS starts on this connection; its result says how the handshake went."""
        self.tls_error: str | None = None
        """Why the handshake failed (the connection is closed then)."""

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        # Pause as soon as anything is buffered: drain() then means "all bytes are in the kernel".
        transport.set_write_buffer_limits(high=0)
        self._on_connected(self)

    def data_received(self, data: bytes) -> None:
        if self._tls is None:
            self._add(data)
        else:
            self._tls_received(data)

    def _add(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        _wake(self._read_waiter)
        if self._buffered >= READ_HIGH_WATER and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.fail_tls("the client closed the connection (FIN) during the TLS handshake")
        self._end("eof")
        return True  # keep the transport open: we may still write

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail_tls(f"the connection was {'reset' if exc else 'closed'} during the TLS handshake")
        self._end("closed" if exc is None else "reset")
        if not self.lost.done():
            self.lost.set_result(None)
        _wake(self._read_waiter)
        _wake(self._write_waiter)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        _wake(self._write_waiter)

    # reading

    @property
    def transport(self) -> asyncio.Transport:
        assert self._transport is not None, "connection_made has not run yet"
        return self._transport

    @property
    def remote_address(self) -> str:
        host, port = self.transport.get_extra_info("peername")[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def ending(self) -> Ending | None:
        """How the stream ended, once every byte before the end has been taken."""
        return None if self._chunks else self._ending

    async def readable(self) -> None:
        """Waits until there are bytes to take or the stream has ended."""
        while not self._chunks and self._ending is None:
            assert self._read_waiter is None, "one reader at a time (Connection ensures it)"
            self._read_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._read_waiter
            finally:
                self._read_waiter = None

    def take(self, limit: int | None = None) -> bytes:
        """Removes and returns the next buffered bytes: one received chunk, at most `limit` bytes."""
        if not self._chunks:
            return b""
        chunk = self._chunks.popleft()
        if limit is not None and len(chunk) > limit:
            self._chunks.appendleft(chunk[limit:])
            chunk = chunk[:limit]
        self._buffered -= len(chunk)
        if self._reading_paused and self._buffered <= READ_LOW_WATER:
            self._reading_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()
        return chunk

    def take_all(self) -> bytes:
        """Removes and returns every buffered byte."""
        parts = []
        while chunk := self.take():
            parts.append(chunk)
        return b"".join(parts)

    # writing

    @property
    def unsent(self) -> int:
        """Bytes written but not yet handed to the kernel (with TLS, in plaintext bytes, estimated)."""
        if self.lost.done():
            return 0
        size = self.transport.get_write_buffer_size()
        if self._cipher_out:
            size = min(self._plain_out, size * self._plain_out // self._cipher_out)
        return size

    def write(self, data: bytes | memoryview) -> bool:
        """Queues `data` (encrypted, with TLS); False when the connection is already gone."""
        if self.lost.done() or self.transport.is_closing():
            return False
        if self._tls is not None:
            self._plain_out += len(data)
            data = self._tls.encrypt(data)
            self._cipher_out += len(data)
        self.transport.write(data)
        return True

    async def drain(self) -> bool:
        """Waits until every written byte is in the kernel; False when the connection was lost."""
        # A failed send closes the transport at once but reports the loss a loop turn later.
        while not self.lost.done() and (self._writing_paused or self.transport.is_closing()):
            self._write_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._write_waiter
            finally:
                self._write_waiter = None
        return not self.lost.done()

    # ending our side

    def shutdown_write(self) -> None:
        """Sends FIN once the written bytes are out (half-close: reading goes on)."""
        if self.write_shut or self.lost.done():
            return
        self._send_raw(self._close_notify())
        self.write_shut = True
        with contextlib.suppress(OSError):  # the client already reset: reading will report it
            self.transport.write_eof()

    def close(self) -> None:
        """Closes after the written bytes (and close_notify, with TLS) are out: the client sees FIN."""
        if not self.write_shut:
            self._send_raw(self._close_notify())
        self.closed_locally = self.write_shut = True
        self.transport.close()

    def reset(self) -> None:
        """Aborts with RST: SO_LINGER on with a zero timeout, then close."""
        self.closed_locally = self.write_shut = True
        if self.lost.done():
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def abort(self) -> None:
        """Drops the connection at once, discarding unsent bytes (no SO_LINGER change)."""
        self.closed_locally = self.write_shut = True
        if not self.lost.done():
            self.transport.abort()

    async def wait_lost(self, grace: float) -> bool:
        """Waits up to `grace` seconds for the socket to close; True when it has."""
        await asyncio.wait({self.lost}, timeout=grace)
        return self.lost.done()

    # TLS

    def start_tls(self, context: ssl.SSLContext) -> asyncio.Future[TlsInfo]:
        """Starts the server side of a TLS handshake; `handshake` tells how it ends.

        Bytes received but not taken yet are the client's first TLS bytes (its
        ClientHello may come before the STARTTLS step), so they go to TLS.
        """
        assert self._tls is None, "TLS starts once per connection"
        self._tls = TlsSession(context)
        self.handshake = asyncio.get_running_loop().create_future()
        early = self.take_all()
        if early:
            self._tls_received(early)
        if self._ending is not None:
            self.fail_tls(f"the connection had ended ({self._ending}) before the TLS handshake")
        return self.handshake

    def fail_tls(self, error: str) -> None:
        """Ends a handshake under way as failed (no-op otherwise): records why, closes (FIN)."""
        if self.handshake is None or self.handshake.done():
            return
        assert self._tls is not None
        self.tls_error = error
        self.handshake.set_result(self._tls.failed(error))
        self.closed_locally = self.write_shut = True
        if not self.lost.done():
            self.transport.close()

    def _tls_received(self, data: bytes) -> None:
        assert self._tls is not None
        assert self.handshake is not None
        if self.tls_error is not None:
            return  # the handshake failed: the connection is closing, nothing more to read
        plain, error = self._tls.receive(data)
        self._send_raw(self._tls.output())  # handshake messages, alerts
        if plain:
            self._add(plain)
        if error is not None and not self.handshake.done():
            self.fail_tls(error)
            return
        if self._tls.established and not self.handshake.done():
            self.handshake.set_result(self._tls.info())
        if error is not None:  # a broken record after the handshake: the stream is unusable
            self._end("reset")
            self.transport.close()
        elif self._tls.close_notify_received:
            self._end("eof")

    def _close_notify(self) -> bytes:
        return b"" if self._tls is None else self._tls.close_notify()

    def _send_raw(self, data: bytes) -> None:
        if data and not self.write_shut and not self.lost.done() and not self.transport.is_closing():
            self.transport.write(data)

    def _end(self, ending: Ending) -> None:
        if self._ending is None:
            self._ending = ending
        _wake(self._read_waiter)


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
