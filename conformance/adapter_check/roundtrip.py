"""The probes of ``adapter-check`` that talk to our peer: a real round trip, end closing what
is left, and pending promises.

Each opens a plain loopback listener of its own (``conformance_peer``), as a
case would, and drives the adapter against it.
"""

from __future__ import annotations

import base64
from typing import Any

from conformance_peer import Accepted, ListenerSpec, PeerSession, open_session

from ..core.jsshow import wire_bytes
from .model import Recorder, StopProbe
from .probes import Probe, end_problem, is_handle
from .wire import Wire, preview

#: How much later than its ``timeout_ms`` a ``pending`` answer may come.
PENDING_GRACE_S = 1.0
#: How much earlier than its ``timeout_ms`` it may come (clock granularity).
PENDING_EARLY_S = 0.03
PENDING_TIMEOUT_MS = 200

TO_PEER = b"adapter-check: ping \x00\xff\r\n"
FROM_PEER = b"adapter-check: pong \xfe\x00\n"


def _bytes(data: bytes) -> dict[str, str]:
    return {"$type": "bytes", "b64": base64.b64encode(data).decode("ascii"), "view": "Uint8Array"}


def _tagged_bytes_problem(value: Any) -> str | None:
    if not isinstance(value, dict) or value.get("$type") != "bytes":
        return f"{preview(value, 100)} (not a tagged {{$type: bytes}} value)"
    if not isinstance(value.get("view"), str) or not value["view"]:
        return f"{preview(value, 100)} (no view: the chunk's constructor name, e.g. Uint8Array)"
    if not isinstance(value.get("b64"), str):
        return f"{preview(value, 100)} (no b64 string)"
    try:
        base64.b64decode(value["b64"], validate=True)
    except ValueError:
        return f"b64 {preview(value.get('b64'), 60)} is not base64"
    return None


async def _connected(p: Probe, peer: PeerSession, first_check: str) -> tuple[str, str]:
    """Connects to the peer and awaits opened; the socket handle and the peer's connection name."""
    rec, wire = p.rec, p.wire
    address = str(peer.variables["peer.address"])
    connect = rec.need(
        await wire.send({"op": "connect", "address": address}), first_check, 'status "returned" with {socket}'
    )
    value = connect.get("value")
    handle = value.get("socket") if isinstance(value, dict) else None
    if connect.status != "returned" or not is_handle(handle):
        rec.fail(
            first_check,
            f"connect({preview(address)}) to return {{socket: <handle>}}",
            connect.describe(),
            'connect returns {"status": "returned", "value": {"socket": "s1"}}; '
            'a string "host:port" is the address every implementation accepts',
        )
        raise StopProbe(first_check)
    if first_check == "roundtrip.connect":
        rec.ok("roundtrip.connect", f"{address} -> {preview(handle)}")
    opened = rec.need(
        await wire.send({"op": "await", "socket": handle, "promise": "opened", "timeout_ms": 5000}),
        "roundtrip.opened" if first_check == "roundtrip.connect" else first_check,
        'status "resolved"',
    )
    accepted = await peer.accept("c1", 5.0)
    check_id = "roundtrip.opened" if first_check == "roundtrip.connect" else first_check
    if opened.status != "resolved" or not isinstance(opened.get("value"), dict):
        rec.fail(
            check_id,
            'status "resolved" with the SocketInfo object',
            opened.describe(),
            "await opened resolves with the SocketInfo, absent keys left out, e.g. "
            '{"remoteAddress": "127.0.0.1:4000"} (docs/adapters.md, section 5, await)',
        )
        raise StopProbe(check_id)
    if not isinstance(accepted, Accepted):
        rec.fail(
            check_id, "the peer to accept a connection", "no connection within 5 s", "connect to the address as given"
        )
        raise StopProbe(check_id)
    if first_check == "roundtrip.connect":
        rec.ok("roundtrip.opened", f"{preview(opened.get('value'))} in {opened.took()}")
    return handle, accepted.name


async def _read_all(wire: Wire, rec: Recorder, handle: str, n: int) -> bytes:
    """Reads chunks until ``n`` bytes came; records roundtrip.read's failure and stops on a bad one."""
    data = b""
    hint = (
        'read answers resolved {"done": false, "value": {"$type": "bytes", "b64": ..., '
        '"view": "Uint8Array"}} or {"done": true} (docs/adapters.md, section 6, Values)'
    )
    while len(data) < n:
        ex = rec.need(
            await wire.send({"op": "read", "socket": handle, "timeout_ms": 5000}), "roundtrip.read", 'status "resolved"'
        )
        value = ex.get("value")
        if ex.status != "resolved" or not isinstance(value, dict):
            rec.fail("roundtrip.read", 'status "resolved" with {done, value}', ex.describe(), hint)
            raise StopProbe("roundtrip.read")
        if value.get("done") is True:
            break
        problem = _tagged_bytes_problem(value.get("value")) if value.get("done") is False else "no done: false"
        if problem:
            rec.fail("roundtrip.read", "{done: false, value: {$type: bytes, b64, view}}", problem, hint)
            raise StopProbe("roundtrip.read")
        data += base64.b64decode(value["value"]["b64"])
    return data


async def probe_round_trip(p: Probe) -> None:
    rec, wire = p.rec, p.wire
    peer = await open_session(ListenerSpec(kind="plain"))
    try:
        rec.need(await wire.begin("adapter-check.round-trip"), "roundtrip.connect", "a begin response")
        handle, conn = await _connected(p, peer, "roundtrip.connect")
        write = rec.need(
            await wire.send({"op": "write", "socket": handle, "data": _bytes(TO_PEER), "timeout_ms": 5000}),
            "roundtrip.write",
            'status "resolved"',
        )
        received = await peer.recv(conn, len(TO_PEER), 5.0, False)
        if write.status != "resolved":
            rec.fail(
                "roundtrip.write",
                'status "resolved"',
                write.describe(),
                "decode {$type: bytes} into a Uint8Array and await writer.write(chunk)",
            )
        elif received.data != TO_PEER:
            rec.fail(
                "roundtrip.write",
                f"the peer to receive {wire_bytes(TO_PEER)}",
                wire_bytes(received.data) if received.data is not None else "no bytes",
                "decode b64 (standard alphabet, with padding) and write exactly those bytes",
            )
        else:
            rec.ok("roundtrip.write", f"{len(TO_PEER)} bytes")
        await peer.send(conn, FROM_PEER, None, 5.0)
        data = await _read_all(wire, rec, handle, len(FROM_PEER))
        if data != FROM_PEER:
            rec.fail(
                "roundtrip.read",
                f"the peer's bytes {wire_bytes(FROM_PEER)}",
                wire_bytes(data),
                "encode each chunk's bytes as base64 (standard alphabet, with padding)",
            )
        else:
            rec.ok("roundtrip.read", f"{len(FROM_PEER)} bytes, tagged")
        await _check_get(rec, wire, handle)
        end = rec.need(await wire.end(), "roundtrip.end-closes", "an end response")
        seen = await peer.wait_end(conn, 3.0)
        problem = end_problem(end)
        value = end.get("value") if isinstance(end.get("value"), dict) else {}
        if problem:
            rec.fail(
                "roundtrip.end-closes",
                'status "returned" with the leak report',
                problem,
                'end answers {"open_sockets": N, "unhandled_rejections": [...]}',
            )
        elif seen.kind not in ("eof", "reset"):
            rec.fail(
                "roundtrip.end-closes",
                "the peer to see EOF or a reset within 3 s of end",
                f"{seen.kind}" + (f" ({wire_bytes(seen.data)})" if seen.data else ""),
                "end calls socket.close() on every socket of the session that is still open",
            )
        elif value.get("open_sockets") != 1:
            rec.fail(
                "roundtrip.end-closes",
                "open_sockets 1 (one socket was left open)",
                f"open_sockets {preview(value.get('open_sockets'))}",
                "count the sockets whose closed had not settled when end came, before closing them",
            )
        else:
            rec.ok("roundtrip.end-closes", f"peer saw {seen.kind}; open_sockets 1")
    finally:
        await peer.aclose()


async def _check_get(rec: Recorder, wire: Wire, handle: str) -> None:
    ex = rec.need(
        await wire.send({"op": "get", "socket": handle, "property": "secureTransport"}),
        "roundtrip.get",
        'status "returned"',
    )
    if ex.status == "unsupported":
        rec.ok("roundtrip.get", f"unsupported ({preview(ex.get('reason'))}), which the protocol allows")
    elif ex.status == "returned" and "value" in ex.reply and isinstance(ex.get("typeof"), str):
        rec.ok("roundtrip.get", f"value {preview(ex.get('value'))}, typeof {preview(ex.get('typeof'))}")
    else:
        rec.fail(
            "roundtrip.get",
            'status "returned" with value and typeof',
            ex.describe(),
            'answer {"status": "returned", "value": "off", "typeof": "string"} (docs/adapters.md, section 5, get)',
        )


async def probe_pending(p: Probe) -> None:
    rec, wire = p.rec, p.wire
    peer = await open_session(ListenerSpec(kind="plain"))
    try:
        rec.need(await wire.begin("adapter-check.pending"), "pending.timeout", "a begin response")
        handle, _ = await _connected(p, peer, "pending.timeout")
        first = rec.need(
            await wire.send({"op": "await", "socket": handle, "promise": "closed", "timeout_ms": PENDING_TIMEOUT_MS}),
            "pending.timeout",
            'status "pending"',
            f"wait at most timeout_ms ({PENDING_TIMEOUT_MS} ms), then answer pending with a "
            "promise handle; keep the promise for a later await (docs/adapters.md, section 8, Handles)",
        )
        promise = first.get("promise")
        low, high = PENDING_TIMEOUT_MS / 1000 - PENDING_EARLY_S, PENDING_TIMEOUT_MS / 1000 + PENDING_GRACE_S
        if first.status != "pending" or not is_handle(promise):
            rec.fail(
                "pending.timeout",
                'status "pending" with a promise handle (closed of an open socket)',
                first.describe(),
                'when the promise has not settled after timeout_ms, answer {"status": "pending", "promise": "p1"}',
            )
            raise StopProbe("pending.timeout")
        if first.elapsed_s < low:
            rec.fail(
                "pending.timeout",
                f"pending after about {PENDING_TIMEOUT_MS} ms",
                f"pending after {first.took()}",
                "wait for the promise for timeout_ms before answering pending",
            )
        elif first.elapsed_s > high:
            rec.fail(
                "pending.timeout",
                f"pending within {high * 1000:.0f} ms",
                f"pending after {first.took()}",
                "answer pending as soon as timeout_ms has passed",
            )
        else:
            rec.ok("pending.timeout", f"{preview(promise)} after {first.took()}")
        await _check_handle(p, handle, str(promise))
        await wire.end()
    finally:
        await peer.aclose()


async def _check_handle(p: Probe, handle: str, promise: str) -> None:
    rec, wire = p.rec, p.wire
    hint = (
        "keep every promise you answered pending for under its handle until end, and await it again "
        "when asked (docs/adapters.md, section 8)"
    )
    again = rec.need(
        await wire.send({"op": "await", "promise": promise, "timeout_ms": 100}),
        "pending.await-handle",
        'status "pending"',
        hint,
    )
    if again.status != "pending" or not is_handle(again.get("promise")):
        rec.fail(
            "pending.await-handle",
            f"await {{promise: {preview(promise)}}} on the unsettled closed: pending",
            again.describe(),
            hint,
        )
        return
    close = rec.need(
        await wire.send({"op": "close", "socket": handle, "timeout_ms": 2000}),
        "pending.await-handle",
        "an answer to close",
    )
    if close.status not in ("resolved", "rejected", "pending"):
        rec.fail(
            "pending.await-handle",
            "close to answer resolved, rejected or pending",
            close.describe(),
            "close calls socket.close() and awaits it for timeout_ms",
        )
        return
    settled = rec.need(
        await wire.send({"op": "await", "promise": promise, "timeout_ms": 3000}),
        "pending.await-handle",
        'status "resolved"',
        hint,
    )
    if settled.status in ("resolved", "rejected"):
        rec.ok("pending.await-handle", f"pending, then {settled.status} after close")
    else:
        rec.fail(
            "pending.await-handle",
            f"closed (handle {preview(promise)}) to settle after close()",
            settled.describe(),
            hint,
        )
