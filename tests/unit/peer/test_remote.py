"""The harness's remote peer (`conformance.peer.client`) against a peer service on loopback: the same
scenario, every op of `conformance_peer.calls` performed, gives the same typed results as the
in-process peer; errors come back as the same classes; a service that breaks the protocol, goes
silent or refuses the token is reported, not waited on."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest
from conformance_peer import (
    Accepted,
    ChunkPlan,
    Done,
    ListenerSpec,
    NoConnection,
    PeerCall,
    PeerError,
    UnknownConnection,
    UnsupportedListener,
    control,
    open_session,
)
from conformance_peer.calls import CALLS, Accept, Close, Echo, Recv, Reset, Send, ShutdownWrite, StartTls, WaitEnd
from tls_support import TlsClient, client_context

from conformance.errors import InfrastructureError
from conformance.peer import client as peer_client
from conformance.peer.client import PeerUnavailable, RemotePeer

TOKEN = "remote-test-token"


@asynccontextmanager
async def peer_service() -> AsyncIterator[int]:
    ports: list[int] = []
    listening, stop = asyncio.Event(), asyncio.Event()

    def announce(host: str, port: int) -> None:
        ports.append(port)
        listening.set()

    task = asyncio.create_task(
        control.serve_control("127.0.0.1", 0, control.token_digest(TOKEN), stop=stop, announce=announce)
    )
    await listening.wait()
    try:
        yield ports[0]
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


@asynccontextmanager
async def remote() -> AsyncIterator[RemotePeer]:
    async with peer_service() as port, await RemotePeer.connect("127.0.0.1", port, TOKEN) as peer:
        yield peer


Opener = Callable[[ListenerSpec, Any], Coroutine[Any, Any, Any]]


class Performing:
    """A session, with the ops performed on it counted (the scenario must cover them all)."""

    def __init__(self, session: Any, performed: set[str]) -> None:
        self.session = session
        self.performed = performed

    async def __call__(self, call: PeerCall) -> Any:
        self.performed.add(call.op)
        return await self.session.perform(call)


async def every_op_scenario(open_: Opener, certs: Any, performed: set[str]) -> list[Any]:
    """Every op, over TLS, through a STARTTLS upgrade and in plaintext; the results minus ports and timings."""
    observed: list[Any] = []
    async with await open_(ListenerSpec(kind="tls", cert="good"), certs.peer_files()) as session:
        peer = Performing(session, performed)
        client = await TlsClient.open(session.port)
        shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), "localhost"))
        accepted = await peer(Accept("conn", timeout=2))
        await shaking
        observed.append((type(accepted), accepted.name, accepted.tls))
        await client.write(b"hello over tls")
        observed.append(await peer(Recv("conn", 14, timeout=2, digest=False)))
        observed.append(await peer(Send("conn", b"x" * 5000, ChunkPlan(min=100, max=900, seed=4), timeout=2)))
        assert await client.read(5000) == b"x" * 5000
        echoing = asyncio.create_task(peer(Echo("conn", None, timeout=2)))
        await client.write(b"echo me")
        assert await client.read(7) == b"echo me"
        client.close_notify()
        observed.append(await echoing)
        observed.append(await peer(ShutdownWrite("conn")))
        observed.append(await client.read_to_end())
    async with await open_(ListenerSpec(kind="starttls", cert="good"), certs.peer_files()) as session:
        peer = Performing(session, performed)
        client = await TlsClient.open(session.port)
        observed.append((await peer(Accept("conn", timeout=2))).tls)
        client.writer.write(b"STARTTLS\r\n")
        observed.append(await peer(Recv("conn", 10, timeout=2, digest=True)))
        await peer(Send("conn", b"OK\r\n", None, timeout=2))
        assert await client.reader.readexactly(4) == b"OK\r\n"
        shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), "localhost"))
        observed.append(await peer(StartTls("conn", timeout=2)))
        await shaking
        client.reset()
        observed.append(await peer(WaitEnd("conn", timeout=2)))
        observed.append(await peer(Reset("conn")))
    async with await open_(ListenerSpec(kind="plain"), None) as session:
        peer = Performing(session, performed)
        _, writer = await asyncio.open_connection("127.0.0.1", session.port)
        await peer(Accept("conn", timeout=2))
        observed.append(await peer(Close("conn")))
        writer.close()
        observed.append(type(await peer(Accept("nobody", timeout=0.05))))
        observed.append(sorted(session.variables))
    return observed


def test_the_remote_peer_gives_what_the_in_process_peer_gives(run: Any, certs: Any) -> None:
    performed: dict[str, set[str]] = {"local": set(), "far": set()}

    async def both() -> tuple[list[Any], list[Any]]:
        local = await every_op_scenario(open_session, certs, performed["local"])
        async with remote() as peer:
            far = await every_op_scenario(peer.open_session, certs, performed["far"])
        return local, far

    local, far = run(both())
    assert performed["local"] == performed["far"] == set(CALLS)
    assert far == local
    assert far[0][2].ok is True
    assert far[0][2].sni == "localhost"
    assert far[4] == Done()
    assert far[-2] is NoConnection


@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (Recv("ghost", 1, timeout=1, digest=False), UnknownConnection, "ghost"),
        (StartTls("ghost", timeout=1), UnknownConnection, "ghost"),
        (Close("ghost"), UnknownConnection, "ghost"),
    ],
)
def test_the_peers_errors_are_raised_as_the_same_classes(run: Any, call: PeerCall, error: type, text: str) -> None:
    async def scenario() -> None:
        async with remote() as far:
            peer = await far.open_session(ListenerSpec(kind="plain"))
            with pytest.raises(error, match=text):
                await peer.perform(call)
            await peer.aclose()
            await peer.aclose()  # idempotent, as in process

    run(scenario())


def test_an_impossible_listener_is_refused_like_in_process(run: Any) -> None:
    async def scenario() -> None:
        async with remote() as far:
            with pytest.raises(UnsupportedListener, match="needs the run's certificates"):
                await far.open_session(ListenerSpec(kind="tls"))
            peer = await far.open_session(ListenerSpec(kind="none"))
            with pytest.raises(PeerError, match="no listener"):
                await peer.perform(Accept("c", timeout=0.1))

    run(scenario())


def test_a_cancelled_op_is_cancelled_on_the_service_too(run: Any) -> None:
    async def scenario() -> Any:
        async with remote() as far:
            peer = await far.open_session(ListenerSpec(kind="plain"))
            waiting = asyncio.create_task(peer.perform(Accept("first", timeout=30)))
            await asyncio.sleep(0.1)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            await asyncio.sleep(0.1)
            _, writer = await asyncio.open_connection("127.0.0.1", peer.port)
            # Had "first" still been waiting on the service, it would have taken this connection.
            accepted = await peer.perform(Accept("second", timeout=2))
            writer.close()
            return accepted

    accepted = run(scenario())
    assert isinstance(accepted, Accepted)
    assert accepted.name == "second"


def test_certificates_are_sent_once_per_connection(run: Any, certs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = RemotePeer._call

    async def spy(self: RemotePeer, op: str, wait: float, **fields: Any) -> Any:
        calls.append(op)
        return await original(self, op, wait, **fields)

    monkeypatch.setattr(RemotePeer, "_call", spy)

    async def scenario() -> None:
        async with remote() as far:
            for _ in range(3):
                session = await far.open_session(ListenerSpec(kind="tls"), certs.peer_files())
                await session.aclose()

    run(scenario())
    assert calls.count("certificates") == 1
    assert calls.count("open_session") == 3


def test_a_wrong_token_is_an_infrastructure_error(run: Any) -> None:
    async def scenario() -> None:
        async with peer_service() as port:
            with pytest.raises(InfrastructureError, match=r"refused the run: .*Unauthorized: wrong token"):
                await RemotePeer.connect("127.0.0.1", port, "not-the-token")

    run(scenario())


def test_nobody_listening_is_an_infrastructure_error(run: Any) -> None:
    async def scenario() -> None:
        async with peer_service() as port:
            pass
        with pytest.raises(InfrastructureError, match=f"cannot reach the peer service at tcp://127.0.0.1:{port}"):
            await RemotePeer.connect("127.0.0.1", port, TOKEN)

    run(scenario())


@asynccontextmanager
async def fake_service(answer: Callable[[dict[str, Any]], bytes | None]) -> AsyncIterator[int]:
    """A service that says hello properly, then answers each request with `answer(request)` (None: silence)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            if request["op"] == "hello":
                writer.write(json.dumps({"id": request["id"], "ok": True, "result": {"protocol": 1}}).encode() + b"\n")
            elif (reply := answer(request)) is not None:
                writer.write(reply)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (lambda r: b"not json\n", "not JSON"),
        (
            lambda r: json.dumps({"id": r["id"], "ok": True, "result": {"session": 1}}).encode() + b"\n",
            "against the protocol",
        ),
        (
            lambda r: (
                json.dumps({"id": None, "ok": False, "error": {"type": "ProtocolError", "message": "no"}}).encode()
                + b"\n"
            ),
            "answered: ProtocolError: no$",
        ),
        (lambda r: None, "did not answer open_session within"),
    ],
)
def test_a_service_that_breaks_the_protocol_or_goes_silent_is_unavailable(
    run: Any, answer: Any, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(peer_client, "GRACE_S", 0.2)
    monkeypatch.setattr(peer_client, "CONNECT_TIMEOUT_S", 0.1)

    async def scenario() -> None:
        async with fake_service(answer) as port, await RemotePeer.connect("127.0.0.1", port, TOKEN) as far:
            with pytest.raises(PeerUnavailable, match=text):
                await far.open_session(ListenerSpec(kind="plain"))
            with pytest.raises(PeerUnavailable):  # and from then on, at once
                await far.open_session(ListenerSpec(kind="plain"))

    run(scenario())


def test_an_answer_the_schema_lets_through_but_the_op_cannot_read_is_unavailable(run: Any) -> None:
    # "A" matches the schema's base64 pattern but is no base64: the typed result cannot be made.
    received = {"type": "Received", "data": {"b64": "A"}, "sha256": "0" * 64, "length": 1}
    opened = {"session": "1", "port": 1, "refused_port": 2, "variables": {}}

    def answer(request: dict[str, Any]) -> bytes:
        result = opened if request["op"] == "open_session" else {**received, "ended": None, "timed_out": False}
        return json.dumps({"id": request["id"], "ok": True, "result": result}).encode() + b"\n"

    async def scenario() -> None:
        async with fake_service(answer) as port, await RemotePeer.connect("127.0.0.1", port, TOKEN) as far:
            session = await far.open_session(ListenerSpec(kind="plain"))
            with pytest.raises(PeerUnavailable, match="answered against the protocol: Received: invalid base64"):
                await session.perform(Recv("conn", 1, timeout=1, digest=False))
            with pytest.raises(PeerUnavailable):  # and from then on, at once
                await far.open_session(ListenerSpec(kind="plain"))

    run(scenario())
