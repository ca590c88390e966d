"""The probes of ``adapter-check`` that need no peer: hello, sessions, malformed requests,
value encoding, a line that is not JSON, shutdown, and the checks over every exchange.

Each probe is a short scripted conversation that records its checks in a
``Recorder``; when the adapter stops answering, the probe stops (``StopProbe``)
and the checker restarts the adapter for the next one. Expectations come from
docs/adapter-protocol.md; the section is named in each hint.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from .. import schema
from ..adapters.base import RunContext
from ..errors import InfrastructureError
from ..protocol.client import HELLO_TIMEOUT_S
from .model import Recorder, no_answer_hint
from .wire import SLOW_S, Exchange, RawLines, Wire, preview

#: JS's largest exact integer: the largest seq a JS adapter can echo exactly.
LARGE_SEQ = 2**53 - 1


def known_capabilities() -> list[str]:
    """The capability names cases may require (the case schema is their one source)."""
    names: list[str] = schema.load("case.schema.json")["$defs"]["capability"]["enum"]
    return names


@dataclass
class Probe:
    """What every probe works with."""

    wire: Wire
    rec: Recorder
    context: RunContext
    grace_s: float
    restart: Callable[[], Awaitable[Wire]]
    """Starts a fresh instance of the adapter (hello said, not judged)."""


def is_handle(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= 64


def _error_problem(error: Any) -> str | None:
    """Why ``error`` is not the protocol's ``{name, message}`` of an Error, or None."""
    if not isinstance(error, dict):
        return f"error is {preview(error)}, not an object"
    name, message = error.get("name"), error.get("message")
    if name is None and message is None and "value" in error:
        return None  # a thrown non-Error value, encoded as {name: null, message: null, value}
    if not isinstance(name, str) or not name:
        return f"error.name is {preview(name)}, not a non-empty string"
    if not isinstance(message, str):
        return f"error.message is {preview(message)}, not a string"
    return None


# -- hello -----------------------------------------------------------------------------------

HELLO_REQUEST = {"op": "hello", "protocol": 1}


async def say_hello(wire: Wire) -> Exchange:
    return await wire.send(HELLO_REQUEST, deadline_s=max(HELLO_TIMEOUT_S, wire.grace_s))


async def probe_hello(p: Probe) -> bool:
    """The hello checks; False when the adapter never answered (it cannot start)."""
    rec = p.rec
    ex = await say_hello(p.wire)
    if not ex.answered:
        rec.fail(
            "hello.answers",
            f"a hello response within {ex.deadline_s:g} s",
            ex.describe(),
            no_answer_hint(
                ex.failure,
                "read requests from stdin line by line and answer hello first; the harness waits "
                f"{HELLO_TIMEOUT_S:g} s (docs/adapters.md, section 3, The message loop)",
            ),
        )
        return False
    if ex.status != "returned" or not ex.seq_echoed:
        rec.fail(
            "hello.answers",
            f'status "returned" with seq {ex.seq}',
            ex.describe(),
            'answer {"seq": <the request\'s seq>, "status": "returned", "value": {...}}; '
            "the harness refuses to start an adapter whose hello is wrong (run exits 3)",
        )
    else:
        rec.ok("hello.answers", f"in {ex.took()}")
    if ex.schema_problem:
        rec.fail(
            "hello.schema",
            "a response valid against protocol/schemas/hello.json",
            ex.schema_problem,
            "value needs name, version, runtime, protocol and capabilities "
            "(docs/adapter-protocol.md, section 4, hello)",
        )
    else:
        rec.ok("hello.schema")
    value = ex.get("value")
    if not isinstance(value, dict):
        for check_id in ("hello.fields", "hello.protocol", "hello.capabilities"):
            rec.fail(check_id, "a value object", preview(value), "hello's value is an object")
        return True
    empty = [
        key for key in ("name", "version", "runtime") if not isinstance(value.get(key), str) or not value[key].strip()
    ]
    if empty:
        shown = ", ".join(f"{key}={preview(value.get(key))}" for key in empty)
        rec.fail(
            "hello.fields",
            "non-empty strings",
            shown,
            'they head every report: e.g. name "my-runtime", version "1.2.3", runtime "MyRuntime 1.2 (linux-x64)"',
        )
    else:
        rec.ok("hello.fields", f"{value['name']} {value['version']} on {value['runtime']}")
    protocol = value.get("protocol")
    if type(protocol) is int and protocol == 1:
        rec.ok("hello.protocol")
    else:
        rec.fail("hello.protocol", "1", preview(protocol), "this harness speaks protocol 1 only")
    capabilities = value.get("capabilities")
    known = known_capabilities()
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        rec.fail(
            "hello.capabilities",
            "a list of strings",
            preview(capabilities),
            f"declare what the implementation can do, from: {', '.join(known)}; [] is fine",
        )
        return True
    unknown = [c for c in capabilities if c not in known]
    if unknown:
        rec.warn(
            "hello.capabilities",
            f"names from {', '.join(known)}",
            f"unknown {', '.join(map(repr, unknown))}",
            "no case requires an unknown capability, so it changes nothing; check the spelling "
            "(spec/README.md, Capabilities)",
        )
    else:
        rec.ok("hello.capabilities", "[" + ", ".join(capabilities) + "]")
    return True


# -- sessions and seq ---------------------------------------------------------------------------


def end_problem(ex: Exchange) -> str | None:
    if ex.status != "returned":
        return ex.describe()
    value = ex.get("value")
    if not isinstance(value, dict):
        return f"value {preview(value)} (not an object)"
    count, rejections = value.get("open_sockets"), value.get("unhandled_rejections")
    if type(count) is not int or count < 0:
        return f"open_sockets {preview(count)} (not a count)"
    if not isinstance(rejections, list):
        return f"unhandled_rejections {preview(rejections)} (not an array)"
    return None


async def probe_sessions(p: Probe) -> None:
    rec, wire = p.rec, p.wire
    expected_seq = "the request's seq, exactly"
    seq_hint = (
        "copy the request's seq into the response as is; seq is any positive integer, "
        "unique but not necessarily sequential (docs/adapter-protocol.md, section 1)"
    )
    begin = rec.need(await wire.begin("adapter-check.session", seq=7919), "session.begin", 'status "returned"')
    if begin.status == "returned":
        rec.ok("session.begin", f"in {begin.took()}")
    else:
        rec.fail(
            "session.begin",
            'status "returned"',
            begin.describe(),
            "begin opens a case session: forget the previous session's handles and answer returned",
        )
    end = rec.need(await wire.end(seq=LARGE_SEQ), "session.end", "an end response")
    problem = end_problem(end)
    count = (end.get("value") or {}).get("open_sockets") if isinstance(end.get("value"), dict) else None
    if problem:
        rec.fail(
            "session.end",
            'status "returned" with value {open_sockets: N, unhandled_rejections: [...]}',
            problem,
            'end reports leaks even when there are none: {"open_sockets": 0, "unhandled_rejections": []}',
        )
    elif count != 0:
        rec.fail(
            "session.end",
            "open_sockets 0 for a session that opened no socket",
            f"open_sockets {count}",
            "count only the sockets of this session whose closed had not settled when end came",
        )
    else:
        rec.ok("session.end", preview(end.get("value")))
    if end.seq_echoed:
        rec.ok("session.seq-large", f"seq {LARGE_SEQ}")
    else:
        rec.fail(
            "session.seq-large",
            f"seq {LARGE_SEQ}",
            preview(end.get("seq")),
            seq_hint + "; do not parse it into a 32-bit integer",
        )
    again = rec.need(await wire.begin("adapter-check.session-2", seq=4242), "session.seq-unordered", expected_seq)
    closing = rec.need(await wire.end(seq=104729), "session.seq-unordered", expected_seq)
    wrong = [
        f"{ex.op} seq {ex.seq} answered with seq {preview(ex.get('seq'))}"
        for ex in (begin, again, closing)
        if not ex.seq_echoed
    ]
    if wrong:
        rec.fail("session.seq-unordered", "each request's own seq", "; ".join(wrong), seq_hint)
    else:
        rec.ok("session.seq-unordered", "7919, 4242, 104729")


# -- malformed requests ---------------------------------------------------------------------------

PROTOCOL_ERROR_HINT = (
    'answer {"seq": N, "status": "protocol_error", "reason": "..."} for a request '
    "you cannot make sense of, and keep going (docs/adapter-protocol.md, section 2)"
)


def _judge_protocol_error(rec: Recorder, check_id: str, exchanges: list[Exchange], what: str, hint: str) -> None:
    bad = []
    for ex in exchanges:
        reason = ex.get("reason")
        if ex.status != "protocol_error":
            bad.append(f"{ex.op}: {ex.describe()}")
        elif not isinstance(reason, str) or not reason.strip():
            bad.append(f"{ex.op}: protocol_error without a reason")
    if bad:
        rec.fail(check_id, f'status "protocol_error" with a reason for {what}', "; ".join(bad), hint)
    else:
        reasons = "; ".join(preview(ex.get("reason")) for ex in exchanges)
        rec.ok(check_id, reasons)


async def probe_malformed(p: Probe) -> None:
    rec, wire = p.rec, p.wire
    rec.need(await wire.begin("adapter-check.malformed"), "malformed.unknown-op", "a begin response")
    unknown = rec.need(
        await wire.send({"op": "frobnicate", "socket": "s1"}, validate=False),
        "malformed.unknown-op",
        'status "protocol_error" with a reason',
        "an op you do not know is a malformed request, not a reason to stop or stay silent: " + PROTOCOL_ERROR_HINT,
    )
    _judge_protocol_error(
        rec,
        "malformed.unknown-op",
        [unknown],
        'op "frobnicate"',
        (
            '"unsupported" is for a known op this implementation cannot perform; '
            if unknown.status == "unsupported"
            else ""
        )
        + PROTOCOL_ERROR_HINT,
    )
    hint = "look each handle up and answer protocol_error when it is not in the current session; " + PROTOCOL_ERROR_HINT
    sockets = [
        rec.need(await wire.send(request), "malformed.unknown-socket", 'status "protocol_error"', hint)
        for request in (
            {"op": "get", "socket": "no-such-socket", "property": "secureTransport"},
            {"op": "read", "socket": "no-such-socket", "timeout_ms": 100},
        )
    ]
    _judge_protocol_error(rec, "malformed.unknown-socket", sockets, "socket 'no-such-socket'", hint)
    promise = rec.need(
        await wire.send({"op": "await", "promise": "no-such-promise", "timeout_ms": 100}),
        "malformed.unknown-promise",
        'status "protocol_error"',
        hint,
    )
    _judge_protocol_error(rec, "malformed.unknown-promise", [promise], "promise 'no-such-promise'", hint)
    missing = rec.need(
        await wire.send({"op": "get", "property": "secureTransport"}, validate=False),
        "malformed.missing-field",
        'status "protocol_error"',
    )
    _judge_protocol_error(
        rec,
        "malformed.missing-field",
        [missing],
        "a get without socket",
        "check required fields before using them; " + PROTOCOL_ERROR_HINT,
    )
    await wire.end()


# -- values --------------------------------------------------------------------------------------

THREW_HINT = (
    "pass address and options to connect() as they come (decoded) and report what happens: "
    "returned {socket} or threw {name, message} (docs/adapters.md, section 7, Errors)"
)


def judge_sync_outcome(rec: Recorder, check_id: str, ex: Exchange) -> None:
    """``threw`` with a proper error, or ``returned`` with a socket handle."""
    if ex.status == "threw":
        problem = _error_problem(ex.get("error"))
        if problem:
            rec.fail(
                check_id,
                "error {name: string, message: string}",
                problem,
                "report a thrown Error by its name and message properties (docs/adapter-protocol.md, section 2)",
            )
        else:
            error = ex.get("error")
            rec.ok(check_id, f"threw {error.get('name')}: {error.get('message')}")
    elif ex.status == "returned":
        value = ex.get("value")
        handle = value.get("socket") if isinstance(value, dict) else None
        if is_handle(handle):
            rec.ok(check_id, f"returned socket {preview(handle)} (the implementation accepts the value)")
        else:
            rec.fail(check_id, "value {socket: <handle>}", preview(value), 'connect returns {"socket": "s1"}')
    else:
        hint = THREW_HINT
        if ex.status == "unsupported":
            hint = "connect is the one op every adapter implements: " + THREW_HINT
        elif ex.status == "protocol_error":
            hint = "an invalid address is the implementation's to judge, not a malformed request: " + THREW_HINT
        rec.fail(check_id, 'status "threw" or "returned"', ex.describe(), hint)


async def probe_values(p: Probe) -> None:
    from conformance_peer import ListenerSpec, open_session

    rec, wire = p.rec, p.wire
    rec.need(await wire.begin("adapter-check.values"), "values.address-object", "a begin response")
    for check_id, address in (("values.address-object", {}), ("values.address-nonsense", "nonsense")):
        ex = rec.need(await wire.send({"op": "connect", "address": address}), check_id, 'status "threw" or "returned"')
        judge_sync_outcome(rec, check_id, ex)
    await wire.end()
    peer = await open_session(ListenerSpec(kind="none"))
    try:
        rec.need(await wire.begin("adapter-check.rejection"), "values.rejection", "a begin response")
        address = str(peer.variables["peer.refused_address"])
        connect = rec.need(
            await wire.send({"op": "connect", "address": address}), "values.rejection", "a connect response"
        )
        handle = (connect.get("value") or {}).get("socket") if isinstance(connect.get("value"), dict) else None
        if connect.status != "returned" or not is_handle(handle):
            rec.fail(
                "values.rejection", f"connect({preview(address)}) to return a socket", connect.describe(), THREW_HINT
            )
            return
        opened = rec.need(
            await wire.send({"op": "await", "socket": handle, "promise": "opened", "timeout_ms": 5000}),
            "values.rejection",
            'status "rejected"',
        )
        if opened.status == "rejected":
            problem = _error_problem(opened.get("error"))
            if problem:
                rec.fail(
                    "values.rejection",
                    "error {name: string, message: string}",
                    problem,
                    "report a rejection reason by its name and message properties "
                    "(docs/adapter-protocol.md, section 2)",
                )
            else:
                error = opened.get("error")
                rec.ok("values.rejection", f"rejected {error.get('name')}: {error.get('message')}")
        elif opened.status in ("resolved", "pending"):
            rec.warn(
                "values.rejection",
                f"opened to reject for refused {address}",
                opened.describe(),
                "the error encoding of a rejection could not be checked; the implementation "
                "itself may be at fault (run the suite to see)",
            )
        else:
            rec.fail(
                "values.rejection",
                'status "rejected"',
                opened.describe(),
                "await answers resolved, rejected or pending (docs/adapter-protocol.md, section 5)",
            )
        await wire.end()
    finally:
        await peer.aclose()


# -- a line that is not JSON (stdio) -----------------------------------------------------------------

NOT_JSON = b"this line is not JSON {\n"


async def probe_bad_line(p: Probe) -> None:
    """On a fresh instance: a non-JSON line, then a good request, which must still be answered."""
    rec = p.rec
    if p.wire.stdio_process() is None:
        rec.skip("stdio.bad-line", "stdio adapters only")
        return
    try:
        wire = await p.restart()
    except InfrastructureError as error:
        rec.skip("stdio.bad-line", f"a fresh instance of the adapter did not start: {error}")
        return
    try:
        process = wire.stdio_process()
        if wire.broken or process is None:
            rec.skip("stdio.bad-line", "a fresh instance of the adapter did not start")
            return
        lines = RawLines(process)
        survive_hint = (
            'answer {"seq": 0, "status": "protocol_error", "reason": "not JSON"} or ignore '
            "the line, then go on reading; the harness restarts an adapter that dies, at the cost of a case"
        )
        if not await lines.write(NOT_JSON):
            rec.warn("stdio.bad-line", "the adapter to keep reading", "its stdin was closed", survive_hint)
            return
        seq = wire.next_seq()
        await lines.write(json.dumps({"seq": seq, "op": "begin", "case": "adapter-check.after-bad-line"}).encode())
        seen: list[str] = []
        answered_bad = False
        for _ in range(4):
            raw = await lines.read(p.grace_s)
            if raw is None:
                rec.warn(
                    "stdio.bad-line",
                    f"an answer to the begin (seq {seq}) sent after the bad line",
                    f"silence for {p.grace_s:g} s" + (f" after {'; '.join(seen)}" if seen else ""),
                    survive_hint,
                )
                return
            if raw == b"":
                code = await lines.exited(1.0)
                rec.warn(
                    "stdio.bad-line",
                    "the adapter to survive",
                    "it closed stdout" + (f" and exited with code {code}" if code is not None else ""),
                    survive_hint,
                )
                return
            try:
                reply = json.loads(raw)
            except ValueError:
                seen.append(f"a line that is not JSON: {preview(raw[:80].decode('utf-8', 'replace').strip())}")
                continue
            if isinstance(reply, dict) and reply.get("seq") == seq:
                break
            if isinstance(reply, dict) and reply.get("status") == "protocol_error":
                answered_bad = True
                continue
            seen.append(f"an unexpected line {preview(reply, 80)}")
        else:
            rec.warn("stdio.bad-line", f"an answer with seq {seq}", "; ".join(seen), survive_hint)
            return
        if seen:
            rec.warn(
                "stdio.bad-line",
                "protocol_error or nothing for the bad line",
                "; ".join(seen),
                "write only protocol responses on stdout",
            )
        else:
            rec.ok(
                "stdio.bad-line",
                "answered protocol_error, then the next request"
                if answered_bad
                else "ignored it and answered the next request",
            )
    finally:
        wire.broken = True  # its line count is off by the raw lines: do not trust it with shutdown
        await wire.close()


# -- shutdown --------------------------------------------------------------------------------------


async def probe_shutdown(p: Probe) -> None:
    rec, wire = p.rec, p.wire
    ex = rec.need(
        await wire.send({"op": "shutdown"}),
        "shutdown.answers",
        'status "returned"',
        "answer shutdown with returned before exiting (flush stdout first)",
    )
    wire.shut_down = True
    if ex.status != "returned":
        rec.fail("shutdown.answers", 'status "returned"', ex.describe(), "answer shutdown, then exit")
        return
    process = wire.stdio_process()
    if process is None:
        rec.ok("shutdown.answers", f"in {ex.took()}")
        return
    code = await RawLines(process).exited(2.0)
    if code is None:
        rec.warn(
            "shutdown.answers",
            "the process to exit within 2 s of answering",
            "it was still running",
            "exit after answering shutdown (close sockets, stop timers); the harness kills it after 2 s",
        )
    else:
        rec.ok("shutdown.answers", f"answered in {ex.took()}, then exited with code {code}")


# -- over every exchange ---------------------------------------------------------------------------


def _listed(items: list[str], limit: int = 3) -> str:
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(items[:limit]) + more


def judge_all(rec: Recorder, exchanges: list[Exchange]) -> None:
    answered = [ex for ex in exchanges if ex.answered]
    wrong_seq = [
        f"{ex.op} seq {ex.seq} answered with seq {preview(ex.get('seq'))}" for ex in answered if not ex.seq_echoed
    ]
    if wrong_seq:
        rec.fail(
            "wire.seq-echo",
            "each response to carry its request's seq",
            _listed(wrong_seq),
            "the harness takes a response with another seq for a protocol violation: the case "
            "becomes error and the adapter is restarted",
        )
    else:
        rec.ok("wire.seq-echo", f"{len(answered)} responses")
    invalid = [f"{ex.op} (seq {ex.seq}): {ex.schema_problem}" for ex in answered if ex.schema_problem]
    if invalid:
        rec.fail(
            "wire.schemas",
            "responses valid against conformance/protocol/schemas/",
            _listed(invalid),
            "the harness validates every response; an invalid one makes the case error",
        )
    else:
        rec.ok("wire.schemas", f"{len(answered)} responses")
    late = [f"{ex.op} (seq {ex.seq}): {ex.failure}" for ex in exchanges if ex.timed_out]
    if late:
        rec.fail(
            "wire.deadlines",
            "an answer within timeout_ms + the grace period",
            _listed(late),
            "answer every request in time: pending for a promise still unsettled after timeout_ms, "
            "protocol_error for a request you cannot handle; never wait longer or stay silent",
        )
        return
    slow = [
        f"{ex.op} answered after {ex.took()} (timeout_ms {ex.request.get('timeout_ms', 0)})"
        for ex in answered
        if ex.elapsed_s > ex.request.get("timeout_ms", 0) / 1000 + SLOW_S and ex.op != "hello"
    ]
    if slow:
        rec.warn(
            "wire.deadlines",
            f"answers within timeout_ms + {SLOW_S:g} s",
            _listed(slow),
            "the harness waits timeout_ms + 5 s, but a slow adapter makes slow, flaky runs",
        )
        return
    slowest = max(
        (ex for ex in answered if ex.op != "hello"),
        key=lambda ex: ex.elapsed_s - ex.request.get("timeout_ms", 0) / 1000,
        default=None,
    )
    rec.ok("wire.deadlines", f"slowest beyond its timeout_ms: {slowest.op} in {slowest.took()}" if slowest else "")
