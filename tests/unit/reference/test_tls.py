"""TLS in the reference: ``secureTransport: "on"`` (B17, B18, B45) and ``startTls()`` (B39-B42).

Every scenario drives the adapter through the protocol against a loopback
server that speaks TLS with the run's certificates (``tls_support``), so the
server's view (SNI, handshake outcome, close_notify) is checked as well.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import ssl
from typing import Any

import pytest
from conformance_peer import CertificateName

from conformance.adapters.reference import errors
from conformance.adapters.reference.adapter import _can_bind_ipv6_loopback
from conformance.adapters.reference.tls import TlsConfig, TlsSession
from conformance.adapters.reference_stdio import launch_ca_pem
from conformance.core.certificates import RunCertificates

from .support import Client, Conn, Peer, data, peer, run
from .tls_support import ServerTls, server_context

CONNECT_FAILED = {"name": "Error", "message": errors.CONNECT_FAILED}
INTERNAL_ERROR = re.compile(r"^internal error; reference = [0-9a-v]+$")
BAD_CERTIFICATES: list[CertificateName] = ["wrong-host", "untrusted", "expired"]


def tls_client(certs: RunCertificates, mutant: str | None = None) -> Client:
    return Client(mutant, ca_pem=certs.ca_pem)


async def value(client: Client, op: str, **arguments: Any) -> Any:
    reply = await client.op(op, **arguments)
    assert reply["status"] in ("returned", "resolved"), reply
    return reply.get("value")


async def chunk(client: Client, socket: str) -> bytes:
    reply = await client.op("read", socket=socket, timeout_ms=2000)
    assert reply["status"] == "resolved", reply
    assert not reply["value"]["done"], reply
    return base64.b64decode(reply["value"]["value"]["b64"])


async def open_tls(
    client: Client,
    listener: Peer,
    certs: RunCertificates,
    *,
    host: str = "127.0.0.1",
    name: CertificateName = "good",
    options: dict[str, Any] | None = None,
) -> tuple[str, ServerTls, str | None]:
    """connect() with "on"; the server shakes hands at once. Returns the socket, the server side, its outcome."""
    s = await client.connect(f"{host}:{listener.port}", {"secureTransport": "on", **(options or {})})
    server = ServerTls(await listener.accept(), server_context(certs, name))
    return s, server, await server.handshake()


async def upgrade(
    client: Client,
    listener: Peer,
    certs: RunCertificates,
    *,
    host: str = "localhost",
    name: CertificateName = "good",
    options: dict[str, Any] | None = None,
) -> tuple[str, str, Conn, ServerTls]:
    """A STARTTLS exchange in plaintext, then startTls; the server starts its side. Returns old, new, ..."""
    s1 = await client.connect(f"{host}:{listener.port}", {"secureTransport": "starttls"})
    conn = await listener.accept()
    await value(client, "write", socket=s1, data=data(b"STARTTLS\r\n"), timeout_ms=2000)
    assert await conn.recv_exactly(10) == b"STARTTLS\r\n"
    await conn.send(b"OK\r\n")
    assert await chunk(client, s1) == b"OK\r\n"
    for stream in ("readable", "writable"):
        await value(client, "release_lock", socket=s1, stream=stream)
    arguments = {} if options is None else {"options": options}
    reply = await client.op("start_tls", socket=s1, **arguments)
    assert reply["status"] == "returned", reply
    return s1, reply["value"]["socket"], conn, ServerTls(conn, server_context(certs, name))


# -- the adapter ------------------------------------------------------------------------------


def test_hello_declares_tls_and_starttls_with_a_ca(certs: RunCertificates) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        with_ca = await tls_client(certs).op("hello", protocol=1)
        without = await Client().op("hello", protocol=1)
        return with_ca["value"]["capabilities"], without["value"]["capabilities"]

    with_ca, without = run(scenario())
    assert {"tls", "starttls"} <= set(with_ca)
    assert not {"tls", "starttls"} & set(without)


def test_the_ca_is_the_only_trust_anchor(certs: RunCertificates) -> None:
    config = TlsConfig(certs.ca_pem, Client().adapter.quirks)
    context = config._verifying
    assert context.check_hostname
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert len(context.get_ca_certs()) == 1  # no system store


def test_stdio_adapter_reads_the_ca_from_its_launch_environment(certs: RunCertificates) -> None:
    assert launch_ca_pem({"CONNECT_CONFORMANCE_CA_PEM": certs.ca_pem}) == certs.ca_pem
    assert launch_ca_pem({"CONNECT_CONFORMANCE_CA_FILE": str(certs.ca_file)}) == certs.ca_pem
    assert launch_ca_pem({}) is None


def test_registry_hands_the_run_ca_to_the_reference(certs: RunCertificates) -> None:
    from conformance.adapters.registry import resolve
    from conformance.execution.runner import RunContext

    async def scenario() -> list[str]:
        transport = resolve("reference").make_transport(RunContext(certs))
        await transport.open()
        reply = await transport.exchange({"seq": 1, "op": "hello", "protocol": 1}, 5.0)
        await transport.close()
        return list(reply["value"]["capabilities"])

    assert {"tls", "starttls"} <= set(run(scenario()))


def test_a_bad_server_name_fails_the_session_not_the_adapter(certs: RunCertificates) -> None:
    session = TlsConfig(certs.ca_pem, Client().adapter.quirks).session("", upgrade=True)
    assert isinstance(session, TlsSession)
    with pytest.raises(Exception, match="server name"):
        session.handshake()


@pytest.mark.parametrize(("first", "fails"), [(b"p", True), (b"\x16", False), (b"\x15", False)])
def test_a_first_byte_that_cannot_start_a_record_fails_the_handshake_at_once(
    certs: RunCertificates, first: bytes, fails: bool
) -> None:
    session = TlsConfig(certs.ca_pem, Client().adapter.quirks).session("localhost", upgrade=False)
    assert session.handshake() is False  # the ClientHello is out, waiting for the server
    session.feed(first)
    if fails:
        with pytest.raises(Exception, match="cannot start a TLS record"):
            session.handshake()
    else:
        assert session.handshake() is False  # a record may start so: wait for the rest


# -- secureTransport: "on" -----------------------------------------------------------------------


@pytest.mark.parametrize(("host", "sni"), [("localhost", "localhost"), ("127.0.0.1", None)])
def test_on_round_trip_and_half_close(certs: RunCertificates, host: str, sni: str | None) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s, server, failure = await open_tls(client, listener, certs, host=host)
            assert failure is None
            assert server.sni == sni  # B45: SNI for a DNS name, none for an IP literal
            assert server.version in ("TLSv1.2", "TLSv1.3")
            assert await value(client, "await", socket=s, promise="opened", timeout_ms=2000) == {
                "remoteAddress": f"{host}:{listener.port}"
            }
            assert await value(client, "get", socket=s, property="secureTransport") == "on"
            await value(client, "write", socket=s, data=data(b"ping"), timeout_ms=2000)
            assert await server.recv_exactly(4) == b"ping"
            await server.send(b"pong")
            assert await chunk(client, s) == b"pong"
            # B29 over TLS: close_notify then FIN; the server sees a clean end, reading goes on.
            await value(client, "close_writer", socket=s, timeout_ms=2000)
            assert await server.recv_until_eof() == b""
            assert server.close_notify_received
            await server.send(b"bye")
            assert await chunk(client, s) == b"bye"
            await server.shutdown_write()
            assert (await value(client, "read", socket=s, timeout_ms=2000)) == {"done": True}
            await value(client, "close", socket=s, timeout_ms=2000)
            await value(client, "await", socket=s, promise="closed", timeout_ms=2000)
            assert await client.end() == {"open_sockets": 0, "unhandled_rejections": []}

    run(scenario())


@pytest.mark.skipif(not _can_bind_ipv6_loopback(), reason="no IPv6 loopback here")
def test_on_over_ipv6_verifies_the_ip_without_brackets_and_sends_no_sni(certs: RunCertificates) -> None:
    async def scenario() -> None:
        listener = Peer()
        server = await asyncio.start_server(listener._accepted, "::1", 0)
        port = listener.port = server.sockets[0].getsockname()[1]
        try:
            client = tls_client(certs)
            s, side, failure = await open_tls(client, listener, certs, host="[::1]")
            assert failure is None
            assert side.sni is None
            assert await value(client, "await", socket=s, promise="opened", timeout_ms=2000) == {
                "remoteAddress": f"[::1]:{port}"
            }
            await client.end()
        finally:
            server.close()
            await server.wait_closed()

    run(scenario())


@pytest.mark.parametrize("name", BAD_CERTIFICATES)
def test_on_with_a_bad_certificate_fails_like_b18(certs: RunCertificates, name: CertificateName) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s, _, failure = await open_tls(client, listener, certs, host="localhost", name=name)
            assert failure is not None  # the client refused the certificate
            opened = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            closed = await client.op("await", socket=s, promise="closed", timeout_ms=2000)
            assert opened["error"] == closed["error"] == CONNECT_FAILED
            reply = await client.op("read", socket=s, timeout_ms=2000)
            assert reply["value"] == {"done": True}  # B19
            assert (await client.op("write", socket=s, data=data(b"x"), timeout_ms=2000))["status"] == "rejected"
            assert (await client.op("close", socket=s, timeout_ms=2000))["status"] == "resolved"  # B37
            assert await client.end() == {"open_sockets": 0, "unhandled_rejections": []}

    run(scenario())


@pytest.mark.parametrize("server_does", ["greets", "echoes", "closes"])
def test_on_against_a_plaintext_server_fails_like_b18(certs: RunCertificates, server_does: str) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s = await client.connect(listener.address, {"secureTransport": "on"})
            conn = await listener.accept()
            if server_does == "greets":
                await conn.send(b"220 plaintext here\r\n")
            elif server_does == "echoes":
                await conn.send(await conn.reader.read(65536))  # the ClientHello, back
            else:
                conn.close()
            opened = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            assert opened["error"] == CONNECT_FAILED
            await client.end()

    run(scenario())


def test_on_opened_waits_for_the_handshake(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s = await client.connect(listener.address, {"secureTransport": "on"})
            conn = await listener.accept()  # TCP is up; the server holds its handshake back
            await client.op("write", socket=s, data=data(b"early"), timeout_ms=0)
            assert (await client.op("await", socket=s, promise="opened", timeout_ms=300))["status"] == "pending"
            server = ServerTls(conn, server_context(certs))
            assert await server.handshake() is None
            assert await value(client, "await", socket=s, promise="opened", timeout_ms=2000) == {
                "remoteAddress": listener.address
            }
            assert await server.recv_exactly(5) == b"early"  # queued until the handshake (B16)
            await client.end()

    run(scenario())


def test_on_peer_close_notify_is_eof_and_closes_our_side(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s, server, _ = await open_tls(client, listener, certs)
            await server.send(b"last")
            await server.shutdown_write()
            assert await chunk(client, s) == b"last"
            assert await value(client, "read", socket=s, timeout_ms=2000) == {"done": True}
            # B31: read to done with allowHalfOpen false, so our side ends too, cleanly.
            await value(client, "await", socket=s, promise="closed", timeout_ms=2000)
            assert await server.recv_until_eof() == b""
            assert server.close_notify_received
            await client.end()

    run(scenario())


def test_on_peer_full_close_read_to_done_resolves_closed(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s, server, _ = await open_tls(client, listener, certs, host="localhost")
            await server.send(b"bye")
            await server.shutdown_write()
            server.conn.close()  # gone for good: our close_notify and FIN meet a reset
            reply = await client.op("read_bytes", socket=s, n=None, timeout_ms=2000)
            assert reply["value"]["done"] is True
            assert reply["value"]["length"] == 3
            await value(client, "await", socket=s, promise="closed", timeout_ms=2000)  # B31
            assert await client.end() == {"open_sockets": 0, "unhandled_rejections": []}

    run(scenario())


@pytest.mark.parametrize("how", ["reset", "fin-without-close-notify"])
def test_on_a_broken_tls_stream_is_network_connection_lost(certs: RunCertificates, how: str) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s, server, _ = await open_tls(client, listener, certs)
            await value(client, "await", socket=s, promise="opened", timeout_ms=2000)
            if how == "reset":
                server.conn.reset()
            else:
                server.conn.shutdown_write()  # kj: "peer disconnected without gracefully ending TLS session"
            reply = await client.op("read", socket=s, timeout_ms=2000)
            assert reply["error"] == {"name": "Error", "message": errors.CONNECTION_LOST}  # B21
            await value(client, "await", socket=s, promise="closed", timeout_ms=2000)
            await client.end()

    run(scenario())


def test_on_close_sends_close_notify_after_the_queued_data(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s, server, _ = await open_tls(client, listener, certs)
            await client.op("write", socket=s, data=data(b"flushed"), timeout_ms=0)
            await value(client, "close", socket=s, timeout_ms=2000)
            assert await server.recv_until_eof() == b"flushed"
            assert server.close_notify_received
            await client.end()

    run(scenario())


def test_on_close_right_after_the_handshake_loses_nothing(certs: RunCertificates) -> None:
    # Writes queued behind the handshake, then close(): the flush follows the handshake at once, and
    # the server's session tickets arrive after close(). A socket that is simply closed then is reset
    # by the kernel, and the server loses the records it had not read yet (B35).
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s = await client.connect(f"127.0.0.1:{listener.port}", {"secureTransport": "on"})
            sent = b"".join(b"w%02d;" % index for index in range(16))
            for index in range(16):
                await client.op("write", socket=s, data=data(sent[4 * index : 4 * index + 4]), timeout_ms=0)
            closing = await client.op("close", socket=s, timeout_ms=0)
            server = ServerTls(await listener.accept(), server_context(certs))
            assert await server.handshake() is None
            # Like a server's session tickets, a record that arrives once the client has closed (its
            # data, close_notify and FIN wait unread on this side meanwhile).
            await asyncio.sleep(0.3)
            await server.send(b"late")
            await asyncio.sleep(0.1)
            assert await server.recv_until_eof() == sent
            assert server.close_notify_received
            assert (await client.op("await", promise=closing["promise"], timeout_ms=2000))["status"] == "resolved"
            await client.end()

    run(scenario())


def test_on_large_transfer(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s, server, _ = await open_tls(client, listener, certs)
            size = 8 * 1024 * 1024
            pattern = {"$type": "pattern", "seed": "YWJj", "size": size}
            await client.op("write", socket=s, data=pattern, timeout_ms=0)
            received = await server.recv_exactly(size, timeout=15)
            assert received == (b"abc" * (size // 3 + 1))[:size]
            await client.end()

    run(scenario())


# -- startTls: the happy path ------------------------------------------------------------------------


def test_starttls_upgrades_the_connection(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s1, s2, _, server = await upgrade(client, listener, certs)
            assert await server.handshake() is None
            assert server.sni == "localhost"  # the address's hostname (B42 default)
            address = f"localhost:{listener.port}"
            assert await value(client, "await", socket=s2, promise="opened", timeout_ms=2000) == {
                "remoteAddress": address
            }
            # B40: the old socket is upgraded, its closed resolved, its streams detached (B41).
            assert await value(client, "get", socket=s1, property="upgraded") is True
            await value(client, "await", socket=s1, promise="closed", timeout_ms=2000)
            assert (await client.op("get_writer", socket=s1))["error"] == {
                "name": "TypeError",
                "message": errors.WRITABLE_LOCKED,
            }
            assert (await client.op("get_reader", socket=s1))["error"] == {
                "name": "TypeError",
                "message": errors.READABLE_LOCKED,
            }
            assert await value(client, "get", socket=s1, property="secureTransport") == "starttls"
            assert await value(client, "get", socket=s2, property="secureTransport") == "on"
            assert await value(client, "get", socket=s2, property="upgraded") is False
            # The new socket carries the connection, encrypted.
            await value(client, "write", socket=s2, data=data(b"secret"), timeout_ms=2000)
            assert await server.recv_exactly(6) == b"secret"
            await server.send(b"granted")
            assert await chunk(client, s2) == b"granted"
            await value(client, "close_writer", socket=s2, timeout_ms=2000)
            assert await server.recv_until_eof() == b""
            assert server.close_notify_received
            await value(client, "close", socket=s2, timeout_ms=2000)
            assert await client.end() == {"open_sockets": 0, "unhandled_rejections": []}

    run(scenario())


def test_starttls_flushes_the_old_writable_first(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s1 = await client.connect(listener.address, {"secureTransport": "starttls"})
            conn = await listener.accept()
            size = 4 * 1024 * 1024  # more than the buffers hold: the flush waits for the server
            await client.op("write", socket=s1, data={"$type": "pattern", "seed": "eA==", "size": size}, timeout_ms=0)
            await value(client, "release_lock", socket=s1, stream="writable")
            s2 = (await client.op("start_tls", socket=s1))["value"]["socket"]
            # Still flushing: not upgraded yet, and a second call is B39 (4).
            assert await value(client, "get", socket=s1, property="upgraded") is False
            reply = await client.op("start_tls", socket=s1)
            assert reply["error"] == {"name": "TypeError", "message": errors.STARTTLS_TWICE}
            assert await conn.recv_exactly(size, timeout=10) == b"x" * size  # plaintext, before TLS
            server = ServerTls(conn, server_context(certs))
            assert await server.handshake() is None
            await value(client, "await", socket=s2, promise="opened", timeout_ms=2000)
            assert await value(client, "get", socket=s1, property="upgraded") is True
            # Now the upgrade is done, the old socket's connection is gone: B39 (2).
            reply = await client.op("start_tls", socket=s1)
            assert reply["error"] == {"name": "TypeError", "message": errors.STARTTLS_AFTER_CLOSE}
            await client.end()

    run(scenario())


def test_starttls_writes_on_the_new_socket_wait_for_the_handshake(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            _, s2, _, server = await upgrade(client, listener, certs)
            await client.op("write", socket=s2, data=data(b"queued"), timeout_ms=0)
            assert (await client.op("await", socket=s2, promise="opened", timeout_ms=300))["status"] == "pending"
            assert await server.handshake() is None
            await value(client, "await", socket=s2, promise="opened", timeout_ms=2000)
            assert await server.recv_exactly(6) == b"queued"
            await client.end()

    run(scenario())


def test_starttls_expected_server_hostname_is_used_for_sni_and_verification(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            options = {"expectedServerHostname": "wrong-host.invalid"}
            _, s2, _, server = await upgrade(
                client, listener, certs, host="127.0.0.1", name="wrong-host", options=options
            )
            assert await server.handshake() is None
            assert server.sni == "wrong-host.invalid"  # B42
            await value(client, "await", socket=s2, promise="opened", timeout_ms=2000)
            await client.end()

    run(scenario())


@pytest.mark.parametrize("name", BAD_CERTIFICATES)
def test_starttls_verifies_the_new_connection(certs: RunCertificates, name: CertificateName) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s1, s2, _, server = await upgrade(client, listener, certs, name=name)
            assert await server.handshake() is not None
            opened = await client.op("await", socket=s2, promise="opened", timeout_ms=2000)
            closed = await client.op("await", socket=s2, promise="closed", timeout_ms=2000)
            # B40: a generic Error, not B18's proxy message.
            assert opened["error"]["name"] == "Error"
            assert INTERNAL_ERROR.match(opened["error"]["message"])
            assert closed["error"] == opened["error"]
            assert (await client.op("read", socket=s2, timeout_ms=2000))["value"] == {"done": True}
            # The old socket was detached before the handshake, so it is upgraded all the same.
            assert await value(client, "get", socket=s1, property="upgraded") is True
            assert await client.end() == {"open_sockets": 0, "unhandled_rejections": []}

    run(scenario())


def test_starttls_unread_plaintext_goes_to_the_handshake(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s1 = await client.connect(listener.address, {"secureTransport": "starttls"})
            conn = await listener.accept()
            await conn.send(b"220 nobody read me\r\n")
            await asyncio.sleep(0.1)
            s2 = (await client.op("start_tls", socket=s1))["value"]["socket"]
            opened = await client.op("await", socket=s2, promise="opened", timeout_ms=2000)
            assert INTERNAL_ERROR.match(opened["error"]["message"])
            await client.end()

    run(scenario())


# -- startTls: preconditions and the detach (B39, B41) ----------------------------------------------


def test_b39_messages_and_order(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)

            async def start_tls_error(socket: str, **arguments: Any) -> Any:
                reply = await client.op("start_tls", socket=socket, **arguments)
                assert reply["status"] == "threw", reply
                return reply["error"]

            def type_error(message: str) -> dict[str, str]:
                return {"name": "TypeError", "message": message}

            on = await client.connect("nowhere.invalid:1", {"secureTransport": "on"})
            off = await client.connect("nowhere.invalid:1")
            closed = await client.connect(listener.address, {"secureTransport": "starttls"})
            closed_off = await client.connect(listener.address)
            await value(client, "close", socket=closed, timeout_ms=2000)
            await value(client, "close", socket=closed_off, timeout_ms=2000)
            assert await start_tls_error(on) == type_error(errors.STARTTLS_ON_TLS_SOCKET)  # (1)
            assert await start_tls_error(closed) == type_error(errors.STARTTLS_AFTER_CLOSE)  # (2)
            assert await start_tls_error(closed_off) == type_error(errors.STARTTLS_AFTER_CLOSE)  # (2) before (3)
            assert await start_tls_error(off) == type_error(errors.STARTTLS_WRONG_OPTION)  # (3)
            # The options are converted before any check.
            assert await start_tls_error(on, options="x") == type_error(errors.STARTTLS_OPTIONS_NOT_OBJECT)
            # A socket startTls returned is "on": (1), even while its upgrade is pending.
            pending = await client.connect(listener.address, {"secureTransport": "starttls"})
            s2 = (await client.op("start_tls", socket=pending))["value"]["socket"]
            assert await start_tls_error(s2) == type_error(errors.STARTTLS_ON_TLS_SOCKET)
            await client.end()

    run(scenario())


@pytest.mark.parametrize(
    ("held", "message"), [("writable", errors.WRITABLE_LOCKED), ("readable", errors.READABLE_LOCKED)]
)
def test_b41_a_held_lock_makes_the_detach_fail(certs: RunCertificates, held: str, message: str) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s1 = await client.connect(listener.address, {"secureTransport": "starttls"})
            await listener.accept()
            await value(client, "get_writer" if held == "writable" else "get_reader", socket=s1)
            s2 = (await client.op("start_tls", socket=s1))["value"]["socket"]  # returns all the same
            opened = await client.op("await", socket=s2, promise="opened", timeout_ms=2000)
            assert opened["error"] == {"name": "TypeError", "message": message}
            assert await value(client, "get", socket=s1, property="upgraded") is False
            await client.end()

    run(scenario())


def test_close_completing_before_the_upgrade_continues_fails_the_new_socket(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            s1 = await client.connect(listener.address, {"secureTransport": "starttls"})
            await listener.accept()
            await value(client, "await", socket=s1, promise="opened", timeout_ms=2000)
            # close() is under way but not done, so startTls passes B39 (2); by the time
            # its flush is over, close() has aborted the writable (B35) and dropped the
            # connection: the flush fails with the abort reason, as workerd's would.
            assert (await client.op("close", socket=s1, timeout_ms=0))["status"] == "pending"
            s2 = (await client.op("start_tls", socket=s1))["value"]["socket"]
            opened = await client.op("await", socket=s2, promise="opened", timeout_ms=2000)
            assert opened["error"] == {"name": "TypeError", "message": errors.SOCKET_CLOSED}
            assert await value(client, "get", socket=s1, property="upgraded") is False
            await client.end()

    run(scenario())


def test_start_tls_when_the_plaintext_connection_failed(certs: RunCertificates) -> None:
    async def scenario() -> None:
        client = tls_client(certs)
        s1 = await client.connect("nowhere.invalid:1", {"secureTransport": "starttls"})
        s2 = (await client.op("start_tls", socket=s1))["value"]["socket"]
        opened = await client.op("await", socket=s2, promise="opened", timeout_ms=2000)
        assert opened["error"] == CONNECT_FAILED
        assert await client.end() == {"open_sockets": 0, "unhandled_rejections": []}

    run(scenario())


def test_end_during_a_pending_upgrade_leaves_nothing_behind(certs: RunCertificates) -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = tls_client(certs)
            _, s2, conn, _ = await upgrade(client, listener, certs)  # the server never shakes hands
            report = await client.end(timeout_ms=300)
            assert report["unhandled_rejections"] == []
            assert len(client.adapter.session.tasks) == 0
            with contextlib.suppress(ConnectionError):
                await conn.recv_until_eof()  # the connection was dropped: this ends, no timeout
            assert s2 == "s2"

    run(scenario())
