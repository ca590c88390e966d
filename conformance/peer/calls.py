"""What the interpreter asks of the peer, as typed calls, and what comes back, as typed results.

The interpreter builds a ``PeerCall`` for each ``peer.*`` step; the runner hands
it to ``perform``, which is the one place that maps a call to a ``PeerSession``
method. Results are the peer's own frozen values (``Accepted``, ``Sent``...),
plus ``Done`` for the ops that return nothing and ``JoinTimedOut`` for a
background step that did not finish in time. Every call and result has an
``as_dict()`` for the transcript.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Protocol

from conformance_peer import (
    Accepted,
    ChunkPlan,
    Echoed,
    EndSeen,
    NoConnection,
    Received,
    Sent,
    TlsInfo,
)

from ..core.jsshow import wire_bytes


@dataclass(frozen=True)
class Accept:
    name: str
    timeout: float


@dataclass(frozen=True)
class Send:
    conn: str
    data: bytes
    chunks: ChunkPlan | None
    timeout: float


@dataclass(frozen=True)
class Recv:
    conn: str
    n: int | None
    timeout: float
    digest: bool


@dataclass(frozen=True)
class WaitEnd:
    """Wait for the client's end of the stream (FIN or RST), or for nothing during ``timeout``."""

    conn: str
    timeout: float


@dataclass(frozen=True)
class Echo:
    conn: str
    chunks: ChunkPlan | None
    timeout: float


@dataclass(frozen=True)
class ShutdownWrite:
    conn: str


@dataclass(frozen=True)
class Close:
    conn: str


@dataclass(frozen=True)
class Reset:
    conn: str


@dataclass(frozen=True)
class StartTls:
    conn: str
    timeout: float


PeerCall = Accept | Send | Recv | WaitEnd | Echo | ShutdownWrite | Close | Reset | StartTls


@dataclass(frozen=True)
class Done:
    """An op that returns nothing (shutdown, close, reset) finished."""

    def as_dict(self) -> dict[str, object]:
        return {"done": True}


@dataclass(frozen=True)
class JoinTimedOut:
    """A background peer step had not finished when its ``join`` gave up."""

    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {"timed_out": True, "error": f"the background step had not finished after {self.seconds:g} s"}


PeerResult = Accepted | NoConnection | Sent | Received | EndSeen | Echoed | TlsInfo | Done | JoinTimedOut


class Peer(Protocol):
    """What the runner needs of a peer session (in-process today; the same methods remotely)."""

    async def accept(self, name: str, timeout: float) -> Accepted | NoConnection: ...
    async def send(self, conn: str, data: bytes, chunks: ChunkPlan | None, timeout: float) -> Sent: ...
    async def recv(self, conn: str, n: int | None, timeout: float, digest: bool) -> Received: ...
    async def wait_end(self, conn: str, timeout: float) -> EndSeen: ...
    async def echo(self, conn: str, chunks: ChunkPlan | None, timeout: float) -> Echoed: ...
    async def shutdown_write(self, conn: str) -> None: ...
    async def close(self, conn: str) -> None: ...
    async def reset(self, conn: str) -> None: ...
    async def start_tls(self, conn: str, timeout: float) -> TlsInfo: ...


async def perform(peer: Peer, call: PeerCall) -> PeerResult:
    match call:
        case Accept(name, timeout):
            return await peer.accept(name, timeout)
        case Send(conn, data, chunks, timeout):
            return await peer.send(conn, data, chunks, timeout)
        case Recv(conn, n, timeout, digest):
            return await peer.recv(conn, n, timeout, digest)
        case WaitEnd(conn, timeout):
            return await peer.wait_end(conn, timeout)
        case Echo(conn, chunks, timeout):
            return await peer.echo(conn, chunks, timeout)
        case ShutdownWrite(conn):
            await peer.shutdown_write(conn)
        case Close(conn):
            await peer.close(conn)
        case Reset(conn):
            await peer.reset(conn)
        case StartTls(conn, timeout):
            return await peer.start_tls(conn, timeout)
    return Done()


def describe(call: PeerCall) -> dict[str, object]:
    """The call as the transcript's "request" column shows it."""
    fields = {key: value for key, value in asdict(call).items() if value is not None}
    if isinstance(call, Send):
        fields["data"] = wire_bytes(call.data)
    return {"peer": re.sub(r"(?<!^)(?=[A-Z])", "_", type(call).__name__).lower(), **fields}
