"""The scripted ops on one accepted connection, each bounded by its timeout.

Ops report what the client did (bytes, FIN, RST, silence) in their result; they
raise `PeerError` only when the case asks for something impossible, such as
reading a connection the peer has closed itself.
"""

import asyncio
import contextlib
import hashlib
import ssl
from collections.abc import Iterator

from ._chunks import ChunkPlan, cut
from ._errors import PeerError
from ._results import Echoed, EndKind, EndSeen, Received, Sent, TlsInfo
from ._stream import Stream

CLOSE_GRACE = 5.0
"""Seconds `close` and `reset` wait for the socket to be gone before returning anyway."""

ECHO_BUFFER_LIMIT = 64 * 1024 * 1024
"""Unsent echo bytes held before echo waits for the client to read (without a chunk plan)."""


class Connection:
    """A connection accepted under `name`."""

    def __init__(self, name: str, stream: Stream) -> None:
        self.name = name
        self._stream = stream
        self._reading = False

    @property
    def remote_address(self) -> str:
        return self._stream.remote_address

    async def send(self, data: bytes, chunks: ChunkPlan | None, timeout: float) -> Sent:
        """Writes `data` (in the plan's chunks, draining after each) until it is all in the kernel."""
        self._check_writable()
        view = memoryview(data)
        pieces = [view] if chunks is None else chunks.split(view)
        written = count = 0
        timed_out = reset = False
        try:
            async with asyncio.timeout(timeout):
                for piece in pieces:
                    if not self._stream.write(piece):
                        reset = True
                        break
                    written += len(piece)
                    count += 1
                    if not await self._stream.drain():
                        reset = True
                        break
        except TimeoutError:
            timed_out = True
        return Sent(written - self._stream.unsent, count, timed_out, reset)

    async def recv(self, n: int | None, timeout: float, digest: bool) -> Received:
        """Reads exactly `n` bytes, or until the stream ends when `n` is None."""
        with self._reader():
            return await self._recv(n, timeout, digest)

    async def _recv(self, n: int | None, timeout: float, digest: bool) -> Received:
        hasher = hashlib.sha256()
        parts: list[bytes] = []
        length = 0
        ended: EndKind | None = None
        timed_out = False
        try:
            async with asyncio.timeout(timeout):
                while n is None or length < n:
                    await self._stream.readable()
                    chunk = self._stream.take(None if n is None else n - length)
                    if not chunk:
                        ended = self._end_kind()
                        break
                    hasher.update(chunk)
                    length += len(chunk)
                    if not digest:
                        parts.append(chunk)
        except TimeoutError:
            timed_out = True
        data = None if digest else b"".join(parts)
        return Received(data, hasher.hexdigest(), length, ended, timed_out)

    async def wait_end(self, timeout: float) -> EndSeen:
        """Reports what comes first: bytes, FIN, RST, or nothing within `timeout` (silence)."""
        with self._reader():
            try:
                async with asyncio.timeout(timeout):
                    await self._stream.readable()
            except TimeoutError:
                return EndSeen("silence")
            data = self._stream.take_all()
            return EndSeen("data", data) if data else EndSeen(self._end_kind())

    async def echo(self, chunks: ChunkPlan | None, timeout: float) -> Echoed:
        """Writes back everything it reads until the stream ends, then waits until it is sent."""
        self._check_writable()
        with self._reader():
            return await self._echo(chunks, timeout)

    async def _echo(self, chunks: ChunkPlan | None, timeout: float) -> Echoed:
        sizes = None if chunks is None else chunks.sizes()
        length = 0
        ended: EndKind | None = None
        timed_out = False
        try:
            async with asyncio.timeout(timeout):
                while ended is None:
                    await self._stream.readable()
                    block = self._stream.take()
                    if not block:
                        ended = self._end_kind()
                    elif not await self._echo_block(block, sizes):
                        ended = "reset"
                    else:
                        length += len(block)
                await self._stream.drain()
        except TimeoutError:
            timed_out = True
        return Echoed(length, ended, timed_out)

    async def _echo_block(self, block: bytes, sizes: Iterator[int] | None) -> bool:
        if sizes is None:
            if not self._stream.write(block):
                return False
            return self._stream.unsent <= ECHO_BUFFER_LIMIT or await self._stream.drain()
        for piece in cut(memoryview(block), sizes):
            if not self._stream.write(piece) or not await self._stream.drain():
                return False
        return True

    async def handshake(self, timeout: float) -> TlsInfo:
        """Waits up to `timeout` for the TLS handshake under way to end.

        A handshake still going at the deadline counts as failed: the connection is closed.
        """
        handshake = self._stream.handshake
        assert handshake is not None, "no TLS handshake was started on this connection"
        timeout = max(0.0, timeout)
        await asyncio.wait({handshake}, timeout=timeout)
        if not handshake.done():
            self._stream.fail_tls(f"the TLS handshake did not finish within {timeout:.3g} s")
        return handshake.result()

    async def start_tls(self, context: ssl.SSLContext, timeout: float) -> TlsInfo:
        """Upgrades to TLS (server side) and waits up to `timeout` for the handshake."""
        if self._stream.handshake is not None:
            raise PeerError(f"connection {self.name!r} already speaks TLS")
        self._check_writable()
        with self._reader():  # the bytes not read yet belong to the handshake now
            self._stream.start_tls(context)
            return await self.handshake(timeout)

    def shutdown_write(self) -> None:
        """Half-closes: FIN goes out after the bytes already written."""
        self._stream.shutdown_write()

    async def close(self) -> None:
        """Closes the connection gracefully (FIN after pending bytes)."""
        self._stream.close()
        await self._stream.wait_lost(CLOSE_GRACE)

    async def reset(self) -> None:
        """Aborts the connection with RST."""
        self._stream.reset()
        await self._stream.wait_lost(CLOSE_GRACE)

    def _end_kind(self) -> EndKind:
        ending = self._stream.ending
        if ending == "closed" or self._stream.closed_locally:
            raise PeerError(f"connection {self.name!r} was closed by the peer itself")
        assert ending is not None
        return ending

    @contextlib.contextmanager
    def _reader(self) -> Iterator[None]:
        """Marks the one op that may read this connection now."""
        self._check_tls()
        if self._stream.closed_locally:
            raise PeerError(f"cannot read connection {self.name!r}: the peer closed it")
        if self._reading:
            raise PeerError(f"two peer ops are reading connection {self.name!r} at once")
        self._reading = True
        try:
            yield
        finally:
            self._reading = False

    def _check_tls(self) -> None:
        handshake = self._stream.handshake
        if handshake is not None and not handshake.done():
            raise PeerError(f"connection {self.name!r} is in the middle of its TLS handshake")
        if self._stream.tls_error is not None:
            raise PeerError(
                f"connection {self.name!r} has no TLS session: the handshake failed ({self._stream.tls_error})"
            )

    def _check_writable(self) -> None:
        self._check_tls()
        if self._stream.write_shut:
            raise PeerError(f"cannot write connection {self.name!r}: the peer already shut it down")
