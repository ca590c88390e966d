"""A 64 MiB echo through the reference reaches at least half of raw asyncio's loopback throughput."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from conformance.jsvalues import b64

from .support import Client, echo_server, run

SIZE = 64 * 1024 * 1024
SEED = b"0123456789abcdef"
ROUNDS = 5
BLOCK = 64 * 1024


async def raw_asyncio(port: int) -> float:
    """Seconds for plain asyncio streams to send SIZE bytes to the echo and read them back.

    Sends 64 KiB blocks while receiving, the fastest plain-streams shape, and
    does not hash, although the reference must: the strict baseline.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=256 * 1024)
    block = SEED * (BLOCK // len(SEED))
    started = time.perf_counter()

    async def send() -> None:
        for _ in range(SIZE // BLOCK):
            writer.write(block)
            await writer.drain()

    async def receive() -> int:
        received = 0
        while received < SIZE:
            chunk = await reader.read(256 * 1024)
            if not chunk:
                break
            received += len(chunk)
        return received

    _, received = await asyncio.gather(send(), receive())
    elapsed = time.perf_counter() - started
    writer.close()
    await writer.wait_closed()
    assert received == SIZE
    return elapsed


async def through_reference(port: int) -> float:
    """Seconds for the same transfer as protocol ops: a pattern write and a digest read_bytes."""
    client = Client()
    s = await client.connect(f"127.0.0.1:{port}")
    await client.op("await", socket=s, promise="opened", timeout_ms=2000)
    started = time.perf_counter()
    await client.op("write", socket=s, timeout_ms=0,
                    data={"$type": "pattern", "seed": b64(SEED), "size": SIZE})
    got = await client.op("read_bytes", socket=s, n=SIZE, digest=True, timeout_ms=60000)
    elapsed = time.perf_counter() - started
    assert got["value"]["length"] == SIZE
    assert got["value"]["sha256"] == hashlib.sha256(SEED * (SIZE // len(SEED))).hexdigest()
    await client.end()
    return elapsed


@pytest.mark.slow
def test_reference_keeps_up_with_raw_asyncio() -> None:
    async def scenario() -> tuple[float, float]:
        async with echo_server() as port:
            raw = min([await raw_asyncio(port) for _ in range(ROUNDS)])
            ours = min([await through_reference(port) for _ in range(ROUNDS)])
            return raw, ours

    raw, ours = run(scenario())
    assert ours <= 2 * raw, f"raw asyncio {SIZE / raw / 1e6:.0f} MB/s, reference {SIZE / ours / 1e6:.0f} MB/s"
