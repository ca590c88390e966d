"""TLS helpers of the peer's tests: a client whose every TLS step the test controls.

`TlsClient` runs TLS through memory BIOs over a plain loopback connection, so a
test decides on its own when close_notify, FIN or RST go out, and can speak
plaintext first (STARTTLS). Python's ssl verifies the peer's certificate against
the run's CA exactly as any client that checks certificates would.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from pathlib import Path

READ_SIZE = 65536


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying client context trusting only `ca_file` (None: the system's CAs, not ours)."""
    return ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))


class TlsClient:
    """One client connection: plaintext through `reader`/`writer` until `handshake()`, TLS after."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls: ssl.SSLObject | None = None

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> TlsClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    @property
    def tls(self) -> ssl.SSLObject:
        assert self._tls is not None, "no handshake yet"
        return self._tls

    async def handshake(self, context: ssl.SSLContext, server_hostname: str | None) -> None:
        """Shakes hands; raises the ssl error when our verification (or the server) fails."""
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                if not await self._fill():
                    raise ConnectionError("EOF during the handshake") from None
            finally:
                self._flush()  # the client's Finished, or its alert on failure

    async def write(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()
        await self.writer.drain()

    async def read(self, n: int) -> bytes:
        """Exactly `n` bytes, or fewer when the stream ends first."""
        data, _ = await self._read(n)
        return data

    async def read_to_end(self) -> tuple[bytes, str]:
        """Everything until the end, and how it ended: "close_notify" or "eof" (FIN alone)."""
        return await self._read(None)

    async def _read(self, n: int | None) -> tuple[bytes, str]:
        parts: list[bytes] = []
        length = 0
        while n is None or length < n:
            try:
                chunk = self.tls.read(READ_SIZE if n is None else n - length)
            except ssl.SSLWantReadError:
                self._flush()
                await self._fill()
                continue
            except ssl.SSLZeroReturnError:
                return b"".join(parts), "close_notify"
            except ssl.SSLEOFError:
                return b"".join(parts), "eof"
            if not chunk:
                return b"".join(parts), "close_notify"
            parts.append(chunk)
            length += len(chunk)
        return b"".join(parts), ""

    def close_notify(self) -> None:
        """Sends close_notify and nothing else (the TCP connection stays open both ways)."""
        with contextlib.suppress(ssl.SSLError):
            self.tls.unwrap()
        self._flush()

    def fin(self) -> None:
        self.writer.write_eof()

    def reset(self) -> None:
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    def close(self) -> None:
        self.writer.transport.abort()

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data and not self.writer.is_closing():
            self.writer.write(data)

    async def _fill(self) -> bool:
        try:
            data = await self.reader.read(READ_SIZE)
        except ConnectionError:
            data = b""
        if not data:
            self._incoming.write_eof()
            return False
        self._incoming.write(data)
        return True
