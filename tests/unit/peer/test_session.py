"""PeerSession as a whole: variables, the refused port, aclose, misuse."""

import asyncio
import socket
from typing import Any

import pytest
from conformance_peer import ListenerSpec, PeerError, UnknownConnection, open_session


def test_variables_name_the_listener_and_the_refused_port(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            v = peer.variables
            assert isinstance(v["peer.port"], int)
            assert isinstance(v["peer.refused_port"], int)
            assert v["peer.port"] != v["peer.refused_port"]
            assert v["peer.host"] == v["peer.hostname"] == "127.0.0.1"
            assert v["peer.address"] == f"127.0.0.1:{v['peer.port']}"
            assert v["peer.refused_address"] == f"127.0.0.1:{v['peer.refused_port']}"

    run(scenario())


def test_the_refused_port_refuses_and_cannot_be_taken(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            port = peer.refused_port
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)
            with socket.socket() as other, pytest.raises(OSError, match="in use"):
                other.bind(("127.0.0.1", port))

    run(scenario())


def test_aclose_drops_listener_connections_and_the_refused_port(run: Any, client: Any) -> None:
    async def scenario() -> None:
        tasks_before = asyncio.all_tasks()
        peer = await open_session(ListenerSpec())
        port = peer.port
        refused_port = peer.refused_port
        accepted_reader, accepted_writer = await client.connect(peer)
        queued_reader, queued_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.sleep(0.05)

        await peer.aclose()

        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)
        for reader in (accepted_reader, queued_reader):  # both dropped, accepted or not
            assert await asyncio.wait_for(reader.read(), 1) == b""
        with socket.socket() as other:
            other.bind(("127.0.0.1", refused_port))  # the port is free again
        assert asyncio.all_tasks() == tasks_before
        accepted_writer.close()
        queued_writer.close()

    run(scenario())


def test_aclose_is_idempotent(run: Any) -> None:
    async def scenario() -> None:
        for spec in (ListenerSpec(), ListenerSpec(kind="none")):
            peer = await open_session(spec)
            await peer.aclose()
            await peer.aclose()
            with socket.socket() as other:
                other.bind(("127.0.0.1", peer.refused_port))

    run(scenario())


def test_an_unknown_connection_name_is_a_lookup_error(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            with pytest.raises(UnknownConnection, match="'ghost'") as raised:
                await peer.send("ghost", b"x", None, timeout=1)
            assert isinstance(raised.value, LookupError)
            assert isinstance(raised.value, PeerError)

    run(scenario())


def test_two_reads_of_one_connection_at_once_are_refused(run: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await client.connect(peer)
            echoing = asyncio.create_task(peer.echo("conn", None, timeout=2))
            await asyncio.sleep(0.05)
            with pytest.raises(PeerError, match="at once"):
                await peer.recv("conn", 1, timeout=1, digest=False)
            writer.write_eof()
            assert (await echoing).ended == "eof"
            writer.close()

    run(scenario())
