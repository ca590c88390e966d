"""TLS listeners: the handshake as the peer accepts (SNI, version, failures that do not
hang), the run's bad certificates, and every op over TLS."""

import asyncio
import hashlib
import socket
import ssl
import time
from typing import Any

import pytest
from conformance_peer import (
    Accepted,
    CertificateFiles,
    ChunkPlan,
    Echoed,
    EndSeen,
    ListenerSpec,
    PeerError,
    Sent,
    TlsInfo,
    UnsupportedListener,
    open_session,
)
from tls_support import TlsClient, client_context

MIB = bytes(range(256)) * 4096


async def tls_peer(certs: Any, cert: str = "good", host: str = "127.0.0.1") -> Any:
    spec = ListenerSpec(kind="tls", host=host, cert=cert)  # type: ignore[arg-type]
    return await open_session(spec, certs.peer_files())


async def connect(
    peer: Any, certs: Any, server_hostname: str | None = "localhost", host: str = "127.0.0.1"
) -> tuple[TlsClient, Accepted]:
    """A verifying client shakes hands while the peer accepts it as "conn"."""
    client = await TlsClient.open(peer.port, host)
    shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), server_hostname))
    accepted = await peer.accept("conn", timeout=2)
    await shaking
    assert isinstance(accepted, Accepted)
    return client, accepted


def test_accept_shakes_hands_and_records_sni_version_and_cipher(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client, accepted = await connect(peer, certs, "localhost")
            assert accepted.tls == TlsInfo(
                ok=True,
                version=client.tls.version(),
                sni="localhost",
                cipher=client.tls.cipher()[0],  # type: ignore[index]
                error=None,
            )
            assert accepted.tls.version == "TLSv1.3"
            assert accepted.as_dict()["tls"] == {
                "ok": True,
                "version": "TLSv1.3",
                "sni": "localhost",
                "cipher": accepted.tls.cipher,
                "error": None,
            }
            client.close()

    run(scenario())


def test_an_ip_literal_sends_no_sni_and_verifies_the_ip_san(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client, accepted = await connect(peer, certs, "127.0.0.1")
            assert accepted.tls is not None
            assert accepted.tls.ok
            assert accepted.tls.sni is None
            client.close()

    run(scenario())


def test_the_recorded_version_is_the_negotiated_one(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client = await TlsClient.open(peer.port)
            context = client_context(certs.ca_file)
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            shaking = asyncio.create_task(client.handshake(context, "localhost"))
            accepted = await peer.accept("conn", timeout=2)
            await shaking
            assert isinstance(accepted, Accepted)
            assert accepted.tls is not None
            assert (accepted.tls.ok, accepted.tls.version) == (True, "TLSv1.2")
            client.close()

    run(scenario())


def test_the_handshake_completes_before_the_case_accepts(run: Any, certs: Any) -> None:
    """A client may wait for its handshake (`await opened`) before the case's peer.accept."""

    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client = await TlsClient.open(peer.port)
            await asyncio.wait_for(client.handshake(client_context(certs.ca_file), "localhost"), 2)
            accepted = await peer.accept("conn", timeout=0)
            assert isinstance(accepted, Accepted)
            assert accepted.tls is not None
            assert accepted.tls.ok
            client.close()

    run(scenario())


def test_a_client_that_does_not_trust_the_ca_fails_without_hanging(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client = await TlsClient.open(peer.port)
            shaking = asyncio.create_task(client.handshake(client_context(None), "localhost"))
            started = time.monotonic()
            accepted = await peer.accept("conn", timeout=5)
            assert time.monotonic() - started < 1
            with pytest.raises(ssl.SSLCertVerificationError):
                await shaking
            assert isinstance(accepted, Accepted)
            assert accepted.tls is not None
            assert not accepted.tls.ok
            assert accepted.tls.sni == "localhost"
            assert accepted.tls.error is not None
            assert "unknown ca" in accepted.tls.error.lower()
            with pytest.raises(PeerError, match="handshake failed"):
                await peer.recv("conn", 1, timeout=1, digest=False)
            with pytest.raises(PeerError, match="handshake failed"):
                await peer.send("conn", b"x", None, timeout=1)
            await peer.close("conn")  # still allowed: the connection is already closed
            client.close()

    run(scenario())


def test_a_plaintext_client_fails_the_handshake_and_is_closed(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
            writer.write(b"hello, plain text\r\n")
            accepted = await peer.accept("conn", timeout=2)
            assert isinstance(accepted, Accepted)
            assert accepted.tls is not None
            assert not accepted.tls.ok
            assert accepted.tls.error is not None
            assert accepted.tls.error.startswith("[SSL: ")
            answer = await asyncio.wait_for(reader.read(), 1)  # at most an alert, then FIN
            assert b"hello" not in answer
            writer.close()

    run(scenario())


def test_a_client_that_never_shakes_hands_fails_at_the_accept_timeout(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            reader, writer = await asyncio.open_connection("127.0.0.1", peer.port)
            started = time.monotonic()
            accepted = await peer.accept("conn", timeout=0.3)
            assert 0.25 <= time.monotonic() - started < 3  # ten times the 0.3 s timeout: a busy machine never fails it
            assert isinstance(accepted, Accepted)
            assert accepted.tls == TlsInfo(ok=False, error="the TLS handshake did not finish within 0.3 s")
            assert await asyncio.wait_for(reader.read(), 1) == b""  # closed with FIN
            writer.close()

    run(scenario())


def test_a_stalled_handshake_does_not_hold_up_the_next_client(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            _, silent = await asyncio.open_connection("127.0.0.1", peer.port)
            await asyncio.sleep(0.05)
            client = await TlsClient.open(peer.port)
            shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), "localhost"))
            first = await peer.accept("silent", timeout=0.2)
            second = await peer.accept("good", timeout=2)
            await shaking
            assert isinstance(first, Accepted)
            assert isinstance(second, Accepted)
            assert first.tls is not None
            assert second.tls is not None
            assert (first.tls.ok, second.tls.ok) == (False, True)
            silent.close()
            client.close()

    run(scenario())


@pytest.mark.parametrize(
    ("cert", "server_hostname", "verify_message"),
    [
        ("wrong-host", "localhost", "Hostname mismatch"),
        ("wrong-host", "127.0.0.1", "IP address mismatch"),
        ("expired", "localhost", "certificate has expired"),
        ("untrusted", "localhost", "unable to get local issuer certificate"),
    ],
)
def test_bad_certificates_fail_a_verifying_client(
    run: Any, certs: Any, cert: str, server_hostname: str, verify_message: str
) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs, cert) as peer:
            client = await TlsClient.open(peer.port)
            shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), server_hostname))
            accepted = await peer.accept("conn", timeout=2)
            with pytest.raises(ssl.SSLCertVerificationError) as failure:
                await shaking
            assert verify_message in str(failure.value.verify_message)
            assert isinstance(accepted, Accepted)
            assert accepted.tls is not None
            assert not accepted.tls.ok
            assert accepted.tls.error
            client.close()
            # the same certificate is served fine to a client that does not verify
            trusting = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            trusting.check_hostname = False
            trusting.verify_mode = ssl.CERT_NONE
            _, writer = await asyncio.open_connection("127.0.0.1", peer.port, ssl=trusting)
            accepted = await peer.accept("unverified", timeout=2)
            assert isinstance(accepted, Accepted)
            assert accepted.tls is not None
            assert accepted.tls.ok
            writer.close()

    run(scenario())


def test_an_asyncio_client_that_verifies_rejects_the_wrong_host(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs, "wrong-host") as peer:
            with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
                await asyncio.open_connection(
                    "127.0.0.1",
                    peer.port,
                    ssl=client_context(certs.ca_file),
                    server_hostname="localhost",
                )
            accepted = await peer.accept("conn", timeout=2)
            assert isinstance(accepted, Accepted)
            assert accepted.tls is not None
            assert not accepted.tls.ok

    run(scenario())


def test_send_and_recv_over_tls(run: Any, certs: Any) -> None:
    plan = ChunkPlan(1, 5000, seed=3)

    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client, _ = await connect(peer, certs)
            reading = asyncio.create_task(client.read(len(MIB)))
            sent = await peer.send("conn", MIB, plan, timeout=5)
            assert sent == Sent(len(MIB), len(list(plan.split(memoryview(MIB)))), False, False)
            assert await reading == MIB
            await client.write(b"hello over tls")
            received = await peer.recv("conn", 14, timeout=1, digest=False)
            assert received.data == b"hello over tls"
            assert received.ended is None
            await client.write(MIB)
            client.close_notify()
            received = await peer.recv("conn", None, timeout=5, digest=True)
            assert (received.length, received.ended) == (len(MIB), "eof")
            assert received.sha256 == hashlib.sha256(MIB).hexdigest()
            client.close()

    run(scenario())


@pytest.mark.parametrize("chunks", [None, ChunkPlan(1, 5000, seed=4)], ids=["whole", "chunked"])
def test_echo_of_1_mib_over_tls(run: Any, certs: Any, chunks: ChunkPlan | None) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client, _ = await connect(peer, certs)
            echoing = asyncio.create_task(peer.echo("conn", chunks, timeout=5))
            for offset in range(0, len(MIB), 100_000):
                await client.write(MIB[offset : offset + 100_000])
            client.close_notify()
            assert await client.read(len(MIB)) == MIB
            assert await echoing == Echoed(len(MIB), "eof", False)
            client.close()

    run(scenario())


@pytest.mark.parametrize(
    ("ending", "seen"),
    [
        ("close_notify", EndSeen("eof")),
        ("fin", EndSeen("eof")),
        ("close_notify+fin", EndSeen("eof")),
        ("reset", EndSeen("reset")),
        ("data", EndSeen("data", b"surprise")),
        ("nothing", EndSeen("silence")),
    ],
)
def test_wait_end_over_tls(run: Any, certs: Any, ending: str, seen: EndSeen) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client, _ = await connect(peer, certs)
            if ending == "data":
                await client.write(b"surprise")
            if "close_notify" in ending:
                client.close_notify()
            if "fin" in ending:
                client.fin()
            if ending == "reset":
                client.reset()
            assert await peer.wait_end("conn", timeout=0.5) == seen
            client.close()

    run(scenario())


def test_recv_gives_the_bytes_before_close_notify_then_eof(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client, _ = await connect(peer, certs)
            await client.write(b"last words")
            client.close_notify()
            await asyncio.sleep(0.05)
            received = await peer.recv("conn", None, timeout=1, digest=False)
            assert (received.data, received.ended) == (b"last words", "eof")
            client.close()

    run(scenario())


def test_shutdown_write_sends_close_notify_and_fin_then_keeps_reading(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client, _ = await connect(peer, certs)
            await peer.send("conn", b"bye", None, timeout=1)
            await peer.shutdown_write("conn")
            assert await asyncio.wait_for(client.read_to_end(), 1) == (b"bye", "close_notify")
            assert await asyncio.wait_for(client.reader.read(), 1) == b""  # then the FIN
            await client.write(b"still talking")  # TLS 1.3 half-close: the client may go on
            received = await peer.recv("conn", 13, timeout=1, digest=False)
            assert received.data == b"still talking"
            client.close_notify()
            assert await peer.wait_end("conn", timeout=1) == EndSeen("eof")
            client.close()

    run(scenario())


def test_close_sends_close_notify_then_fin(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client, _ = await connect(peer, certs)
            await peer.send("conn", b"the end", None, timeout=1)
            await peer.close("conn")
            assert await asyncio.wait_for(client.read_to_end(), 1) == (b"the end", "close_notify")
            assert await asyncio.wait_for(client.reader.read(), 1) == b""
            client.close()

    run(scenario())


def test_reset_sends_rst_without_close_notify(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs) as peer:
            client, _ = await connect(peer, certs)
            await peer.reset("conn")
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(client.reader.read(), 1)
            client.close()

    run(scenario())


def ipv6_loopback_works() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback_works(), reason="this machine has no ::1")
def test_tls_on_ipv6_loopback(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await tls_peer(certs, host="::1") as peer:
            assert peer.variables["peer.host"] == "[::1]"
            client, accepted = await connect(peer, certs, "::1", host="::1")
            assert accepted.tls is not None
            assert (accepted.tls.ok, accepted.tls.sni) == (True, None)
            assert accepted.remote_address.startswith("[::1]:")
            client.close()

    run(scenario())


@pytest.mark.parametrize("kind", ["tls", "starttls"])
def test_a_tls_listener_needs_the_runs_certificates(run: Any, kind: str) -> None:
    spec = ListenerSpec(kind=kind)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedListener, match="needs the run's certificates"):
        run(open_session(spec))


def test_a_certificate_the_run_does_not_have_is_unsupported(run: Any, certs: Any) -> None:
    only_good = CertificateFiles({"good": certs.peer_files().paths("good")})
    with pytest.raises(UnsupportedListener, match="no 'expired'"):
        run(open_session(ListenerSpec(kind="tls", cert="expired"), only_good))
    with pytest.raises(UnsupportedListener, match="no certificate named 'self-signed'"):
        run(open_session(ListenerSpec(kind="tls", cert="self-signed"), only_good))  # type: ignore[arg-type]
