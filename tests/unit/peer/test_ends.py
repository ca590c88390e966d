"""wait_end (FIN vs RST vs data vs silence), shutdown_write, close and reset."""

import asyncio
import time
from typing import Any

import pytest
from conformance_peer import EndSeen, ListenerSpec, PeerError, open_session


def test_wait_end_sees_the_clients_fin(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write_eof()
            assert await peer.wait_end("conn", timeout=1) == EndSeen("eof")
            writer.close()

    run(scenario())


def test_wait_end_sees_the_clients_reset(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            client.reset(writer)
            assert await peer.wait_end("conn", timeout=1) == EndSeen("reset")

    run(scenario())


def test_wait_end_tells_a_plain_close_from_a_reset(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.close()
            assert await peer.wait_end("conn", timeout=1) == EndSeen("eof")

    run(scenario())


def test_wait_end_reports_data_that_comes_first(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            writer.write(b"surprise")
            writer.write_eof()
            seen = await peer.wait_end("conn", timeout=1)
            assert seen == EndSeen("data", b"surprise")
            assert seen.as_dict() == {"seen": "data", "data": "surprise", "length": 8}
            writer.close()

    run(scenario())


def test_wait_end_reports_silence_after_its_timeout(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            started = time.monotonic()
            assert await peer.wait_end("conn", timeout=0.2) == EndSeen("silence")
            assert 0.15 <= time.monotonic() - started < 2  # ten times the timeout
            writer.close()

    run(scenario())


def test_shutdown_write_sends_fin_and_keeps_reading(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            await peer.send("conn", b"bye", None, timeout=1)
            await peer.shutdown_write("conn")
            assert await asyncio.wait_for(reader.read(), 1) == b"bye"  # read() is until EOF
            assert reader.at_eof()
            writer.write(b"still talking")
            received = await peer.recv("conn", 13, timeout=1, digest=False)
            assert received.data == b"still talking"
            writer.close()

    run(scenario())


def test_close_sends_pending_bytes_then_fin(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            await peer.send("conn", b"goodbye", None, timeout=1)
            await peer.close("conn")
            assert await asyncio.wait_for(reader.read(), 1) == b"goodbye"
            with pytest.raises(PeerError, match="closed it"):
                await peer.recv("conn", None, timeout=1, digest=False)
            writer.close()

    run(scenario())


def test_reset_makes_the_client_see_connection_reset(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            await peer.reset("conn")
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(), 1)
            writer.close()

    run(scenario())


def test_reset_of_a_connection_the_client_already_reset_is_quiet(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            client.reset(writer)
            assert await peer.wait_end("conn", timeout=1) == EndSeen("reset")
            await peer.reset("conn")
            await peer.close("conn")

    run(scenario())


def test_the_peer_can_still_send_after_the_clients_fin(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            reader, writer = await client.connect(peer)
            writer.write_eof()
            assert await peer.wait_end("conn", timeout=1) == EndSeen("eof")
            sent = await peer.send("conn", b"half-open", None, timeout=1)
            assert not sent.reset
            assert await asyncio.wait_for(reader.readexactly(9), 1) == b"half-open"
            writer.close()

    run(scenario())
