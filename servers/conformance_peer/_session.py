"""One case's peer: its listener, the connections it accepted, the refused port."""

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import get_args

from ._chunks import ChunkPlan
from ._connection import Connection
from ._errors import PeerError, UnknownConnection, UnsupportedListener
from ._listener import Listener
from ._refused import reserve_refused_port
from ._results import Accepted, Done, Echoed, EndSeen, NoConnection, PeerResult, Received, Sent, TlsInfo
from ._spec import CertificateFiles, CertificateName, ListenerKind, ListenerSpec
from ._tls import server_context
from .calls import PeerCall

ABORT_GRACE = 1.0
"""Seconds `aclose` waits for aborted sockets to be gone."""


class PeerSession:
    """The peer side of one case. Owns its listener, connections and refused port.

    Use `open_session()` to make one and `aclose()` (or `async with`) to end it.
    """

    def __init__(
        self,
        listener: Listener | None,
        host: str,
        refused: socket.socket,
        kind: ListenerKind = "plain",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._listener = listener
        self._kind = kind
        self._tls = tls
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
            self.variables["peer.port_hex"] = hex(listener.port)  # e.g. "0x1f90": a string JS converts to the port
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

    async def perform(self, call: PeerCall) -> PeerResult:
        """Runs `call` as this session's method of its op: how the harness drives a session, here or remote.

        Each op below is a method named as its call's `op`, taking the call's fields by name.
        """
        method: Callable[..., Awaitable[PeerResult | None]] = getattr(self, call.op)
        result = await method(**call.args())
        return Done() if result is None else result

    async def accept(self, name: str, timeout: float) -> Accepted | NoConnection:
        """Takes the next incoming connection (or one that came earlier) and names it `name`.

        On a `tls` listener it also waits for that connection's handshake, within
        the same `timeout`: `Accepted.tls` says how it went (a failed one is closed).
        """
        if self._listener is None:
            raise PeerError("this session has no listener (peer: none)")
        if name in self._connections:
            raise PeerError(f"a connection named {name!r} was already accepted")
        deadline = asyncio.get_running_loop().time() + timeout
        stream = await self._listener.next(timeout)
        if stream is None:
            return NoConnection(name, timeout)
        connection = Connection(name, stream)
        self._connections[name] = connection
        tls = None
        if self._kind == "tls":
            tls = await connection.handshake(deadline - asyncio.get_running_loop().time())
        return Accepted(name, connection.remote_address, tls)

    async def start_tls(self, conn: str, timeout: float) -> TlsInfo:
        """Upgrades a `starttls` connection to TLS, server side, within `timeout`.

        Bytes the case read before stay what they were; bytes not read yet are
        the client's first TLS bytes. Every op then works on the decrypted stream.
        A failed handshake is returned (`ok` False, the connection closed), not raised.
        """
        connection = self._get(conn)
        if self._kind != "starttls" or self._tls is None:
            raise PeerError(f"start_tls needs a starttls listener, not {self._kind!r}")
        return await connection.start_tls(self._tls, timeout)

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


async def open_session(spec: ListenerSpec, certificates: CertificateFiles | None = None) -> PeerSession:
    """Opens the listener `spec` asks for (port 0 on loopback) and reserves a refused port.

    `tls` and `starttls` listeners need the run's `certificates`.
    """
    if spec.kind not in get_args(ListenerKind):
        raise UnsupportedListener(f"listener kind {spec.kind!r} is not served by this peer")
    try:
        address = ipaddress.ip_address(spec.host)
    except ValueError:
        raise UnsupportedListener(f"the peer listens on an IP address, not on {spec.host!r}") from None
    if address.is_unspecified or address.is_multicast:
        # 0.0.0.0 would listen on every interface of the machine: the peer serves one address only.
        raise UnsupportedListener(f"the peer listens on one address, not on {spec.host!r}")
    if not 0 <= spec.port <= 65535:
        raise UnsupportedListener(f"port {spec.port} is not a TCP port")
    tls = None
    if spec.kind in ("tls", "starttls"):
        tls = _tls_context(spec, certificates)
    refused = reserve_refused_port()
    listener = None
    with contextlib.ExitStack() as on_error:
        on_error.callback(refused.close)
        if spec.kind != "none":
            listener = await Listener.open(spec.host, tls if spec.kind == "tls" else None, spec.port)
        on_error.pop_all()
    return PeerSession(listener, spec.host, refused, spec.kind, tls)


def _tls_context(spec: ListenerSpec, certificates: CertificateFiles | None) -> ssl.SSLContext:
    if certificates is None:
        raise UnsupportedListener(
            f"a {spec.kind!r} listener needs the run's certificates:"
            " open_session(spec, certificates=CertificateFiles(...))"
        )
    if spec.cert not in get_args(CertificateName):
        raise UnsupportedListener(f"there is no certificate named {spec.cert!r}")
    try:
        chain, key = certificates.paths(spec.cert)
    except KeyError:
        raise UnsupportedListener(f"the run's certificates have no {spec.cert!r}") from None
    try:
        return server_context(chain, key)
    except (OSError, ssl.SSLError) as exc:
        raise PeerError(f"cannot load the {spec.cert!r} certificate ({chain}, {key}): {exc}") from exc
