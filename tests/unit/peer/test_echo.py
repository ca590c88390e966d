"""PeerSession.echo: everything back until EOF, with or without a chunk plan."""

import asyncio
from typing import Any

import pytest
from conformance_peer import ChunkPlan, Echoed, ListenerSpec, open_session


@pytest.mark.parametrize("chunks", [None, ChunkPlan(1, 5000, seed=4)], ids=["whole", "chunked"])
def test_echo_returns_every_byte_until_eof(run: Any, client: Any, chunks: ChunkPlan | None) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB

    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            echoing = asyncio.create_task(peer.echo("conn", chunks, timeout=5))
            reading = asyncio.create_task(reader.readexactly(len(data)))
            for offset in range(0, len(data), 100_000):
                writer.write(data[offset : offset + 100_000])
                await writer.drain()
            writer.write_eof()
            assert await echoing == Echoed(len(data), "eof", False)
            assert await reading == data
            writer.close()

    run(scenario())


def test_echo_does_not_deadlock_a_client_that_writes_everything_first(run: Any, client: Any) -> None:
    data = b"z" * (16 * 1024 * 1024)

    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            echoing = asyncio.create_task(peer.echo("conn", None, timeout=10))
            writer.write(data)
            await writer.drain()
            writer.write_eof()
            assert await reader.readexactly(len(data)) == data
            assert await echoing == Echoed(len(data), "eof", False)
            writer.close()

    run(scenario())


def test_echo_times_out_when_no_eof_comes(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            writer.write(b"ping")
            echoed = await peer.echo("conn", None, timeout=0.3)
            assert echoed == Echoed(4, None, True)
            assert await reader.readexactly(4) == b"ping"
            writer.close()

    run(scenario())


def test_echo_reports_a_reset(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            echoing = asyncio.create_task(peer.echo("conn", None, timeout=2))
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
            client.reset(writer)
            assert await echoing == Echoed(4, "reset", False)

    run(scenario())


def test_echo_is_done_only_when_everything_is_sent(run: Any, client: Any) -> None:
    data = b"q" * (32 * 1024 * 1024)

    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write(data)  # then never read: the echo cannot all be delivered
            writer.write_eof()
            echoed = await peer.echo("conn", None, timeout=1)
            assert echoed == Echoed(len(data), "eof", True)
            writer.close()

    run(scenario())
