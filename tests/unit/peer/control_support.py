"""A plain JSON-lines client of the peer service's control channel, and the service in this event loop."""

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from conformance_peer import control
from conformance_peer.calls import CALLS

TOKEN = "the-run-token"

VALID_ARGUMENT: dict[str, Any] = {
    "name": "c",
    "conn": "c",
    "data": {"b64": "aGk="},
    "chunks": {"type": "ChunkPlan", "min": 1, "max": 2, "seed": 3},
    "n": 4,
    "timeout": 1.5,
    "digest": False,
}
"""A valid value of each argument of a session's op (`calls.ARGUMENTS`), as a request holds it."""

VALID: dict[str, dict[str, Any]] = {
    "certificates": {"certificates": {"good": {"chain": "PEM", "key": "PEM"}}},
    "open_session": {"listener": {"kind": "plain", "host": "127.0.0.1", "cert": "good", "port": 0}},
    "close_session": {"session": "1"},
    "cancel": {"target": 1},
    **{
        op: {"session": "1", "args": {field.name: VALID_ARGUMENT[field.name] for field in dataclasses.fields(call)}}
        for op, call in CALLS.items()
    },
}
"""A valid request of each op but hello (whose checks come before the token's), without its id."""


class JsonClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.next_id = 0

    async def send(self, message: dict[str, Any]) -> int:
        self.next_id += 1
        self.writer.write(json.dumps({"id": self.next_id, **message}).encode() + b"\n")
        await self.writer.drain()
        return self.next_id

    async def answer(self) -> dict[str, Any]:
        line = await asyncio.wait_for(self.reader.readline(), 5)
        assert line, "the service closed the connection"
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        sent = await self.send({"op": op, **fields})
        answer = await self.answer()
        assert answer["id"] == sent
        return answer

    async def closed(self) -> bool:
        """Whether the service hung up (a reset counts: it may close with bytes of ours unread)."""
        try:
            return await asyncio.wait_for(self.reader.read(), 5) == b""
        except ConnectionResetError:
            return True


@asynccontextmanager
async def service(once: bool = False) -> AsyncIterator[tuple[int, asyncio.Task[bool]]]:
    ports: list[int] = []
    listening, stop = asyncio.Event(), asyncio.Event()

    def announce(host: str, port: int) -> None:
        ports.append(port)
        listening.set()

    task = asyncio.create_task(
        control.serve_control("127.0.0.1", 0, control.token_digest(TOKEN), once=once, stop=stop, announce=announce)
    )
    await listening.wait()
    try:
        yield ports[0], task
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


@asynccontextmanager
async def client(port: int, hello: bool = True) -> AsyncIterator[JsonClient]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connection = JsonClient(reader, writer)
    try:
        if hello:
            answer = await connection.call("hello", protocol=1, token=TOKEN)
            assert answer["ok"], answer
        yield connection
    finally:
        writer.close()
