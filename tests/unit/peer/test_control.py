"""The peer service's control channel, driven by a plain JSON-lines client on loopback: the token,
the protocol version, sessions and their ops, cancellation, certificates held in memfds only,
and that a client's end closes everything it opened."""

import asyncio
import base64
import os
import socket
from typing import Any

import pytest
from conformance_peer import control
from conformance_peer._memfd import MEMFD_PREFIX
from control_support import TOKEN, client, service


def test_hello_with_the_token_says_what_the_peer_runs_on(run: Any) -> None:
    async def scenario() -> dict[str, Any]:
        async with service() as (port, _), client(port, hello=False) as c:
            return await c.call("hello", protocol=1, token=TOKEN)

    answer = run(scenario())
    assert answer["ok"] is True
    assert answer["result"]["protocol"] == 1
    assert answer["result"]["python"].startswith("3.")


@pytest.mark.parametrize(
    ("first", "kind", "text"),
    [
        ({"op": "hello", "protocol": 1, "token": "guess"}, "Unauthorized", "wrong token"),
        ({"op": "hello", "protocol": 1}, "Unauthorized", "wrong token"),
        ({"op": "hello", "protocol": 2, "token": TOKEN}, "ProtocolError", "speaks control protocol 1, not 2"),
        ({"op": "open_session", "listener": {}}, "ProtocolError", "the first request must be hello"),
    ],
)
def test_a_client_without_the_token_or_the_version_is_turned_away(
    run: Any, first: dict[str, Any], kind: str, text: str
) -> None:
    async def scenario() -> tuple[dict[str, Any], bool]:
        async with service() as (port, _), client(port, hello=False) as c:
            answer = await c.call(**first)
            return answer, await c.closed()

    answer, closed = run(scenario())
    assert answer["ok"] is False
    assert answer["error"]["type"] == kind
    assert text in answer["error"]["message"]
    assert closed, "the service must hang up after refusing"


def test_a_session_runs_ops_and_returns_typed_results(run: Any) -> None:
    async def scenario() -> None:
        async with service() as (port, _), client(port) as c:
            opened = (await c.call("open_session", listener={"kind": "plain", "host": "127.0.0.1", "cert": "good"}))[
                "result"
            ]
            assert opened["variables"]["peer.address"] == f"127.0.0.1:{opened['port']}"
            assert opened["variables"]["peer.refused_port"] == opened["refused_port"]
            reader, writer = await asyncio.open_connection("127.0.0.1", opened["port"])
            session = opened["session"]
            accepted = await c.call("accept", session=session, args={"name": "conn", "timeout": 2})
            assert accepted["result"]["type"] == "Accepted"
            writer.write(b"ping")
            received = await c.call(
                "recv", session=session, args={"conn": "conn", "n": 4, "timeout": 2, "digest": False}
            )
            assert received["result"]["data"] == {"b64": base64.b64encode(b"ping").decode()}
            sent = await c.call(
                "send",
                session=session,
                args={
                    "conn": "conn",
                    "data": {"b64": base64.b64encode(b"pong").decode()},
                    "chunks": {"type": "ChunkPlan", "min": 1, "max": 2, "seed": 3},
                    "timeout": 2,
                },
            )
            assert sent["result"] == {
                "type": "Sent",
                "length": 4,
                "chunks": sent["result"]["chunks"],
                "timed_out": False,
                "reset": False,
            }
            assert sent["result"]["chunks"] >= 2
            assert await reader.readexactly(4) == b"pong"
            done = await c.call("shutdown_write", session=session, args={"conn": "conn"})
            assert done == {"id": done["id"], "ok": True, "result": None}
            assert await reader.read() == b""
            writer.close()

    run(scenario())


@pytest.mark.parametrize(
    ("request_", "kind", "text"),
    [
        ({"op": "accept", "session": "1", "args": {"name": "c"}}, "ProtocolError", "accept: args.timeout is missing"),
        (
            {"op": "accept", "session": "1", "args": {"name": 5, "timeout": 1}},
            "ProtocolError",
            "accept: args.name must be a non-empty string, not 5",
        ),
        ({"op": "accept", "session": "9", "args": {"name": "c", "timeout": 1}}, "ProtocolError", "no open session"),
        (
            {"op": "recv", "session": "1", "args": {"conn": "nope", "n": 1, "timeout": 1, "digest": False}},
            "UnknownConnection",
            "nope",
        ),
        ({"op": "fork", "session": "1"}, "ProtocolError", 'unknown op "fork"'),
        ({"op": "open_session", "listener": {"kind": "udp"}}, "UnsupportedListener", "udp"),
        ({"op": "open_session", "listener": {"kind": "plain", "colour": "blue"}}, "UnsupportedListener", "colour"),
        ({"op": "open_session", "listener": {"kind": "tls"}}, "UnsupportedListener", "certificates"),
        (
            {"op": "certificates", "certificates": {"good": {"chain": "x"}}},
            "ProtocolError",
            "certificates: certificates.good.key is missing",
        ),
        ({"op": "certificates", "certificates": {"best": {"chain": "x", "key": "y"}}}, "PeerError", "'best'"),
        ({"op": "certificates", "certificates": {"good": {"chain": "x", "key": "y"}}}, "PeerError", "does not load"),
    ],
)
def test_a_request_the_peer_cannot_carry_out_gets_an_error_and_the_connection_goes_on(
    run: Any, request_: dict[str, Any], kind: str, text: str
) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with service() as (port, _), client(port) as c:
            await c.call("open_session", listener={"kind": "plain"})
            answer = await c.call(**request_)
            still = await c.call("open_session", listener={"kind": "none"})
            return answer, still

    answer, still = run(scenario())
    assert answer["ok"] is False
    assert answer["error"]["type"] == kind
    assert text in answer["error"]["message"]
    assert still["ok"] is True


def test_cancel_stops_a_waiting_op_which_answers_cancelled(run: Any) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with service() as (port, _), client(port) as c:
            session = (await c.call("open_session", listener={"kind": "plain"}))["result"]["session"]
            waiting = await c.send({"op": "accept", "session": session, "args": {"name": "c", "timeout": 30}})
            cancel = await c.send({"op": "cancel", "target": waiting})
            answers = [await c.answer(), await c.answer()]
            return sorted(answers, key=lambda a: a["id"] != cancel)

    cancel_answer, cancelled = run(scenario())
    assert cancel_answer["result"] == {"cancelled": True}
    assert cancelled["ok"] is False
    assert cancelled["error"]["type"] == "Cancelled"


def memfds() -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if MEMFD_PREFIX in target:
            found.append(target)
    return found


def test_certificates_live_in_sealed_memfds_until_the_client_goes(run: Any, certs: Any, tmp_path: Any) -> None:
    pems = {
        name: {"chain": certs.chain_file(name).read_text(), "key": certs.key_file(name).read_text()}
        for name in ("good", "expired")
    }

    async def scenario() -> tuple[list[str], dict[str, Any], list[str]]:
        async with service() as (port, _):
            async with client(port) as c:
                loaded = await c.call("certificates", certificates=pems)
                assert loaded["result"] == {"names": ["expired", "good"]}
                held = memfds()
                opened = await c.call("open_session", listener={"kind": "tls", "cert": "good"})
                await c.call("close_session", session=opened["result"]["session"])
            await asyncio.sleep(0.2)  # the service notices the end of the connection
            return held, opened, memfds()

    before = set(tmp_path.iterdir())
    held, opened, after = run(scenario())
    assert opened["ok"] is True
    assert sorted(os.path.basename(target).split(" ")[0] for target in held) == [
        f"memfd:{MEMFD_PREFIX}{name}.{part}.pem" for name in ("expired", "good") for part in ("chain", "key")
    ]
    assert all(target.endswith("(deleted)") for target in held), "a memfd has no name in any filesystem"
    assert after == []
    assert set(tmp_path.iterdir()) == before


def test_the_end_of_the_connection_closes_its_sessions(run: Any) -> None:
    async def scenario() -> int:
        async with service() as (port, _):
            async with client(port) as c:
                opened = (await c.call("open_session", listener={"kind": "plain"}))["result"]
            await asyncio.sleep(0.2)
            return int(opened["port"])

    port = run(scenario())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


def test_with_once_the_service_ends_when_its_client_leaves(run: Any) -> None:
    async def scenario() -> bool:
        async with service(once=True) as (port, task):
            async with client(port):
                pass
            return await asyncio.wait_for(task, 5)

    assert run(scenario()) is True


def test_a_connection_that_is_not_json_is_dropped_with_a_reason(run: Any) -> None:
    async def scenario() -> tuple[dict[str, Any], bool]:
        async with service() as (port, _), client(port) as c:
            c.writer.write(b"GET / HTTP/1.1\r\n")
            return await c.answer(), await c.closed()

    answer, closed = run(scenario())
    assert answer == {"id": None, "ok": False, "error": {"type": "ProtocolError", "message": "a line is not JSON"}}
    assert closed


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:7000", ("::1", 7000)), ("0.0.0.0:9", ("0.0.0.0", 9))],
)
def test_control_addresses_are_ip_literals(value: str, expected: tuple[str, int]) -> None:
    assert control.parse_address(value) == expected


@pytest.mark.parametrize("value", ["localhost:80", "127.0.0.1", "127.0.0.1:70000", "[::1]:x"])
def test_a_control_address_that_would_need_a_resolver_or_has_no_port_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        control.parse_address(value)
