"""Where a run's peer lives: in this process (the default), a service started elsewhere, or a container.

    --peer in-process       conformance_peer.open_session, on the runner's event loop
    --peer tcp://HOST:PORT  a `connect-conformance peer serve` started by hand (token: $CONNECT_CONFORMANCE_PEER_TOKEN)
    --peer docker           the same service in a container this run starts and removes (conformance.peer.docker)

Each gives a `PeerProvider` whose `open_session(spec, certificates)` answers a
session that performs the calls of `conformance_peer.calls` with the typed
results of `conformance_peer.PeerSession` (`PeerSessionLike`), so the runner
does not know which one it drives.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from conformance_peer import CertificateFiles, ListenerSpec, PeerCall, PeerResult, open_session

from ..core.jsshow import show
from ..errors import UsageError
from .client import TOKEN_ENV, RemotePeer


class PeerSessionLike(Protocol):
    """A peer session as the runner uses it: `conformance_peer.PeerSession`, or a `RemotePeerSession`."""

    variables: dict[str, object]
    port: int | None
    refused_port: int

    async def perform(self, call: PeerCall) -> PeerResult: ...
    async def aclose(self) -> None: ...


class PeerProvider(Protocol):
    """Opens the cases' peer sessions: `InProcessPeers`, or a `RemotePeer` (a service's control connection)."""

    async def open_session(
        self, spec: ListenerSpec, certificates: CertificateFiles | None = None
    ) -> PeerSessionLike: ...


class InProcessPeers:
    """The peer on the runner's own event loop (the default)."""

    async def open_session(self, spec: ListenerSpec, certificates: CertificateFiles | None = None) -> PeerSessionLike:
        return await open_session(spec, certificates)


@dataclass(frozen=True)
class PeerChoice:
    """A parsed `--peer` value."""

    kind: Literal["in-process", "tcp", "docker"] = "in-process"
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.kind == "tcp":
            return f"tcp://[{self.host}]:{self.port}" if ":" in self.host else f"tcp://{self.host}:{self.port}"
        return self.kind


IN_PROCESS = PeerChoice()


def parse(value: str) -> PeerChoice:
    """`in-process`, `docker` or `tcp://HOST:PORT`; UsageError otherwise."""
    if value in ("in-process", "docker"):
        return PeerChoice(kind=value)  # type: ignore[arg-type]  # one of the two literals, checked above
    if value.startswith("tcp://"):
        host, sep, port = value[len("tcp://") :].rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if sep and host and port.isdigit() and 0 < int(port) < 65536:
            if not os.environ.get(TOKEN_ENV):
                raise UsageError(f"--peer {value}: set {TOKEN_ENV} to the token the peer service printed")
            return PeerChoice(kind="tcp", host=host, port=int(port))
    raise UsageError(f"--peer {show(value)}: expected in-process, docker or tcp://HOST:PORT")


@contextlib.asynccontextmanager
async def opened(choice: PeerChoice) -> AsyncIterator[PeerProvider]:
    """The run's peer provider, up and ready; everything it started is stopped and removed on exit.

    Raises InfrastructureError when the peer cannot be reached or started (exit 3).
    """
    if choice.kind == "in-process":
        yield InProcessPeers()
        return
    if choice.kind == "tcp":
        token = os.environ.get(TOKEN_ENV, "")
        async with await RemotePeer.connect(choice.host, choice.port, token) as remote:
            yield remote
        return
    from .docker import docker_peer

    async with docker_peer() as remote:
        yield remote
