"""STARTTLS listeners: plaintext first, then `start_tls` upgrades the same connection."""

import asyncio
import hashlib
import ssl
import time
from typing import Any

import pytest
from conformance_peer import (
    Accepted,
    ChunkPlan,
    Echoed,
    ListenerSpec,
    PeerError,
    Sent,
    TlsInfo,
    open_session,
)
from tls_support import TlsClient, client_context

MIB = bytes(range(256)) * 4096


async def starttls_peer(certs: Any, cert: str = "good") -> Any:
    spec = ListenerSpec(kind="starttls", cert=cert)  # type: ignore[arg-type]
    return await open_session(spec, certs.peer_files())


async def plaintext_prelude(peer: Any) -> TlsClient:
    """Connects, has the peer accept "conn", and exchanges a greeting and STARTTLS / OK."""
    client = await TlsClient.open(peer.port)
    accepted = await peer.accept("conn", timeout=1)
    assert isinstance(accepted, Accepted)
    assert accepted.tls is None  # no handshake before the upgrade
    assert (await peer.send("conn", b"220 ready\r\n", None, timeout=1)).length == 11
    assert await client.reader.readexactly(11) == b"220 ready\r\n"
    client.writer.write(b"STARTTLS\r\n")
    received = await peer.recv("conn", 10, timeout=1, digest=False)
    assert received.data == b"STARTTLS\r\n"
    await peer.send("conn", b"OK\r\n", None, timeout=1)
    assert await client.reader.readexactly(4) == b"OK\r\n"
    return client


def test_upgrade_mid_connection_with_data_before_and_after(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await starttls_peer(certs) as peer:
            client = await plaintext_prelude(peer)
            shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), "localhost"))
            info = await peer.start_tls("conn", timeout=2)
            await shaking
            assert info == TlsInfo(
                ok=True,
                version=client.tls.version(),
                sni="localhost",
                cipher=client.tls.cipher()[0],  # type: ignore[index]
            )
            await client.write(b"secret")
            received = await peer.recv("conn", 6, timeout=1, digest=False)
            assert received.data == b"secret"
            await peer.send("conn", b"encrypted reply", None, timeout=1)
            assert await client.read(15) == b"encrypted reply"
            client.close()

    run(scenario())


def test_a_client_hello_that_came_before_the_upgrade_step_is_used(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await starttls_peer(certs) as peer:
            client = await plaintext_prelude(peer)
            shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), "127.0.0.1"))
            await asyncio.sleep(0.1)  # the ClientHello waits in the peer, unread
            info = await peer.start_tls("conn", timeout=2)
            await shaking
            assert (info.ok, info.sni) == (True, None)
            await client.write(b"after")
            assert (await peer.recv("conn", 5, timeout=1, digest=False)).data == b"after"
            client.close()

    run(scenario())


def test_every_op_works_after_the_upgrade(run: Any, certs: Any) -> None:
    plan = ChunkPlan(1, 4096, seed=5)

    async def scenario() -> None:
        async with await starttls_peer(certs) as peer:
            client = await plaintext_prelude(peer)
            shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), "localhost"))
            assert (await peer.start_tls("conn", timeout=2)).ok
            await shaking
            reading = asyncio.create_task(client.read(len(MIB)))
            sent = await peer.send("conn", MIB, plan, timeout=5)
            assert sent == Sent(len(MIB), len(list(plan.split(memoryview(MIB)))), False, False)
            assert await reading == MIB
            echoing = asyncio.create_task(peer.echo("conn", None, timeout=5))
            await client.write(MIB)
            client.close_notify()
            assert await client.read(len(MIB)) == MIB
            assert await echoing == Echoed(len(MIB), "eof", False)
            await peer.close("conn")
            assert await asyncio.wait_for(client.read_to_end(), 1) == (b"", "close_notify")
            client.close()

    run(scenario())


def test_bytes_before_the_upgrade_stay_plaintext_and_digests_work_after(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await starttls_peer(certs) as peer:
            client = await TlsClient.open(peer.port)
            await peer.accept("conn", timeout=1)
            client.writer.write(b"EHLO a\r\nSTARTTLS\r\n")
            first = await peer.recv("conn", 8, timeout=1, digest=False)
            second = await peer.recv("conn", 10, timeout=1, digest=False)
            assert (first.data, second.data) == (b"EHLO a\r\n", b"STARTTLS\r\n")
            await peer.send("conn", b"OK\r\n", None, timeout=1)
            assert await client.reader.readexactly(4) == b"OK\r\n"
            shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), "localhost"))
            assert (await peer.start_tls("conn", timeout=2)).ok
            await shaking
            await client.write(b"x" * 100_000)
            client.close_notify()
            received = await peer.recv("conn", None, timeout=2, digest=True)
            assert received.sha256 == hashlib.sha256(b"x" * 100_000).hexdigest()
            assert received.ended == "eof"
            client.close()

    run(scenario())


def test_a_client_that_rejects_the_certificate_fails_the_upgrade(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await starttls_peer(certs, "expired") as peer:
            client = await plaintext_prelude(peer)
            shaking = asyncio.create_task(client.handshake(client_context(certs.ca_file), "localhost"))
            started = time.monotonic()
            info = await peer.start_tls("conn", timeout=5)
            assert time.monotonic() - started < 1
            assert not info.ok
            assert info.error is not None
            assert "certificate expired" in info.error
            with pytest.raises(ssl.SSLCertVerificationError, match="certificate has expired"):
                await shaking
            with pytest.raises(PeerError, match="handshake failed"):
                await peer.recv("conn", 1, timeout=1, digest=False)
            client.close()

    run(scenario())


def test_an_upgrade_the_client_never_starts_fails_at_its_timeout(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await starttls_peer(certs) as peer:
            client = await plaintext_prelude(peer)
            started = time.monotonic()
            info = await peer.start_tls("conn", timeout=0.3)
            assert 0.25 <= time.monotonic() - started < 3  # ten times the 0.3 s timeout: a busy machine never fails it
            assert info == TlsInfo(ok=False, error="the TLS handshake did not finish within 0.3 s")
            assert await asyncio.wait_for(client.reader.read(), 1) == b""
            client.close()

    run(scenario())


def test_an_upgrade_after_the_clients_fin_fails_at_once(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await starttls_peer(certs) as peer:
            client = await plaintext_prelude(peer)
            client.fin()
            await asyncio.sleep(0.05)
            info = await peer.start_tls("conn", timeout=2)
            assert info == TlsInfo(ok=False, error="the connection had ended (eof) before the TLS handshake")
            client.close()

    run(scenario())


def test_start_tls_misuse_is_a_peer_error(run: Any, certs: Any, client: Any) -> None:
    async def scenario() -> None:
        async with await starttls_peer(certs) as peer:
            tls_client = await plaintext_prelude(peer)
            shaking = asyncio.create_task(tls_client.handshake(client_context(certs.ca_file), "localhost"))
            assert (await peer.start_tls("conn", timeout=2)).ok
            await shaking
            with pytest.raises(PeerError, match="already speaks TLS"):
                await peer.start_tls("conn", timeout=1)
            with pytest.raises(PeerError, match="no connection named"):
                await peer.start_tls("other", timeout=1)
            tls_client.close()
        async with await open_session(ListenerSpec()) as plain:
            _, writer = await client.connect(plain)
            with pytest.raises(PeerError, match="needs a starttls listener, not 'plain'"):
                await plain.start_tls("conn", timeout=1)
            writer.close()
        async with await open_session(ListenerSpec(kind="tls"), certs.peer_files()) as tls:
            tls_client = await TlsClient.open(tls.port)
            await tls.accept("conn", timeout=0.1)
            with pytest.raises(PeerError, match="needs a starttls listener, not 'tls'"):
                await tls.start_tls("conn", timeout=1)
            tls_client.close()

    run(scenario())


def test_ops_wait_for_the_end_of_the_handshake(run: Any, certs: Any) -> None:
    async def scenario() -> None:
        async with await starttls_peer(certs) as peer:
            client = await plaintext_prelude(peer)
            upgrading = asyncio.create_task(peer.start_tls("conn", timeout=0.5))
            await asyncio.sleep(0.05)
            with pytest.raises(PeerError, match="in the middle of its TLS handshake"):
                await peer.send("conn", b"too early", None, timeout=1)
            with pytest.raises(PeerError, match="in the middle of its TLS handshake"):
                await peer.recv("conn", 1, timeout=1, digest=False)
            assert not (await upgrading).ok
            client.close()

    run(scenario())
