"""The reference adapter end to end: protocol messages in, a real loopback peer on the other side."""

from __future__ import annotations

import asyncio
import hashlib
import time

from conformance.adapters.reference import errors

from .support import Client, data, echo_server, peer, refused_port, run

SEED = "YWJj"  # base64 of "abc"
CONNECT_FAILED = {"name": "Error", "message": errors.CONNECT_FAILED}


def test_hello_without_a_ca_declares_no_tls() -> None:
    async def scenario() -> None:
        client = Client()
        reply = await client.op("hello", protocol=1)
        value = reply["value"]
        assert value["name"] == "reference"
        assert value["protocol"] == 1
        assert value["runtime"].startswith("CPython 3.")
        assert "unhandled-rejections" in value["capabilities"]
        assert not {"tls", "starttls"} & set(value["capabilities"])

    run(scenario())


def test_echo_round_trip_and_half_close() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            await client.op("begin", case="echo")
            s = await client.connect(listener.address)
            opened = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            assert opened == {"seq": opened["seq"], "status": "resolved", "value": {"remoteAddress": listener.address}}
            conn = await listener.accept()
            written = await client.op("write", socket=s, data=data(b"hello"), timeout_ms=2000)
            assert written["status"] == "resolved"
            assert await conn.recv_exactly(5) == b"hello"
            await conn.send(b"world")
            got = await client.op("read_bytes", socket=s, n=5, digest=False, timeout_ms=2000)
            assert got["value"] == {"length": 5, "done": False, "chunks": 1, "data": data(b"world")}
            fin = await client.op("close_writer", socket=s, timeout_ms=2000)
            assert fin["status"] == "resolved"
            assert await conn.recv_until_eof() == b""  # B29: FIN, and nothing more
            await conn.send(b"bye")  # the read side still works after our FIN
            conn.shutdown_write()
            last = await client.op("read", socket=s, timeout_ms=2000)
            assert last["value"] == {"done": False, "value": data(b"bye")}
            done = await client.op("read", socket=s, timeout_ms=2000)
            assert done["value"] == {"done": True}
            # B32: the writable was closed before EOF, so closed waits for close().
            closed = await client.op("await", socket=s, promise="closed", timeout_ms=200)
            assert closed["status"] == "pending"
            assert (await client.op("close", socket=s, timeout_ms=2000))["status"] == "resolved"
            closed = await client.op("await", promise=closed["promise"], timeout_ms=2000)
            assert closed["status"] == "resolved"
            report = await client.end()
            assert report == {"open_sockets": 0, "unhandled_rejections": []}

    run(scenario())


def test_refused_connection_rejects_opened_and_closed_with_b18() -> None:
    async def scenario() -> None:
        with refused_port() as port:
            client = Client()
            s = await client.connect(f"127.0.0.1:{port}")
            opened = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            assert (opened["status"], opened["error"]) == ("rejected", CONNECT_FAILED)
            closed = await client.op("await", socket=s, promise="closed", timeout_ms=2000)
            assert (closed["status"], closed["error"]) == ("rejected", CONNECT_FAILED)
            write = await client.op("write", socket=s, data=data(b"x"), timeout_ms=2000)
            assert write["status"] == "rejected"  # B19
            assert write["error"]["message"].endswith(errors.CONNECT_FAILED)
            read = await client.op("read", socket=s, timeout_ms=2000)
            assert read["value"] == {"done": True}
            close = await client.op("close", socket=s, timeout_ms=2000)
            assert close["status"] == "resolved"  # B37
            assert await client.end() == {"open_sockets": 0, "unhandled_rejections": []}

    run(scenario())


def test_unawaited_failed_socket_leaves_no_unhandled_rejection() -> None:
    async def scenario() -> None:
        with refused_port() as port:
            client = Client()
            await client.connect(f"127.0.0.1:{port}")
            await asyncio.sleep(0.2)
            report = await client.end()
            assert report["unhandled_rejections"] == []  # B22

    run(scenario())


def test_b18_suffix_for_ports_80_and_443_and_invalid_names_fail_fast() -> None:
    async def scenario() -> None:
        client = Client()
        started = time.monotonic()
        for address in ("nowhere.invalid:443", {"hostname": "nowhere.invalid", "port": 80}, "nowhere.invalid:8080"):
            s = await client.connect(address)
            opened = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            assert opened["error"]["name"] == "Error"
            hinted = opened["error"]["message"] == errors.CONNECT_FAILED + errors.HTTP_PORT_HINT
            assert hinted is (address != "nowhere.invalid:8080")
        assert time.monotonic() - started < 1.0
        await client.end()

    run(scenario())


def test_writes_before_opened_are_queued() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address)
            early = await client.op("write", socket=s, data="early ", timeout_ms=0)
            assert early["status"] in ("pending", "resolved")
            await client.op("write", socket=s, data=data(b"bird"), timeout_ms=2000)
            conn = await listener.accept()
            assert await conn.recv_exactly(10) == b"early bird"
            await client.end()

    run(scenario())


def test_b31_peer_eof_read_to_done_closes_our_side() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address, {"allowHalfOpen": False})
            await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            conn = await listener.accept()
            await conn.send(b"hi")
            conn.shutdown_write()
            # Nothing closes before the app reads to done.
            pending = await client.op("await", socket=s, promise="closed", timeout_ms=200)
            assert pending["status"] == "pending"
            got = await client.op("read_bytes", socket=s, n=None, digest=False, timeout_ms=2000)
            assert got["value"] == {"length": 2, "done": True, "chunks": 1, "data": data(b"hi")}
            assert await conn.recv_until_eof() == b""
            closed = await client.op("await", promise=pending["promise"], timeout_ms=2000)
            assert closed["status"] == "resolved"
            assert await client.end() == {"open_sockets": 0, "unhandled_rejections": []}

    run(scenario())


def test_b33_allow_half_open_keeps_the_writable() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address, {"allowHalfOpen": True})
            conn = await listener.accept()
            conn.shutdown_write()
            done = await client.op("read", socket=s, timeout_ms=2000)
            assert done["value"] == {"done": True}
            closed = await client.op("await", socket=s, promise="closed", timeout_ms=200)
            assert closed["status"] == "pending"
            await client.op("write", socket=s, data=data(b"still here"), timeout_ms=2000)
            await client.op("close_writer", socket=s, timeout_ms=2000)
            assert await conn.recv_until_eof() == b"still here"
            closed = await client.op("await", socket=s, promise="closed", timeout_ms=200)
            assert closed["status"] == "pending"
            report = await client.end()
            assert report["open_sockets"] == 1

    run(scenario())


def test_b21_peer_reset_is_network_connection_lost() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address)
            conn = await listener.accept()
            await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            conn.reset()
            read = await client.op("read", socket=s, timeout_ms=2000)
            assert (read["status"], read["error"]) == ("rejected", {"name": "Error", "message": errors.CONNECTION_LOST})
            closed = await client.op("await", socket=s, promise="closed", timeout_ms=2000)
            assert closed["status"] == "resolved"  # B34
            await client.end()

    run(scenario())


def test_close_steps_b30_b35_b36_b38() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address)
            conn = await listener.accept()
            waiting = await client.op("read", socket=s, timeout_ms=50)
            assert waiting["status"] == "pending"
            first = await client.op("close", socket=s, timeout_ms=2000)
            assert first["status"] == "resolved"
            in_flight = await client.op("await", promise=waiting["promise"], timeout_ms=2000)
            assert in_flight["error"] == {"name": "TypeError", "message": errors.SOCKET_CLOSED}
            read = await client.op("read", socket=s, timeout_ms=2000)
            assert read["error"] == {"name": "TypeError", "message": errors.READABLE_CLOSING}
            write = await client.op("write", socket=s, data=data(b"x"), timeout_ms=2000)
            assert write["error"] == {"name": "TypeError", "message": errors.WRITABLE_CLOSING}
            second = await client.op("close", socket=s, timeout_ms=2000)
            assert second["status"] == "resolved"
            assert await conn.recv_until_eof() == b""
            await client.end()

    run(scenario())


def test_close_flushes_queued_writes_first() -> None:
    async def scenario() -> None:
        payload_size = 4 * 1024 * 1024
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address)
            big = {"$type": "pattern", "seed": SEED, "size": payload_size}
            write = await client.op("write", socket=s, data=big, timeout_ms=0)
            close = await client.op("close", socket=s, timeout_ms=0)
            assert close["status"] == "pending"
            conn = await listener.accept()
            received = await conn.recv_until_eof()
            assert received == (b"abc" * payload_size)[:payload_size]
            assert (await client.op("await", promise=close["promise"], timeout_ms=2000))["status"] == "resolved"
            if write["status"] == "pending":
                done = await client.op("await", promise=write["promise"], timeout_ms=2000)
                assert done["status"] == "resolved"
            await client.end()

    run(scenario())


def test_pending_handles_stay_awaitable() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address)
            conn = await listener.accept()
            read = await client.op("read", socket=s, timeout_ms=20)
            assert read["status"] == "pending"
            again = await client.op("await", promise=read["promise"], timeout_ms=20)
            assert again == {"seq": again["seq"], "status": "pending", "promise": read["promise"]}
            await conn.send(b"late")
            got = await client.op("await", promise=read["promise"], timeout_ms=2000)
            assert got["value"] == {"done": False, "value": data(b"late")}
            await client.end()

    run(scenario())


def test_large_transfer_with_digest() -> None:
    async def scenario() -> None:
        size = 8 * 1024 * 1024
        async with echo_server() as port:
            client = Client()
            s = await client.connect(f"127.0.0.1:{port}")
            write = await client.op(
                "write", socket=s, timeout_ms=0, data={"$type": "pattern", "seed": SEED, "size": size}
            )
            await client.op("close_writer", socket=s, timeout_ms=0)
            got = await client.op("read_bytes", socket=s, n=None, digest=True, timeout_ms=10000)
            expected = hashlib.sha256((b"abc" * size)[:size]).hexdigest()
            assert got["value"]["sha256"] == expected
            assert got["value"]["length"] == size
            assert got["value"]["done"] is True
            assert "data" not in got["value"]
            if write["status"] == "pending":
                assert (await client.op("await", promise=write["promise"], timeout_ms=2000))["status"] == "resolved"
            # B32: our FIN went first, so reading to done does not settle closed.
            assert await client.end() == {"open_sockets": 1, "unhandled_rejections": []}

    run(scenario())


def test_localhost_resolves_and_reports_the_name() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            address = f"localhost:{listener.port}"
            s = await client.connect(address)
            opened = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            assert opened["value"] == {"remoteAddress": address}
            await client.end()

    run(scenario())


def test_secure_transport_on_without_a_ca_fails_like_b18_without_dialling() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address, {"secureTransport": "on"})
            opened = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            assert opened["error"] == CONNECT_FAILED
            assert listener.connections.empty()
            await client.end()

    run(scenario())


def test_get_properties() -> None:
    async def scenario() -> None:
        client = Client()
        s = await client.connect("nowhere.invalid:1", {"secureTransport": "starttls"})
        replies = {
            prop: await client.op("get", socket=s, property=prop)
            for prop in ("secureTransport", "upgraded", "readable_identity", "opened", "closed", "sni")
        }
        assert (replies["secureTransport"]["value"], replies["secureTransport"]["typeof"]) == ("starttls", "string")
        assert (replies["upgraded"]["value"], replies["upgraded"]["typeof"]) == (False, "boolean")
        assert replies["readable_identity"]["value"] is True
        # A promise is reported by its type only, as interpreter.js does (docs/adapter-protocol.md, get).
        for prop in ("opened", "closed"):
            assert (replies[prop]["status"], replies[prop]["typeof"], "value" in replies[prop]) == (
                "returned",
                "object",
                False,
            )
        assert replies["sni"]["status"] == "unsupported"
        await client.end()

    run(scenario())


def test_b39_start_tls_preconditions() -> None:
    async def scenario() -> None:
        client = Client()
        off = await client.connect("nowhere.invalid:1")
        tls = await client.connect("nowhere.invalid:1", {"secureTransport": "on"})
        starttls = await client.connect("nowhere.invalid:1", {"secureTransport": "starttls"})
        reply = await client.op("start_tls", socket=off)
        assert reply["error"] == {"name": "TypeError", "message": errors.STARTTLS_WRONG_OPTION}
        reply = await client.op("start_tls", socket=tls)
        assert reply["error"] == {"name": "TypeError", "message": errors.STARTTLS_ON_TLS_SOCKET}
        assert (await client.op("start_tls", socket=starttls))["status"] == "unsupported"
        await client.op("close", socket=off, timeout_ms=2000)
        reply = await client.op("start_tls", socket=off)
        # close() after a failed connect had no connection to drop: (2) passes and (3) answers, as
        # in workerd (the spec's starttls cases check (2) on a socket that was connected).
        assert reply["error"] == {"name": "TypeError", "message": errors.STARTTLS_WRONG_OPTION}
        await client.end()

    run(scenario())


def test_locks_through_the_protocol() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address)
            assert (await client.op("get_reader", socket=s))["status"] == "returned"
            locked = await client.op("get_reader", socket=s)
            assert locked["error"] == {"name": "TypeError", "message": errors.READABLE_LOCKED}
            assert (await client.op("release_lock", socket=s, stream="readable"))["status"] == "returned"
            assert (await client.op("get_reader", socket=s))["status"] == "returned"
            await client.op("write", socket=s, data=data(b"w"), timeout_ms=2000)
            locked = await client.op("get_writer", socket=s)
            assert locked["error"] == {"name": "TypeError", "message": errors.WRITABLE_LOCKED}
            await client.op("release_lock", socket=s, stream="writable")
            assert (await client.op("get_writer", socket=s))["status"] == "returned"
            await client.end()

    run(scenario())


def test_cancel_reader_and_abort_writer() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address)
            await listener.accept()
            cancel = await client.op("cancel_reader", socket=s, reason="enough", timeout_ms=2000)
            assert cancel["status"] == "resolved"
            assert (await client.op("read", socket=s, timeout_ms=2000))["value"] == {"done": True}
            abort = await client.op("abort_writer", socket=s, reason={"why": 1}, timeout_ms=2000)
            assert abort["status"] == "resolved"
            write = await client.op("write", socket=s, data=data(b"x"), timeout_ms=2000)
            # B56: after abort(), writes reject as on a closed stream, not with the abort reason.
            assert write["error"] == {"name": "TypeError", "message": "This WritableStream has been closed."}
            closed = await client.op("await", socket=s, promise="closed", timeout_ms=100)
            assert closed["status"] == "pending"  # neither cancel nor abort settles closed
            await client.end()

    run(scenario())


def test_protocol_errors() -> None:
    async def scenario() -> None:
        client = Client()
        adapter = client.adapter
        unknown = await adapter.request({"seq": 1, "op": "frobnicate"})
        assert (unknown["seq"], unknown["status"]) == (1, "protocol_error")
        no_socket = await adapter.request({"seq": 2, "op": "read", "socket": "s9", "timeout_ms": 10})
        assert no_socket["status"] == "protocol_error"
        no_handle = await adapter.request({"seq": 3, "op": "await", "promise": "p9", "timeout_ms": 10})
        assert no_handle["status"] == "protocol_error"
        # connect without address is connect() with no argument (B52): a TypeError, no protocol error.
        no_address = await adapter.request({"seq": 4, "op": "connect"})
        assert no_address["status"] == "threw"
        assert no_address["error"] == {"name": "TypeError", "message": errors.ADDRESS_REQUIRED}
        bad_same = await adapter.request({"seq": 7, "op": "same", "socket": "s9", "a": "opened", "b": "closed"})
        assert bad_same["status"] == "protocol_error"
        await adapter.request({"seq": 5, "op": "shutdown"})
        after = await adapter.request({"seq": 6, "op": "hello", "protocol": 1})
        assert after["status"] == "protocol_error"

    run(scenario())


def test_end_closes_open_sockets_and_leaves_nothing_behind() -> None:
    async def scenario() -> None:
        async with peer() as listener:
            ours = asyncio.all_tasks()
            client = Client()
            await client.op("begin", case="leak")
            s = await client.connect(listener.address)
            conn = await listener.accept()
            await client.op("read", socket=s, timeout_ms=0)
            await client.op(
                "write", socket=s, timeout_ms=0, data={"$type": "pattern", "seed": SEED, "size": 32 * 1024 * 1024}
            )
            report = await client.end(timeout_ms=300)
            assert report == {"open_sockets": 1, "unhandled_rejections": []}
            assert len(client.adapter.session.tasks) == 0
            assert asyncio.all_tasks() <= ours
            await conn.recv_until_eof()  # the connection is really gone
            await client.op("begin", case="next")
            assert await client.connect(listener.address) == "s1"  # handles start afresh
            await client.op("shutdown")

    run(scenario())


def test_ipv6_loopback_when_available() -> None:
    async def scenario() -> None:
        client = Client()
        hello = await client.op("hello", protocol=1)
        if "ipv6" not in hello["value"]["capabilities"]:
            return
        server = await asyncio.start_server(lambda r, w: w.close(), "::1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            s = await client.connect(f"[::1]:{port}")
            opened = await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            assert opened["value"] == {"remoteAddress": f"[::1]:{port}"}
            bad = await client.connect({"hostname": "::1", "port": port})  # B9: no port for kj
            opened = await client.op("await", socket=bad, promise="opened", timeout_ms=2000)
            assert opened["status"] == "rejected"
            await client.end()
        finally:
            server.close()
            await server.wait_closed()

    run(scenario())


def test_half_close_after_the_peer_is_gone_is_not_a_crash() -> None:
    """shutdown(SHUT_WR) fails with ENOTCONN once a reset came back; that is a lost connection."""

    async def scenario() -> None:
        async with peer() as listener:
            client = Client()
            s = await client.connect(listener.address)
            conn = await listener.accept()
            await client.op("await", socket=s, promise="opened", timeout_ms=2000)
            conn.close()
            await asyncio.sleep(0.05)
            await client.op("write", socket=s, data=data(b"into the void"), timeout_ms=2000)
            await asyncio.sleep(0.05)  # the peer's reset comes back
            reply = await client.op("close_writer", socket=s, timeout_ms=2000)
            assert reply["status"] in ("resolved", "rejected")
            await client.end()  # asserts that no task crashed

    run(scenario())
