"""Shared fixtures of the peer's tests: make `conformance_peer` importable, run a scenario,
the run's certificates."""

import asyncio
import socket
import struct
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

SERVERS = Path(__file__).resolve().parents[3] / "servers"
try:
    import conformance_peer  # noqa: F401  (installed, or on the path already)
except ImportError:
    sys.path.insert(0, str(SERVERS))

T = TypeVar("T")

SCENARIO_DEADLINE = 20.0
"""No scenario may take longer; a hang fails the test instead of stalling the run."""

Runner = Callable[[Coroutine[Any, Any, T]], T]


@pytest.fixture
def run() -> Runner[Any]:
    """Runs one async scenario on a fresh event loop, bounded by SCENARIO_DEADLINE."""

    def run(scenario: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(asyncio.wait_for(scenario, SCENARIO_DEADLINE))

    return run


class LoopbackClient:
    """Plain asyncio client sockets on loopback, playing the implementation's part."""

    @staticmethod
    async def connect(peer: Any, name: str = "conn") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connects to the session's listener and has the peer accept it as `name`."""
        reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
        await peer.accept(name, timeout=1)
        return reader, writer

    @staticmethod
    def reset(writer: asyncio.StreamWriter) -> None:
        """Aborts the client's side with RST (SO_LINGER 0)."""
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


@pytest.fixture
def client() -> LoopbackClient:
    return LoopbackClient()


@pytest.fixture(scope="session")
def certs() -> Iterator[Any]:
    """The run's CA and server certificates (`conformance.core.certificates.RunCertificates`)."""
    from conformance.core.certificates import RunCertificates

    with RunCertificates() as run_certificates:
        yield run_certificates
