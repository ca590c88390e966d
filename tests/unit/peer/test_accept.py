"""PeerSession.accept: queued and later clients, arrival order, timeouts, misuse."""

import asyncio
import socket
import time
from typing import Any

import pytest
from conformance_peer import (
    Accepted,
    ListenerSpec,
    NoConnection,
    PeerError,
    UnsupportedListener,
    open_session,
)


def sockname(writer: asyncio.StreamWriter) -> str:
    host, port = writer.get_extra_info("sockname")[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def test_accept_takes_a_client_that_connected_before_the_call(run: Any) -> None:
    async def scenario() -> Accepted | NoConnection:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await asyncio.open_connection("127.0.0.1", peer.port)
            await asyncio.sleep(0.05)  # the client is queued well before accept
            accepted = await peer.accept("conn", timeout=1)
            assert accepted == Accepted("conn", sockname(writer))
            writer.close()
            return accepted

    assert isinstance(run(scenario()), Accepted)


def test_accept_waits_for_a_client_that_connects_later(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            accepting = asyncio.create_task(peer.accept("conn", timeout=2))
            await asyncio.sleep(0.1)
            assert not accepting.done()
            _, writer = await asyncio.open_connection("127.0.0.1", peer.port)
            assert await accepting == Accepted("conn", sockname(writer))
            writer.close()

    run(scenario())


def test_accept_hands_out_clients_in_arrival_order(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            port = peer.port
            _, first = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.sleep(0.02)
            _, second = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.sleep(0.02)
            assert await peer.accept("a", timeout=1) == Accepted("a", sockname(first))
            assert await peer.accept("b", timeout=1) == Accepted("b", sockname(second))
            first.close()
            second.close()

    run(scenario())


def test_accept_returns_no_connection_after_its_timeout(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            started = time.monotonic()
            result = await peer.accept("conn", timeout=0.2)
            elapsed = time.monotonic() - started
            assert result == NoConnection("conn", 0.2)
            assert 0.15 <= elapsed < 2.0  # ten times the 0.2 s timeout: a busy machine never fails it
            assert result.as_dict() == {"accepted": False, "name": "conn", "waited_s": 0.2}

    run(scenario())


def test_accept_refuses_a_name_already_in_use(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            port = peer.port
            _, w1 = await asyncio.open_connection("127.0.0.1", port)
            _, w2 = await asyncio.open_connection("127.0.0.1", port)
            await peer.accept("conn", timeout=1)
            with pytest.raises(PeerError, match="already accepted"):
                await peer.accept("conn", timeout=1)
            w1.close()
            w2.close()

    run(scenario())


def test_session_without_listener_has_only_the_refused_port(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec(kind="none")) as peer:
            assert set(peer.variables) == {"peer.refused_port", "peer.refused_address"}
            with pytest.raises(PeerError, match="no listener"):
                await peer.accept("conn", timeout=0.1)

    run(scenario())


@pytest.mark.parametrize(
    "spec",
    [ListenerSpec(kind="quic"), ListenerSpec(host="0.0.0.0")],  # type: ignore[arg-type]
    ids=["unknown-kind", "not-loopback"],
)
def test_open_session_rejects_what_it_cannot_serve(run: Any, spec: ListenerSpec) -> None:
    with pytest.raises(UnsupportedListener):
        run(open_session(spec))


def ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback_works(), reason="this machine has no ::1")
def test_ipv6_listener_writes_its_host_with_brackets(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec(host="::1")) as peer:
            port = peer.port
            assert isinstance(port, int)
            assert peer.variables["peer.host"] == "[::1]"
            assert peer.variables["peer.hostname"] == "::1"
            assert peer.variables["peer.address"] == f"[::1]:{port}"
            assert int(str(peer.variables["peer.port_hex"]), 16) == port
            assert str(peer.variables["peer.port_hex"]).startswith("0x")
            assert str(peer.variables["peer.refused_address"]).startswith("127.0.0.1:")
            _, writer = await asyncio.open_connection("::1", port)
            accepted = await peer.accept("conn", timeout=1)
            assert accepted == Accepted("conn", sockname(writer))
            assert isinstance(accepted, Accepted)
            assert accepted.remote_address.startswith("[::1]:")
            writer.close()

    run(scenario())


def test_accept_with_zero_timeout_takes_a_queued_client(run: Any) -> None:
    async def scenario() -> None:
        async with await open_session(ListenerSpec()) as peer:
            _, writer = await asyncio.open_connection("127.0.0.1", peer.port)
            await asyncio.sleep(0.05)
            assert await peer.accept("conn", timeout=0) == Accepted("conn", sockname(writer))
            assert await peer.accept("other", timeout=0) == NoConnection("other", 0)
            writer.close()

    run(scenario())
