"""Every TLS mutant is a real, observable bug: a scenario against a loopback TLS server tells it apart.

The same contract as ``test_mutants.py`` (whose coverage check includes these
scenarios): the reference's observation matches the catalogue, the mutant's differs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conformance_peer import CertificateName

from conformance.core.certificates import RunCertificates

from .support import Client, Peer, peer, run
from .tls_support import ServerTls, server_context

TlsScenario = Callable[[Client, Peer, RunCertificates], Awaitable[Any]]
TLS_SCENARIOS: dict[str, tuple[TlsScenario, Any]] = {}


def scenario(mutant: str, reference_sees: Any) -> Callable[[TlsScenario], TlsScenario]:
    def register(function: TlsScenario) -> TlsScenario:
        TLS_SCENARIOS[mutant] = (function, reference_sees)
        return function

    return register


async def status(client: Client, op: str, **arguments: Any) -> str:
    return str((await client.op(op, **arguments))["status"])


async def connect_on(
    client: Client, listener: Peer, certs: RunCertificates, host: str, name: CertificateName
) -> tuple[str, ServerTls]:
    s = await client.connect(f"{host}:{listener.port}", {"secureTransport": "on"})
    server = ServerTls(await listener.accept(), server_context(certs, name))
    await server.handshake()
    return s, server


async def start_tls(
    client: Client,
    listener: Peer,
    certs: RunCertificates,
    name: CertificateName,
    options: dict[str, Any] | None = None,
    host: str = "localhost",
) -> tuple[str, str, ServerTls]:
    """A starttls socket upgraded at once (no plaintext exchange); the server shakes hands."""
    s1 = await client.connect(f"{host}:{listener.port}", {"secureTransport": "starttls"})
    conn = await listener.accept()
    reply = await client.op("start_tls", socket=s1, **({} if options is None else {"options": options}))
    s2 = reply["value"]["socket"]
    server = ServerTls(conn, server_context(certs, name))
    await server.handshake()
    return s1, s2, server


@scenario("start-tls-no-verify", "rejected")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    _, s2, _ = await start_tls(client, listener, certs, "untrusted")
    return await status(client, "await", socket=s2, promise="opened", timeout_ms=2000)


@scenario("opened-before-handshake", "rejected")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s, _ = await connect_on(client, listener, certs, "localhost", "untrusted")
    return await status(client, "await", socket=s, promise="opened", timeout_ms=2000)


@scenario("start-tls-twice-allowed", "threw")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s1 = await client.connect(listener.address, {"secureTransport": "starttls"})
    await client.op("start_tls", socket=s1)
    return await status(client, "start_tls", socket=s1)


@scenario("start-tls-on-off-allowed", "threw")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s1 = await client.connect(listener.address)
    return await status(client, "start_tls", socket=s1)


@scenario("sni-not-sent", "localhost")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s, server = await connect_on(client, listener, certs, "localhost", "good")
    await client.op("await", socket=s, promise="opened", timeout_ms=2000)
    return server.sni


@scenario("tls-hostname-not-checked", "rejected")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s, _ = await connect_on(client, listener, certs, "localhost", "wrong-host")
    return await status(client, "await", socket=s, promise="opened", timeout_ms=2000)


@scenario("old-socket-not-upgraded", [True, "resolved"])
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s1, s2, _ = await start_tls(client, listener, certs, "good")
    await client.op("await", socket=s2, promise="opened", timeout_ms=2000)
    upgraded = (await client.op("get", socket=s1, property="upgraded"))["value"]
    return [upgraded, await status(client, "await", socket=s1, promise="closed", timeout_ms=300)]


@scenario("start-tls-error-is-proxy-error", "internal error")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    _, s2, _ = await start_tls(client, listener, certs, "untrusted")
    reply = await client.op("await", socket=s2, promise="opened", timeout_ms=2000)
    return reply["error"]["message"].partition(";")[0]


@scenario("expected-server-hostname-ignored", "resolved")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    options = {"expectedServerHostname": "wrong-host.invalid"}
    _, s2, _ = await start_tls(client, listener, certs, "wrong-host", options, host="127.0.0.1")
    return await status(client, "await", socket=s2, promise="opened", timeout_ms=2000)


@scenario("ready-waits-for-opened", "resolved")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s = await client.connect(f"localhost:{listener.port}", {"secureTransport": "on"})
    await listener.accept()  # and never shake hands: opened stays pending
    return await status(client, "ready", socket=s, timeout_ms=300)


@scenario("new-socket-upgraded-true", False)
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    _, s2, _ = await start_tls(client, listener, certs, "good")
    return (await client.op("get", socket=s2, property="upgraded"))["value"]


@scenario("start-tls-options-not-inherited", 16)
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s1 = await client.connect(f"localhost:{listener.port}", {"secureTransport": "starttls", "highWaterMark": 16})
    conn = await listener.accept()
    s2 = (await client.op("start_tls", socket=s1))["value"]["socket"]
    await ServerTls(conn, server_context(certs, "good")).handshake()
    await client.op("await", socket=s2, promise="opened", timeout_ms=2000)
    return (await client.op("desired_size", socket=s2))["value"]


@scenario("start-tls-before-opened-throws", "returned")
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s1 = await client.connect(f"localhost:{listener.port}", {"secureTransport": "starttls"})
    return await status(client, "start_tls", socket=s1)  # at once, before opened settled


@scenario("upgraded-set-after-handshake", [True, "pending"])
async def _(client: Client, listener: Peer, certs: RunCertificates) -> Any:
    s1 = await client.connect(f"localhost:{listener.port}", {"secureTransport": "starttls"})
    await listener.accept()  # the server never shakes hands
    s2 = (await client.op("start_tls", socket=s1))["value"]["socket"]
    await client.op("await", socket=s1, promise="closed", timeout_ms=2000)
    upgraded = (await client.op("get", socket=s1, property="upgraded"))["value"]
    return [upgraded, await status(client, "await", socket=s2, promise="opened", timeout_ms=200)]


async def observe(mutant: str | None, function: TlsScenario, certs: RunCertificates) -> Any:
    async with peer() as listener:
        client = Client(mutant, ca_pem=certs.ca_pem)
        try:
            return await function(client, listener, certs)
        finally:
            tasks = client.adapter.session.tasks
            await client.adapter.aclose()
            assert tasks.crashes == []


@pytest.mark.parametrize("mutant", sorted(TLS_SCENARIOS))
def test_the_tls_mutant_is_observably_different(certs: RunCertificates, mutant: str) -> None:
    function, reference_sees = TLS_SCENARIOS[mutant]
    assert run(observe(None, function, certs)) == reference_sees
    assert run(observe(mutant, function, certs)) != reference_sees


def test_sni_not_sent_still_checks_the_name(certs: RunCertificates) -> None:
    """The mutant drops only the SNI: a wrong-host certificate still fails, as in the reference."""

    async def scenario() -> Any:
        async with peer() as listener:
            client = Client("sni-not-sent", ca_pem=certs.ca_pem)
            s, _ = await connect_on(client, listener, certs, "localhost", "wrong-host")
            reply = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            await client.adapter.aclose()
            return reply["status"]

    assert run(scenario()) == "rejected"
