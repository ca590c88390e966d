"""Judging one observation against one expectation (spec/README.md, sections 3 and 4).

Pure functions over typed records: an adapter ``Reply`` for client steps, a
peer result for ``peer.*`` steps, an ``EndReport`` for ``end``. Each returns
``None`` when the expectation holds, or a sentence for the failure message
that says what was expected and what was seen.

``CLIENT_EXPECTATIONS`` is the table of expectation kinds a client step may
use; ``actions.ACTIONS`` says which kinds each action accepts and which peer
judge applies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from conformance_peer import Accepted, Echoed, EndSeen, NoConnection, Received, Sent, TlsInfo

from ..core import units
from ..core.jsshow import expected_error, show, show_error, show_expected, wire_bytes
from ..peer.calls import JoinTimedOut, PeerResult
from ..protocol.replies import EndReport, ReadChunk, Reply, Status
from ..protocol.replies import Received as ReadBytes
from .matching import match, match_error
from .values import pattern_matches, pattern_of, pattern_sha256, to_bytes

Expect = dict[str, Any]


# -- client steps ------------------------------------------------------------------------


def _shown(reply: Reply) -> str:
    """The reply's value as JS shows it; a socket handle is the Socket it stands for."""
    return "a Socket" if isinstance(reply.typed, str) else show(reply.value)


def seen(reply: Reply) -> str:
    """What the implementation did, as the end of "expected X, but it ..."."""
    if reply.status is Status.RETURNED:
        return f"returned {_shown(reply)}"
    if reply.status is Status.THREW:
        return f"threw {show_error(reply.error)}"
    if reply.status is Status.RESOLVED:
        return f"resolved with {_shown(reply)}"
    if reply.status is Status.REJECTED:
        return f"rejected with {show_error(reply.error)}"
    if reply.status is Status.PENDING:
        return "was still pending"
    return f"answered {show(reply.raw)}"


def _error_words(joiner: str, wanted: Any) -> str:
    """`` of a TypeError``, or nothing when any thrown value will do."""
    words = expected_error(wanted)
    return "" if words == "any value" else f"{joiner} {words}"


def _returns(wanted: Any, reply: Reply) -> str | None:
    if reply.status is not Status.RETURNED:
        what = "a Socket" if wanted == "socket" else show_expected(wanted)
        return f"expected it to return {what}, but it {seen(reply)}"
    if wanted == "socket":
        return None if isinstance(reply.typed, str) else f"expected a Socket, got {show(reply.value)}"
    return match(wanted, reply.value)


def _throws(wanted: Any, reply: Reply) -> str | None:
    if reply.status is not Status.THREW:
        return f"expected a synchronous throw{_error_words(' of', wanted)}, but it {seen(reply)}"
    return match_error(wanted, reply.error, "threw")


def _resolves(wanted: Any, reply: Reply) -> str | None:
    if reply.status is not Status.RESOLVED:
        what = "" if wanted == {"$any": True} else f" with {show_expected(wanted)}"
        return f"expected it to resolve{what}, but it {seen(reply)}"
    return match(wanted, reply.value)


def _rejects(wanted: Any, reply: Reply) -> str | None:
    if reply.status is not Status.REJECTED:
        return f"expected a rejection{_error_words(' with', wanted)}, but it {seen(reply)}"
    return match_error(wanted, reply.error, "rejected with")


def _settles(wanted: Any, reply: Reply) -> str | None:
    return None if reply.settled else f"expected it to settle, but it {seen(reply)}"


def _pending(wanted: Any, reply: Reply) -> str | None:
    if reply.status is Status.PENDING:
        return None
    return f"expected it to stay pending for {wanted['for']}, but it {seen(reply)}"


def _resolved_read(kind: str, reply: Reply) -> str | None:
    if reply.status is not Status.RESOLVED:
        return f"expected it to resolve ({kind}), but it {seen(reply)}"
    return None


def _done(wanted: Any, reply: Reply) -> str | None:
    problem = _resolved_read("done", reply)
    if problem:
        return problem
    done = reply.typed.done if isinstance(reply.typed, ReadChunk | ReadBytes) else False
    return None if done else f"expected {{done: true}}, got {show(reply.value)}"


def _chunk(wanted: Any, reply: Reply) -> str | None:
    problem = _resolved_read("chunk", reply)
    if problem:
        return problem
    chunk = reply.typed
    if not isinstance(chunk, ReadChunk) or chunk.done or chunk.data is None:
        return f"expected a chunk, got {show(reply.value)}"
    want = to_bytes(wanted)
    if chunk.data != want:
        return f"expected chunk {wire_bytes(want)}, got {wire_bytes(chunk.data)}"
    view = wanted.get("view") if isinstance(wanted, dict) else None
    return None if view is None or view == chunk.view else f"expected a {view} chunk, got a {chunk.view}"


def _received_bytes(kind: str) -> Callable[[Any, Reply], str | None]:
    def check(wanted: Any, reply: Reply) -> str | None:
        problem = _resolved_read(kind, reply)
        if problem:
            return problem
        if not isinstance(reply.typed, ReadBytes):
            return f"expected bytes, got {show(reply.value)}"
        got = reply.typed
        return compare_received(kind, wanted, got.length, got.data, got.sha256)

    return check


def _any_of(wanted: Any, reply: Reply) -> str | None:
    problems = [client_problem(option, reply) for option in wanted]
    if all(problems):
        return "none of the allowed outcomes happened: " + "; ".join(str(p) for p in problems)
    return None


#: Expectation kind -> its check of an adapter reply.
CLIENT_EXPECTATIONS: dict[str, Callable[[Any, Reply], str | None]] = {
    "returns": _returns,
    "throws": _throws,
    "resolves": _resolves,
    "rejects": _rejects,
    "settles": _settles,
    "pending": _pending,
    "done": _done,
    "chunk": _chunk,
    "bytes": _received_bytes("bytes"),
    "size": _received_bytes("size"),
    "any_of": _any_of,
}


def client_problem(expect: Expect, reply: Reply) -> str | None:
    ((kind, wanted),) = expect.items()
    return CLIENT_EXPECTATIONS[kind](wanted, reply)


def compare_received(kind: str, wanted: Any, length: int, data: bytes | None, sha256: str | None) -> str | None:
    """``bytes``/``size`` against what was received: whole bytes, or length and SHA-256 when only a digest came."""
    if kind == "size":
        want_size = units.size(wanted)
        return None if length == want_size else f"expected {want_size} bytes, got {length}"
    pattern = pattern_of(wanted)
    if pattern is not None:  # compared without building what may be many MiB (most runs check some)
        seed, size = pattern
        if data is None and length == size and sha256 == pattern_sha256(seed, size):
            return None
        if data is not None and pattern_matches(data, seed, size):
            return None
    want = to_bytes(wanted)
    if data is None:
        if length != len(want):
            return f"expected {len(want)} bytes, got {length}"
        digest = hashlib.sha256(want).hexdigest()
        return None if sha256 == digest else f"the {length} bytes differ from the expected ones (sha256)"
    if data == want:
        return None
    return (
        f"expected {wire_bytes(want)}, got {wire_bytes(data)} (first difference at byte {first_difference(data, want)})"
    )


def first_difference(a: bytes, b: bytes, chunk: int = 4096) -> int:
    """The first index where ``a`` and ``b`` differ (the shorter length if one starts the other)."""
    end = min(len(a), len(b))
    at = 0
    while at < end and a[at : at + chunk] == b[at : at + chunk]:  # whole chunks at C speed: MiBs are common
        at += chunk
    return next((i for i in range(at, min(at + chunk, end)) if a[i] != b[i]), end)


def pending_for(expect: Expect) -> float | None:
    """How long a ``pending`` expectation (possibly inside ``any_of``) asks the adapter to wait."""
    if "pending" in expect:
        return units.seconds(expect["pending"]["for"])
    durations = [d for option in expect.get("any_of", []) if (d := pending_for(option)) is not None]
    return max(durations) if durations else None


# -- the end of a session ----------------------------------------------------------------------


def end_problem(expect: Expect | None, report: EndReport) -> str | None:
    expected: Any = (expect or {}).get("unhandled_rejections", [])
    rejections = report.unhandled_rejections
    if expected == [] and rejections:
        listed = ", ".join(show_error(error) for error in rejections[:3])
        more = f", ... {len(rejections) - 3} more" if len(rejections) > 3 else ""
        problem: str | None = f"expected no unhandled rejections, got {len(rejections)}: {listed}{more}"
    else:
        problem = match(expected, rejections, "unhandled rejections")
    return f"{problem} (B22: opened/closed are marked handled)" if problem else None


# -- peer steps ------------------------------------------------------------------------------------

PeerJudge = Callable[[str, Expect | None, PeerResult], str | None]


def _tls_problem(wanted: Any, tls: TlsInfo | None) -> str | None:
    if tls is None:
        return "no TLS handshake happened (is the listener plain?)"
    problem = match(wanted, tls.as_dict(), "handshake")
    if problem and tls.error:
        problem += f" (handshake error: {tls.error})"
    return problem


def _either(judge: PeerJudge) -> PeerJudge:
    """``any_of`` for a peer step: one of the listed expectations holds."""

    def check(action: str, expect: Expect | None, result: PeerResult) -> str | None:
        if expect and "any_of" in expect:
            problems = [check(action, option, result) for option in expect["any_of"]]
            if all(problems):
                return "none of the allowed outcomes happened: " + "; ".join(map(str, problems))
            return None
        return judge(action, expect, result)

    return check


@_either
def judge_accept(action: str, expect: Expect | None, result: PeerResult) -> str | None:
    if expect and "no_connection" in expect:
        return None if not isinstance(result, Accepted) else "a connection arrived, but none was expected"
    if isinstance(result, NoConnection):
        return f"no connection arrived within {result.waited:g} s"
    if not isinstance(result, Accepted):
        return _unfinished(action, result)
    if expect and "tls" in expect:
        return _tls_problem(expect["tls"], result.tls)
    return None


@_either
def judge_start_tls(action: str, expect: Expect | None, result: PeerResult) -> str | None:
    if not isinstance(result, TlsInfo):
        return _unfinished(action, result) or "no TLS handshake happened"
    return _tls_problem(expect["tls"] if expect and "tls" in expect else {"ok": True}, result)


_END_NAMES = {"eof": "EOF (FIN)", "reset": "a reset (RST)", "silence": "nothing", "data": "data"}


def judge_end_seen(wanted: str) -> PeerJudge:
    @_either
    def check(action: str, expect: Expect | None, result: PeerResult) -> str | None:
        if not isinstance(result, EndSeen):
            return _unfinished(action, result) or f"the peer expected {_END_NAMES[wanted]}, but saw nothing"
        if result.kind == wanted:
            return None
        extra = f" {wire_bytes(result.data)}" if result.data else ""
        return f"the peer expected {_END_NAMES[wanted]}, but saw {_END_NAMES.get(result.kind, result.kind)}{extra}"

    return check


def _unfinished(action: str, result: PeerResult) -> str | None:
    """A peer op that ran out of time or broke."""
    if isinstance(result, JoinTimedOut):
        return f"the peer's {action} did not complete in time (the background step had not finished after {result.seconds:g} s)"
    if isinstance(result, Sent | Received | Echoed) and result.timed_out:
        length = result.length
        return f"the peer's {action} did not complete in time ({length} bytes so far)"
    if isinstance(result, Sent) and result.reset:
        return f"the peer's {action} failed: the client reset the connection before everything was sent"
    return None


@_either
def judge_transfer(action: str, expect: Expect | None, result: PeerResult) -> str | None:
    """send, recv, echo, shutdown, close, reset: finished in time, and the amounts expected."""
    problem = _unfinished(action, result)
    if problem:
        return problem
    if isinstance(result, Received) and expect:
        kind = "bytes" if "bytes" in expect else "size" if "size" in expect else None
        if kind:
            return compare_received(kind, expect[kind], result.length, result.data, result.sha256)
    if isinstance(result, Echoed) and expect and "size" in expect:
        return compare_received("size", expect["size"], result.length, None, None)
    if isinstance(result, Received | Echoed) and result.ended == "reset":
        return "the connection was reset"
    return None
