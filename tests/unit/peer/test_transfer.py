"""PeerSession.send and recv: chunk plans, exact counts, EOF, digests, resets, timeouts."""

import asyncio
import hashlib
import time
from typing import Any

import pytest
from conformance_peer import (
    ChunkPlan,
    ListenerSpec,
    PeerError,
    Received,
    Sent,
    open_session,
)


def test_send_with_a_chunk_plan_delivers_every_byte_in_order(run: Any, client: Any) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    plan = ChunkPlan(1, 4096, seed=7)

    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            reading = asyncio.create_task(reader.readexactly(len(data)))
            sent = await peer.send("conn", data, plan, timeout=5)
            assert sent == Sent(len(data), len(list(plan.split(memoryview(data)))), False, False)
            assert await reading == data
            writer.close()

    run(scenario())


def test_send_without_plan_is_one_write(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            assert await peer.send("conn", b"hello", None, timeout=1) == Sent(5, 1, False, False)
            assert await reader.readexactly(5) == b"hello"
            writer.close()

    run(scenario())


def test_send_times_out_when_the_client_does_not_read(run: Any, client: Any) -> None:
    data = b"x" * (64 * 1024 * 1024)

    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            started = time.monotonic()
            sent = await peer.send("conn", data, None, timeout=0.3)
            assert time.monotonic() - started < 3  # ten times the 0.3 s timeout
            assert sent.timed_out
            assert not sent.reset
            assert 0 < sent.length < len(data)
            writer.close()

    run(scenario())


def test_send_reports_a_client_that_reset(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            client.reset(writer)
            await asyncio.sleep(0.1)
            sent = await peer.send("conn", b"y" * 1_000_000, ChunkPlan(1000, 1000), timeout=2)
            assert sent.reset
            assert not sent.timed_out
            assert sent.length < 1_000_000

    run(scenario())


def test_recv_reads_exactly_n_bytes_at_a_time(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write(b"hello world")
            first = await peer.recv("conn", 5, timeout=1, digest=False)
            second = await peer.recv("conn", 6, timeout=1, digest=False)
            assert first == Received(b"hello", hashlib.sha256(b"hello").hexdigest(), 5, None, False)
            assert second.data == b" world"
            assert second.ended is None
            writer.close()

    run(scenario())


def test_recv_until_eof_reports_the_eof(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write(b"all of it")
            writer.write_eof()
            received = await peer.recv("conn", None, timeout=1, digest=False)
            assert received.data == b"all of it"
            assert received.ended == "eof"
            assert not received.timed_out
            writer.close()

    run(scenario())


def test_recv_n_reports_an_eof_that_comes_first(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write(b"abc")
            writer.write_eof()
            received = await peer.recv("conn", 10, timeout=1, digest=False)
            assert (received.data, received.length, received.ended) == (b"abc", 3, "eof")
            writer.close()

    run(scenario())


def test_recv_with_digest_keeps_only_the_hash(run: Any, client: Any) -> None:
    data = bytes(range(256)) * 1000

    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write(data)
            writer.write_eof()
            received = await peer.recv("conn", None, timeout=2, digest=True)
            assert received == Received(None, hashlib.sha256(data).hexdigest(), len(data), "eof", False)
            writer.close()

    run(scenario())


def test_recv_times_out_with_what_it_has(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write(b"abc")
            started = time.monotonic()
            received = await peer.recv("conn", 10, timeout=0.2, digest=False)
            assert time.monotonic() - started < 2  # ten times the 0.2 s timeout
            assert (received.data, received.ended, received.timed_out) == (b"abc", None, True)
            writer.close()

    run(scenario())


def test_recv_gives_the_bytes_before_a_reset_then_the_reset(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write(b"last words")
            await asyncio.sleep(0.1)  # they reach the peer before the RST
            client.reset(writer)
            await asyncio.sleep(0.1)
            received = await peer.recv("conn", None, timeout=1, digest=False)
            assert (received.data, received.ended) == (b"last words", "reset")

    run(scenario())


def test_16_mib_each_way_is_fast_and_exact(run: Any, client: Any) -> None:
    data = bytes(range(251)) * (16 * 1024 * 1024 // 251 + 1)
    data = data[: 16 * 1024 * 1024]

    async def scenario() -> float:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            started = time.monotonic()
            reading = asyncio.create_task(reader.readexactly(len(data)))
            sent = await peer.send("conn", data, ChunkPlan(1, 65536, seed=1), timeout=10)
            assert sent.length == len(data)
            assert await reading == data

            async def client_send() -> None:
                writer.write(data)
                await writer.drain()
                writer.write_eof()

            sending = asyncio.create_task(client_send())
            received = await peer.recv("conn", None, timeout=10, digest=True)
            await sending
            assert received == Received(None, hashlib.sha256(data).hexdigest(), len(data), "eof", False)
            writer.close()
            return time.monotonic() - started

    assert run(scenario()) < 5.0


def test_writing_after_shutdown_is_a_peer_error(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            await peer.shutdown_write("conn")
            with pytest.raises(PeerError, match="shut it down"):
                await peer.send("conn", b"late", None, timeout=1)
            writer.close()

    run(scenario())


def test_recv_keeps_many_chunks_in_order(run: Any, client: Any) -> None:
    data = bytes(range(256)) * (4 * 4096)  # 4 MiB: many reads on the peer's side

    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            for offset in range(0, len(data), 10_000):
                writer.write(data[offset : offset + 10_000])
            writer.write_eof()
            received = await peer.recv("conn", None, timeout=5, digest=False)
            assert received.data == data
            assert received.sha256 == hashlib.sha256(data).hexdigest()
            writer.close()

    run(scenario())


def test_send_returns_once_every_byte_is_in_the_kernel(run: Any, client: Any) -> None:
    data = b"k" * (32 * 1024 * 1024)

    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)

            async def read_later() -> bytes:
                await asyncio.sleep(0.2)  # the peer's buffers fill up first
                return await reader.readexactly(len(data))

            reading = asyncio.create_task(read_later())
            sent = await peer.send("conn", data, None, timeout=10)
            assert sent == Sent(len(data), 1, False, False)
            assert await reading == data
            writer.close()

    run(scenario())


def test_a_peer_that_does_not_read_pushes_back(run: Any, client: Any) -> None:
    data = b"p" * (64 * 1024 * 1024)

    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write(data)
            with pytest.raises(TimeoutError):  # TCP flow control, not an unbounded buffer
                await asyncio.wait_for(writer.drain(), 0.5)
            writer.write_eof()
            received = await peer.recv("conn", None, timeout=10, digest=True)
            assert (received.length, received.ended) == (len(data), "eof")
            writer.close()

    run(scenario())
