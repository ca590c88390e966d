"""A listening socket of one session, and the connections it has not handed out yet."""

import asyncio
import ssl

from ._stream import Stream


class Listener:
    """Listens on `host`, on `port` (0: a free one); queues every incoming connection until someone accepts it.

    Connections are accepted by the kernel and asyncio as they come, so a client
    that connects before the case's `peer.accept` step is simply waiting in the queue.
    With a TLS context, each connection's handshake starts as soon as it arrives (a
    client may wait for it before the case accepts); `accept` then waits for its end.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._queue: asyncio.Queue[Stream] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self.streams: list[Stream] = []
        """Every connection this listener got, accepted or not (to close them at the end)."""

    @classmethod
    async def open(cls, host: str, tls: ssl.SSLContext | None = None, port: int = 0) -> "Listener":
        listener = cls(tls)
        loop = asyncio.get_running_loop()
        listener._server = await loop.create_server(lambda: Stream(listener._connected), host=host, port=port)
        return listener

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def next(self, timeout: float) -> Stream | None:
        """The oldest connection not yet handed out; None when none arrives within `timeout`.

        A queued connection is returned even with a zero timeout: `get()` does not
        suspend when the queue has an item, so the deadline cannot interrupt it.
        """
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    async def aclose(self) -> None:
        """Stops listening; the connections stay for their owner to close."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _connected(self, stream: Stream) -> None:
        if self._tls is not None:
            stream.start_tls(self._tls)
        self.streams.append(stream)
        self._queue.put_nowait(stream)
