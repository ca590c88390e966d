"""One case's peer: its listener, the connections it accepted, the refused port."""

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, get_args

from ._chunks import ChunkPlan
from ._connection import Connection
from ._errors import PeerError, UnknownConnection, UnsupportedListener
from ._listener import Listener
from ._refused import reserve_refused_port
from ._results import Accepted, Echoed, EndSeen, NoConnection, Received, Sent

ListenerKind = Literal["plain", "none"]
LoopbackHost = Literal["127.0.0.1", "::1"]

ABORT_GRACE = 1.0
"""Seconds `aclose` waits for aborted sockets to be gone."""


@dataclass(frozen=True)
class ListenerSpec:
    """The listener a case asks for (its `peer:` field): `none` opens no listener."""

    kind: ListenerKind = "plain"
    host: LoopbackHost = "127.0.0.1"


class PeerSession:
    """The peer side of one case. Owns its listener, connections and refused port.

    Use `open_session()` to make one and `aclose()` (or `async with`) to end it.
    """

    def __init__(self, listener: Listener | None, host: str, refused: socket.socket) -> None:
        self._listener = listener
        self._refused = refused
        self._connections: dict[str, Connection] = {}
        self._closed = False
        self.port: int | None = None if listener is None else listener.port
        """The listener's port (`${peer.port}`); None when the session has no listener."""
        self.refused_port: int = refused.getsockname()[1]
        """The port that refuses connections (`${peer.refused_port}`)."""
        self.variables: dict[str, object] = {}
        """The `${peer.*}` values a case may use."""
        if listener is not None:
            client_host = f"[{host}]" if ":" in host else host
            self.variables["peer.host"] = client_host
            self.variables["peer.hostname"] = host
            self.variables["peer.port"] = listener.port
            self.variables["peer.address"] = f"{client_host}:{listener.port}"
        self.variables["peer.refused_port"] = self.refused_port
        self.variables["peer.refused_address"] = f"127.0.0.1:{self.refused_port}"

    async def __aenter__(self) -> "PeerSession":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def accept(self, name: str, timeout: float) -> Accepted | NoConnection:
        """Takes the next incoming connection (or one that came earlier) and names it `name`."""
        if self._listener is None:
            raise PeerError("this session has no listener (peer: none)")
        if name in self._connections:
            raise PeerError(f"a connection named {name!r} was already accepted")
        stream = await self._listener.next(timeout)
        if stream is None:
            return NoConnection(name, timeout)
        connection = Connection(name, stream)
        self._connections[name] = connection
        return Accepted(name, connection.remote_address)

    async def send(self, conn: str, data: bytes, chunks: ChunkPlan | None, timeout: float) -> Sent:
        return await self._get(conn).send(data, chunks, timeout)

    async def recv(self, conn: str, n: int | None, timeout: float, digest: bool) -> Received:
        return await self._get(conn).recv(n, timeout, digest)

    async def wait_end(self, conn: str, timeout: float) -> EndSeen:
        return await self._get(conn).wait_end(timeout)

    async def echo(self, conn: str, chunks: ChunkPlan | None, timeout: float) -> Echoed:
        return await self._get(conn).echo(chunks, timeout)

    async def shutdown_write(self, conn: str) -> None:
        self._get(conn).shutdown_write()

    async def close(self, conn: str) -> None:
        await self._get(conn).close()

    async def reset(self, conn: str) -> None:
        await self._get(conn).reset()

    async def aclose(self) -> None:
        """Closes the listener, drops every connection, frees the refused port. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._refused.close()
        if self._listener is None:
            return
        await self._listener.aclose()
        streams = self._listener.streams
        for stream in streams:
            stream.abort()
        await asyncio.gather(*(stream.wait_lost(ABORT_GRACE) for stream in streams))

    def _get(self, name: str) -> Connection:
        try:
            return self._connections[name]
        except KeyError:
            raise UnknownConnection(name) from None


async def open_session(spec: ListenerSpec) -> PeerSession:
    """Opens the listener `spec` asks for (port 0 on loopback) and reserves a refused port."""
    if spec.kind not in get_args(ListenerKind):
        raise UnsupportedListener(f"listener kind {spec.kind!r} is not served by this peer")
    if spec.host not in get_args(LoopbackHost):
        raise UnsupportedListener(f"the peer listens on loopback only, not on {spec.host!r}")
    refused = reserve_refused_port()
    listener = None
    with contextlib.ExitStack() as on_error:
        on_error.callback(refused.close)
        if spec.kind == "plain":
            listener = await Listener.open(spec.host)
        on_error.pop_all()
    return PeerSession(listener, spec.host, refused)
