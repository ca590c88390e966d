"""Every mutant is a real, observable bug: a scenario tells it apart from the reference.

Each scenario drives the adapter through the protocol and returns one
observation. The test checks the reference's observation against the
catalogue, and that the mutant's observation differs, so the spec has
something to catch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from conformance.adapters.reference import MUTANTS, ReferenceAdapter, errors

from .support import Client, Conn, Peer, data, peer, refused_port, run

Scenario = Callable[[Client, Peer, int], Awaitable[Any]]
SCENARIOS: dict[str, tuple[Scenario, Any]] = {}

REQUIRED = {
    "allow-half-open-ignored",
    "default-allow-half-open-true",
    "missing-port-defaults-443",
    "secure-transport-not-validated",
    "close-without-flush",
    "opened-before-connection",
    "remote-address-as-ip",
    "writes-after-close-accepted",
    "peer-eof-never-done",
    "invalid-port-accepted",
    "opened-not-marked-handled",
    "close-rejects-on-failure",
    "reset-as-eof",
    "writer-close-no-fin",
    "validation-order-swapped",
}


def scenario(mutant: str, reference_sees: Any) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[mutant] = (function, reference_sees)
        return function

    return register


async def status(client: Client, op: str, **arguments: Any) -> str:
    reply = await client.op(op, **arguments)
    return str(reply["status"])


@scenario("allow-half-open-ignored", "pending")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address, {"allowHalfOpen": True})
    conn = await listener.accept()
    conn.shutdown_write()
    await client.op("read", socket=s, timeout_ms=2000)
    return await status(client, "await", socket=s, promise="closed", timeout_ms=300)


@scenario("default-allow-half-open-true", "resolved")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    conn.shutdown_write()
    await client.op("read", socket=s, timeout_ms=2000)
    return await status(client, "await", socket=s, promise="closed", timeout_ms=1000)


@scenario("missing-port-defaults-443", "threw")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    return await status(client, "connect", address="127.0.0.1")


@scenario("secure-transport-not-validated", "threw")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    return await status(client, "connect", address=listener.address, options={"secureTransport": "tls"})


@scenario("close-without-flush", 16 * 1024 * 1024)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    size = 16 * 1024 * 1024
    await client.op("write", socket=s, timeout_ms=0, data={"$type": "pattern", "seed": "eA==", "size": size})
    await client.op("close", socket=s, timeout_ms=0)
    conn = await listener.accept()
    received = 0
    try:
        while chunk := await asyncio.wait_for(conn.reader.read(1 << 20), 5):
            received += len(chunk)
    except ConnectionError:
        pass
    return received


@scenario("opened-before-connection", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(f"127.0.0.1:{refused}")
    return await status(client, "await", socket=s, promise="opened", timeout_ms=2000)


@scenario("remote-address-as-ip", "localhost")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(f"localhost:{listener.port}")
    reply = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
    return reply["value"]["remoteAddress"].split(":")[0]


@scenario("writes-after-close-accepted", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    await client.op("close", socket=s, timeout_ms=2000)
    return await status(client, "write", socket=s, data=data(b"x"), timeout_ms=2000)


@scenario("peer-eof-never-done", {"done": True})
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    conn.shutdown_write()
    reply = await client.op("read", socket=s, timeout_ms=500)
    return reply.get("value", reply["status"])


@scenario("invalid-port-accepted", "threw")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    return await status(client, "connect", address={"hostname": "127.0.0.1", "port": 70000})


@scenario("opened-not-marked-handled", [])
async def _(client: Client, listener: Peer, refused: int) -> Any:
    await client.connect(f"127.0.0.1:{refused}")
    await asyncio.sleep(0.2)
    return (await client.end())["unhandled_rejections"]


@scenario("close-rejects-on-failure", "resolved")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(f"127.0.0.1:{refused}")
    await client.op("await", socket=s, promise="closed", timeout_ms=2000)
    return await status(client, "close", socket=s, timeout_ms=2000)


@scenario("reset-as-eof", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    await client.op("await", socket=s, promise="opened", timeout_ms=2000)
    conn.reset()
    return await status(client, "read", socket=s, timeout_ms=2000)


@scenario("writer-close-no-fin", "eof")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    await client.op("close_writer", socket=s, timeout_ms=2000)
    try:
        return "eof" if await conn.recv_until_eof(timeout=0.5) == b"" else "data"
    except TimeoutError:
        return "silence"


@scenario("validation-order-swapped", errors.ADDRESS_MISSING_PORT)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    reply = await client.op("connect", address="nope", options={"secureTransport": "tls"})
    return reply["error"]["message"]


@scenario("host-check-skipped", "threw")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    return await status(client, "connect", address=f"{listener.address}/path")


@scenario("connect-error-is-type-error", "Error")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(f"127.0.0.1:{refused}")
    return (await client.op("await", socket=s, promise="opened", timeout_ms=2000))["error"]["name"]


@scenario("closed-resolves-on-failure", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(f"127.0.0.1:{refused}")
    return await status(client, "await", socket=s, promise="closed", timeout_ms=2000)


@scenario("opened-has-local-address", ["remoteAddress"])
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    return sorted((await client.op("await", socket=s, promise="opened", timeout_ms=2000))["value"])


@scenario("http-port-hint-missing", errors.CONNECT_FAILED + errors.HTTP_PORT_HINT)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect("nowhere.invalid:443")
    return (await client.op("await", socket=s, promise="opened", timeout_ms=2000))["error"]["message"]


@scenario("eof-closes-without-read", "pending")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    conn.shutdown_write()
    return await status(client, "await", socket=s, promise="closed", timeout_ms=300)


@scenario("string-chunks-rejected", "resolved")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    return await status(client, "write", socket=s, data="text", timeout_ms=2000)


@scenario("reads-after-close-done", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    await client.op("close", socket=s, timeout_ms=2000)
    return await status(client, "read", socket=s, timeout_ms=2000)


@scenario("reader-lock-not-enforced", "threw")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    await client.op("get_reader", socket=s)
    return await status(client, "get_reader", socket=s)


@scenario("start-tls-checks-reordered", errors.STARTTLS_AFTER_CLOSE)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    await client.op("close", socket=s, timeout_ms=2000)
    return (await client.op("start_tls", socket=s))["error"]["message"]


@scenario("read-chunks-not-uint8array", "Uint8Array")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    await conn.send(b"x")
    return (await client.op("read", socket=s, timeout_ms=2000))["value"]["value"]["view"]


@scenario("high-water-mark-ignored", [16, 16 - 16 * 1024 * 1024])
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address, {"highWaterMark": 16})
    await listener.accept()  # and never read: the write below stays queued
    before = (await client.op("desired_size", socket=s))["value"]
    big = {"$type": "pattern", "seed": "eA==", "size": 16 * 1024 * 1024}
    await client.op("write", socket=s, timeout_ms=0, data=big)
    return [before, (await client.op("desired_size", socket=s))["value"]]


@scenario("high-water-mark-range-inclusive", "threw")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    return await status(client, "connect", address=listener.address, options={"highWaterMark": 2.0**64})


@scenario("missing-address-stringified", errors.ADDRESS_REQUIRED)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    return (await client.op("connect", address=None))["error"]["message"]


@scenario("infinite-port-out-of-range", errors.PORT_NOT_INTEGER)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    port = {"$type": "number", "value": "Infinity"}
    return (await client.op("connect", address={"hostname": "127.0.0.1", "port": port}))["error"]["message"]


@scenario("url-object-stringified", "127.0.0.1")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    reply = await client.op("connect", address={"$type": "url", "href": f"http://{listener.address}/"})
    if reply["status"] != "returned":
        return reply["status"]
    opened = await client.op("await", socket=reply["value"]["socket"], promise="opened", timeout_ms=2000)
    return opened["value"]["remoteAddress"].split(":")[0]


@scenario("close-closes-all-sockets", "pending")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    a = await client.connect(listener.address)
    await listener.accept()
    b = await client.connect(listener.address)
    await listener.accept()
    await client.op("close", socket=a, timeout_ms=2000)
    return await status(client, "await", socket=b, promise="closed", timeout_ms=200)


@scenario("http-hint-string-form-only", True)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect({"hostname": "", "port": 80})
    reply = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
    return reply["error"]["message"].endswith(errors.HTTP_PORT_HINT)


@scenario("port-65535-rejected", "returned")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    return await status(client, "connect", address={"hostname": "127.0.0.1", "port": 65535})


@scenario("host-length-excludes-port", "threw")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    hostname = "a" * 250 + ".b"  # 252 characters, and ":9999" makes 257
    return await status(client, "connect", address={"hostname": hostname, "port": 9999})


@scenario("cancel-reader-closes-socket", ["pending", "resolved"])
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    await listener.accept()
    await client.op("cancel_reader", socket=s, timeout_ms=2000)
    closed = await status(client, "await", socket=s, promise="closed", timeout_ms=200)
    return [closed, await status(client, "write", socket=s, data=data(b"x"), timeout_ms=2000)]


@scenario("read-after-done-rejects", ["resolved", "resolved"])
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address, {"allowHalfOpen": True})
    conn = await listener.accept()
    conn.shutdown_write()
    await client.op("read", socket=s, timeout_ms=2000)
    return [await status(client, "read", socket=s, timeout_ms=2000) for _ in range(2)]


@scenario("flush-drops-queued-writes", ["resolved", 16 * 1024 * 1024 + 2])
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    big = {"$type": "pattern", "seed": "YWI=", "size": 16 * 1024 * 1024}
    await client.op("write", socket=s, timeout_ms=0, data=big)
    behind = await client.op("write", socket=s, timeout_ms=0, data=data(b"ab"))
    await client.op("close", socket=s, timeout_ms=0)
    received = len(await conn.recv_until_eof(timeout=10))
    return [await status(client, "await", promise=behind["promise"], timeout_ms=2000), received]


@scenario("large-write-truncated", 32 * 1024 * 1024)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    big = {"$type": "pattern", "seed": "eA==", "size": 32 * 1024 * 1024}
    # The peer reads while the write runs: 32 MiB do not fit in the socket buffers, so a peer that
    # read only afterwards left the write waiting out its timeout (10 s for each of the two runs).
    received = asyncio.ensure_future(conn.recv_until_eof(timeout=15))
    await client.op("write", socket=s, timeout_ms=10000, data=big)
    await client.op("close_writer", socket=s, timeout_ms=2000)
    return len(await received)


@scenario("close-after-eof-rejects-closed", "resolved")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    conn.shutdown_write()
    await client.op("read", socket=s, timeout_ms=2000)
    await client.op("close", socket=s, timeout_ms=2000)
    return await status(client, "await", socket=s, promise="closed", timeout_ms=2000)


@scenario("remote-address-lowercased", "LOCALHOST")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(f"LOCALHOST:{listener.port}")
    reply = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
    return reply["value"]["remoteAddress"].split(":")[0]


@scenario("port-25-allowed-with-tls", errors.PORT_25_PROHIBITED)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    # Nothing listens on port 25 here: the reference refuses before dialling, the mutant dials and fails.
    s = await client.connect("127.0.0.1:25", {"secureTransport": "starttls"})
    return (await client.op("await", socket=s, promise="opened", timeout_ms=2000))["error"]["message"]


async def _open_many(client: Client, address: str, count: int) -> list[str]:
    return [await client.connect(address) for _ in range(count)]


@scenario("connection-limit-off-by-one", "pending")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    sockets = await _open_many(client, listener.address, 7)
    return await status(client, "await", socket=sockets[-1], promise="opened", timeout_ms=300)


@scenario("connection-limit-rejects", "pending")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    sockets = await _open_many(client, listener.address, 8)
    return await status(client, "await", socket=sockets[-1], promise="opened", timeout_ms=300)


@scenario("failed-connection-keeps-slot", "resolved")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    failed = await _open_many(client, f"127.0.0.1:{refused}", 6)
    for handle in failed:
        await client.op("await", socket=handle, promise="opened", timeout_ms=2000)
    good = await client.connect(listener.address)
    return await status(client, "await", socket=good, promise="opened", timeout_ms=1000)


async def _arrivals(listener: Peer, first: float = 10.0, then: float = 1.0) -> list[Conn]:
    """The connections that reach the peer: the first within ``first`` seconds (a busy machine is
    slow to start), each next within ``then`` of the one before (they were all dialled at once)."""
    arrived = []
    with contextlib.suppress(TimeoutError):
        while True:
            arrived.append(await listener.accept(timeout=then if arrived else first))
    return arrived


@scenario("connecting-sockets-not-counted", 6)
async def _(client: Client, listener: Peer, refused: int) -> Any:
    await _open_many(client, listener.address, 7)  # nothing awaited: all seven are still connecting
    return len(await _arrivals(listener))


@scenario("reset-keeps-slot", "resolved")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    await _open_many(client, listener.address, 6)
    first, *_ = await _arrivals(listener)
    waiting = await client.connect(listener.address)
    first.reset()
    return await status(client, "await", socket=waiting, promise="opened", timeout_ms=1000)


@scenario("connection-limit-last-in-first-out", "resolved")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    opened = await _open_many(client, listener.address, 6)
    seventh, _eighth = await _open_many(client, listener.address, 2)
    await client.op("close", socket=opened[0], timeout_ms=2000)
    return await status(client, "await", socket=seventh, promise="opened", timeout_ms=1000)


@scenario("abort-leaves-queued-writes-pending", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    await _open_many(client, listener.address, 6)
    waiting = await client.connect(listener.address)  # the seventh: its writes wait for a slot
    writes = [await client.op("write", socket=waiting, data=data(b"%d" % index), timeout_ms=0) for index in range(3)]
    await client.op("abort_writer", socket=waiting, reason="stop", timeout_ms=1000)
    return await status(client, "await", promise=writes[-1]["promise"], timeout_ms=500)


@scenario("early-writes-beyond-eight-dropped", b"w00;w01;w02;w03;w04;w05;w06;w07;w08;w09;")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    opened = await _open_many(client, listener.address, 6)
    await _arrivals(listener)
    waiting = await client.connect(listener.address)
    for index in range(10):
        await client.op("write", socket=waiting, data=data(b"w%02d;" % index), timeout_ms=0)
    await client.op("close", socket=opened[0], timeout_ms=2000)
    seventh = await listener.accept()
    await client.op("close", socket=waiting, timeout_ms=2000)
    return await seventh.recv_until_eof()


@scenario("leading-zero-port-octal", "resolved")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    # A fixed port whose digits are all octal, on a loopback address of its own (all of 127.0.0.0/8
    # is local on Linux): "04321" is port 4321, the mutant dials 2257, where nothing listens.
    server = await asyncio.start_server(lambda reader, writer: writer.close(), "127.77.43.21", 4321)
    try:
        s = await client.connect("127.77.43.21:04321")
        return await status(client, "await", socket=s, promise="opened", timeout_ms=1000)
    finally:
        server.close()
        await server.wait_closed()


@scenario("global-scope-connect-allowed", "threw")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    return await status(client, "connect", address=listener.address, request="global")


@scenario("global-scope-checked-after-arguments", "Error")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    reply = await client.op("connect", address="127.0.0.1", request="global")
    return reply["error"]["name"]


@scenario("cross-request-write-allowed", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    await client.op("await", socket=s, promise="opened", timeout_ms=2000)
    return await status(client, "write", socket=s, data=data(b"x"), request="b", timeout_ms=1000)


@scenario("cross-request-read-allowed", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    conn = await listener.accept()
    await conn.send(b"hi")
    return await status(client, "read", socket=s, request="b", timeout_ms=1000)


@scenario("cross-request-close-allowed", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    s = await client.connect(listener.address)
    await client.op("await", socket=s, promise="opened", timeout_ms=2000)
    await client.op("close", socket=s, request="b", timeout_ms=1000)
    return await status(client, "await", socket=s, promise="closed", timeout_ms=1000)


@scenario("connection-limit-shared-across-requests", "resolved")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    await _open_many(client, listener.address, 6)
    other = (await client.op("connect", address=listener.address, request="b"))["value"]["socket"]
    return await status(client, "await", socket=other, promise="opened", request="b", timeout_ms=1000)


@scenario("outbound-worker-bypassed", "rejected")
async def _(client: Client, listener: Peer, refused: int) -> Any:
    await client.op("begin", case="outbound", environment="outbound-worker")
    s = await client.connect(listener.address)
    return await status(client, "await", socket=s, promise="opened", timeout_ms=1000)


async def observe(mutant: str | None, function: Scenario) -> Any:
    with refused_port() as refused:
        async with peer() as listener:
            client = Client(mutant)
            try:
                return await function(client, listener, refused)
            finally:
                tasks = client.adapter.session.tasks
                await client.adapter.aclose()
                assert tasks.crashes == []


@pytest.mark.parametrize("mutant", sorted(SCENARIOS))
def test_the_mutant_is_observably_different(mutant: str) -> None:
    function, reference_sees = SCENARIOS[mutant]
    assert run(observe(None, function)) == reference_sees
    assert run(observe(mutant, function)) != reference_sees


#: Mutants whose bug shows only where a Cloudflare address can be dialled: inside the network
#: sandbox. tests/integration/test_policy.py shows each is caught there.
SANDBOX_ONLY = {
    "cloudflare-v6-not-blocked",
    "mapped-ipv6-not-blocked",
    "cloudflare-names-not-blocked",
    "block-after-dial",
    "cloudflare-ranges-as-16",
    "cloudflare-first-block-only",
    "cloudflare-range-end-inclusive",
    "legacy-ipv4-spellings-not-blocked",
    "ipv6-spellings-not-normalised",
    "first-resolved-address-only",
}


def test_every_mutant_has_a_scenario_and_the_required_ones_exist() -> None:
    from .test_tls_mutants import TLS_SCENARIOS  # the TLS mutants need a TLS server and the CA

    assert not set(SCENARIOS) & set(TLS_SCENARIOS)
    assert not (set(SCENARIOS) | set(TLS_SCENARIOS)) & SANDBOX_ONLY
    assert set(SCENARIOS) | set(TLS_SCENARIOS) | SANDBOX_ONLY == set(MUTANTS)
    assert set(MUTANTS) >= REQUIRED
    assert len(MUTANTS) >= 14
    assert all(description and "\n" not in description for description in MUTANTS.values())


def test_a_mutant_names_itself_in_hello() -> None:
    async def hello() -> Any:
        return await Client("reset-as-eof").op("hello", protocol=1)

    assert run(hello())["value"]["name"] == "reference+reset-as-eof"


def test_unknown_mutants_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown mutant"):
        ReferenceAdapter(mutant="no-such-bug")
