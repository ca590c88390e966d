"""Helpers for the reference implementation's tests: a protocol client and loopback peers.

Every request goes through JSON and is checked against the protocol schemas,
and so is every response, so these tests also pin the reference to the
protocol as the harness sees it. Only 127.0.0.1 is ever dialled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

from conformance.adapters.reference import ReferenceAdapter
from conformance.core.jsvalues import b64
from conformance.protocol import messages

T = TypeVar("T")

#: No scenario may take longer; a hang fails the test instead of stalling the run.
SCENARIO_DEADLINE_S = 20.0


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Run one async scenario on a fresh event loop, bounded by SCENARIO_DEADLINE_S."""
    return asyncio.run(asyncio.wait_for(scenario, SCENARIO_DEADLINE_S))


def data(payload: bytes, view: str = "Uint8Array") -> dict[str, Any]:
    """A protocol bytes value."""
    return {"$type": "bytes", "b64": b64(payload), "view": view}


class Client:
    """Drives a ReferenceAdapter with protocol messages, validating both directions."""

    def __init__(self, mutant: str | None = None, ca_pem: str | None = None) -> None:
        self.adapter = ReferenceAdapter(mutant=mutant, ca_pem=ca_pem)
        self._seq = 0

    async def op(self, op: str, **arguments: Any) -> dict[str, Any]:
        self._seq += 1
        message = {"seq": self._seq, "op": op, **arguments}
        problem = messages.request_problem(message)
        assert problem is None, f"test bug, invalid request {message}: {problem}"
        answer = await self.adapter.request(json.loads(json.dumps(message)))
        reply: dict[str, Any] = json.loads(json.dumps(answer))  # what crosses a real transport
        problem = messages.response_problem(op, reply)
        assert problem is None, f"invalid response {reply}: {problem}"
        assert reply["seq"] == self._seq
        return reply

    async def connect(self, address: Any, options: Any = None) -> str:
        arguments: dict[str, Any] = {"address": address}
        if options is not None:
            arguments["options"] = options
        reply = await self.op("connect", **arguments)
        assert reply["status"] == "returned", reply
        handle: str = reply["value"]["socket"]
        return handle

    async def end(self, timeout_ms: int = 2000) -> dict[str, Any]:
        tasks = self.adapter.session.tasks
        reply = await self.op("end", timeout_ms=timeout_ms)
        assert reply["status"] == "returned", reply
        assert tasks.crashes == [], "a background task of the reference crashed"
        value: dict[str, Any] = reply["value"]
        return value


class Conn:
    """One accepted connection, seen from the peer's side."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def recv_exactly(self, n: int, timeout: float = 5.0) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(n), timeout)

    async def recv_until_eof(self, timeout: float = 5.0) -> bytes:
        return await asyncio.wait_for(self.reader.read(), timeout)

    async def send(self, payload: bytes) -> None:
        self.writer.write(payload)
        await self.writer.drain()

    def shutdown_write(self) -> None:
        self.writer.write_eof()

    def reset(self) -> None:
        """Abort with RST (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    def close(self) -> None:
        self.writer.close()


class Peer:
    """A loopback listener whose connections the test drives by hand."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[Conn] = asyncio.Queue()
        self.address = ""
        self.port = 0

    async def accept(self, timeout: float = 5.0) -> Conn:
        return await asyncio.wait_for(self.connections.get(), timeout)

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.connections.put(Conn(reader, writer))


@contextlib.asynccontextmanager
async def peer() -> AsyncIterator[Peer]:
    listener = Peer()
    server = await asyncio.start_server(listener._accepted, "127.0.0.1", 0)
    listener.port = server.sockets[0].getsockname()[1]
    listener.address = f"127.0.0.1:{listener.port}"
    try:
        yield listener
    finally:
        while not listener.connections.empty():
            listener.connections.get_nowait().close()
        server.close()
        await server.wait_closed()


class _Echo(asyncio.Protocol):
    """Echoes everything, and answers EOF with EOF (a half-close-aware echo)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, chunk: bytes) -> None:
        self.transport.write(chunk)

    def eof_received(self) -> bool:
        self.transport.write_eof()
        return True


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[int]:
    server = await asyncio.get_running_loop().create_server(_Echo, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that is bound but not listening: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]
