"""The server side of TLS for the reference's tests, on a connection accepted by ``support.peer``.

Written here on purpose instead of borrowing the conformance peer's TLS code
(which changes on its own schedule): an ``ssl.SSLObject`` between memory BIOs
over the accepted connection's asyncio streams. That gives the tests what
asyncio's SSL server would hide: the client's SNI, every handshake failure as
a value, a handshake that starts whenever the test says (after a delay, or
after a plaintext STARTTLS exchange), close_notify told apart from a bare FIN,
and a half-close in both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

from conformance_peer import CertificateName

from conformance.core.certificates import RunCertificates

from .support import Conn

READ_SIZE = 64 * 1024


class _Recorder(ssl.SSLObject):
    """An SSLObject that remembers the SNI the client sent (None: none)."""

    sni: str | None = None


def _record_sni(obj: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
    if isinstance(obj, _Recorder):
        obj.sni = name


def server_context(certs: RunCertificates, name: CertificateName = "good") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.chain_file(name), certs.key_file(name))
    context.sslobject_class = _Recorder
    context.sni_callback = _record_sni
    return context


class ServerTls:
    """TLS, server side, over one accepted connection (which may have spoken plaintext first)."""

    def __init__(self, conn: Conn, context: ssl.SSLContext) -> None:
        self.conn = conn
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._obj = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self.close_notify_received = False

    @property
    def sni(self) -> str | None:
        return self._obj.sni if isinstance(self._obj, _Recorder) else None

    @property
    def version(self) -> str | None:
        return self._obj.version()

    async def handshake(self, timeout: float = 5.0) -> str | None:
        """Shake hands; None when it worked, else why it failed (the connection is closed then)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    try:
                        self._obj.do_handshake()
                    except ssl.SSLWantReadError:
                        await self._flush()
                        if not await self._receive():
                            self._incoming.write_eof()
                        continue
                    await self._flush()
                    return None
        except ssl.SSLError as error:
            await self._flush()
            self.conn.close()
            return str(error)

    async def recv(self, timeout: float = 5.0) -> bytes:
        """The next plaintext (b"" at close_notify); raises ssl.SSLError on a bare FIN."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    data = self._obj.read(READ_SIZE)
                except ssl.SSLWantReadError:
                    if not await self._receive():
                        self._incoming.write_eof()
                    continue
                except ssl.SSLZeroReturnError:
                    data = b""
                if not data:
                    self.close_notify_received = True
                return data

    async def recv_exactly(self, n: int, timeout: float = 5.0) -> bytes:
        parts = bytearray()
        while len(parts) < n:
            chunk = await self.recv(timeout)
            assert chunk, f"the stream ended after {len(parts)} of {n} bytes"
            parts += chunk
        return bytes(parts)

    async def recv_until_eof(self, timeout: float = 5.0) -> bytes:
        parts = bytearray()
        while chunk := await self.recv(timeout):
            parts += chunk
        return bytes(parts)

    async def send(self, data: bytes) -> None:
        self._obj.write(data)
        await self._flush()

    async def shutdown_write(self) -> None:
        """close_notify, then FIN: reading goes on."""
        with contextlib.suppress(ssl.SSLError):
            self._obj.unwrap()
        await self._flush()
        self.conn.shutdown_write()

    async def _receive(self) -> bool:
        data = await self.conn.reader.read(READ_SIZE)
        if data:
            self._incoming.write(data)
        return bool(data)

    async def _flush(self) -> None:
        out = self._outgoing.read()
        if out and not self.conn.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                await self.conn.send(out)
