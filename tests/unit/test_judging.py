"""Judging an adapter's reply: each failure names the expected and the observed value, in JavaScript."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from conformance_peer import EndSeen, TlsInfo
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.engine.judging import (
    client_problem,
    compare_received,
    end_problem,
    first_difference,
    judge_end_seen,
    judge_start_tls,
)
from conformance.engine.values import to_bytes
from conformance.protocol.replies import EndReport, Shape, parse
from tests.unit.test_jsshow import PYTHON_REPR, expectations, safe_text, values

UNDEFINED = {"$type": "undefined"}
NOT_AN_ERROR = {"name": None, "message": None, "value": UNDEFINED}


def reply(op: str, shape: Shape = "any", **response: Any) -> Any:
    return parse(op, {"seq": 1, **response}, shape)


@pytest.mark.parametrize(
    ("expect", "response", "op", "message"),
    [
        (
            {"rejects": {"name": "TypeError"}},
            {"status": "rejected", "error": NOT_AN_ERROR},
            "write",
            "rejected with undefined, expected a TypeError",
        ),
        (
            {"throws": {"name": "TypeError", "message": "Bad."}},
            {"status": "threw", "error": {"name": None, "message": None, "value": {"code": 42}}},
            "connect",
            'threw {code: 42}, expected a TypeError with message "Bad."',
        ),
        (
            {"throws": {"name": "TypeError"}},
            {"status": "threw", "error": {"name": "RangeError", "message": "Port should be >= 0"}},
            "connect",
            'threw {name: "RangeError", message: "Port should be >= 0"}, expected a TypeError',
        ),
        (
            {"throws": {"name": "TypeError", "message": "Specified address is missing port."}},
            {"status": "threw", "error": {"name": "TypeError", "message": "Invalid URL"}},
            "connect",
            'error.message: expected "Specified address is missing port.", got "Invalid URL"',
        ),
        (
            {"throws": {"name": "TypeError"}},
            {"status": "returned", "value": {"socket": "s1"}},
            "connect",
            "expected a synchronous throw of a TypeError, but it returned a Socket",
        ),
        (
            {"throws": "any"},
            {"status": "returned", "value": {"socket": "s1"}},
            "connect",
            "expected a synchronous throw, but it returned a Socket",
        ),
        (
            {"returns": "socket"},
            {"status": "threw", "error": {"name": "TypeError", "message": "x"}},
            "connect",
            'expected it to return a Socket, but it threw {name: "TypeError", message: "x"}',
        ),
        (
            {"rejects": {"name": "Error", "message": {"$regex": "^proxy request failed"}}},
            {"status": "resolved", "value": UNDEFINED},
            "await",
            "expected a rejection with an Error with a message matching /^proxy request failed/, "
            "but it resolved with undefined",
        ),
        (
            {"rejects": {"value": UNDEFINED}},
            {"status": "rejected", "error": {"name": "Error", "message": "write after end"}},
            "write",
            'rejected with {name: "Error", message: "write after end"}, expected undefined',
        ),
        (
            {"rejects": "any"},
            {"status": "resolved", "value": {"done": True}},
            "read",
            "expected a rejection, but it resolved with {done: true}",
        ),
        (
            {"resolves": {"remoteAddress": "127.0.0.1:80", "localAddress": {"$absent": True}}},
            {"status": "resolved", "value": UNDEFINED},
            "await",
            'expected {remoteAddress: "127.0.0.1:80", localAddress: undefined}, got undefined',
        ),
        (
            {"resolves": {"remoteAddress": "127.0.0.1:80", "localAddress": {"$absent": True}}},
            {"status": "resolved", "value": {"remoteAddress": "127.0.0.1:80", "localAddress": "127.0.0.1:5"}},
            "await",
            'value.localAddress: expected no such property (undefined), got "127.0.0.1:5"',
        ),
        (
            {"resolves": {"$type": "undefined"}},
            {"status": "pending", "promise": "p1"},
            "close",
            "expected it to resolve with undefined, but it was still pending",
        ),
        (
            {"resolves": {"$type": "undefined"}},
            {"status": "resolved"},  # a reply without a value does not pass for undefined
            "close",
            "expected undefined, got no value",
        ),
        ({"returns": False}, {"status": "returned", "value": UNDEFINED}, "get", "expected false, got undefined"),
        ({"returns": 16}, {"status": "returned", "value": 16384}, "desired_size", "expected 16, got 16384"),
        ({"returns": None}, {"status": "returned", "value": 1.5}, "desired_size", "expected null, got 1.5"),
        (
            {"done": True},
            {
                "status": "resolved",
                "value": {"done": False, "value": {"$type": "bytes", "b64": "aGk=", "view": "Buffer"}},
            },
            "read",
            "expected {done: true}, got {done: false, value: <Buffer 68 69>}",
        ),
        (
            {"chunk": "hi"},
            {
                "status": "resolved",
                "value": {"done": False, "value": {"$type": "bytes", "b64": "aGo=", "view": "Uint8Array"}},
            },
            "read",
            'expected chunk "hi", got "hj"',
        ),
        (
            {"chunk": "hi"},
            {"status": "resolved", "value": {"done": False, "value": "hi"}},
            "read",
            'expected a chunk, got {done: false, value: "hi"}',
        ),
        (
            {"bytes": {"hex": "16030100"}},
            {
                "status": "resolved",
                "value": {
                    "length": 4,
                    "done": False,
                    "data": {"$type": "bytes", "b64": base64.b64encode(b"\x16\x03\x01\x01").decode()},
                },
            },
            "read_bytes",
            "expected hex 16 03 01 00, got hex 16 03 01 01 (first difference at byte 3)",
        ),
        (
            {"any_of": [{"rejects": {"name": "TypeError"}}, {"rejects": {"value": UNDEFINED}}]},
            {"status": "rejected", "error": {"name": "Error", "message": "m"}},
            "write",
            'none of the allowed outcomes happened: rejected with {name: "Error", message: "m"}, expected a TypeError; '
            'rejected with {name: "Error", message: "m"}, expected undefined',
        ),
    ],
)
def test_client_failures_in_js(expect: dict[str, Any], response: dict[str, Any], op: str, message: str | None) -> None:
    shape = {"read": "read", "read_bytes": "read_bytes", "connect": "socket", "desired_size": "desired_size"}.get(
        op, "any"
    )
    assert client_problem(expect, reply(op, shape, **response)) == message


def test_unhandled_rejections_are_listed_as_js_values() -> None:
    report = EndReport(0, [{"name": "TypeError", "message": "SocketError: read ECONNRESET"}, NOT_AN_ERROR])
    assert end_problem(None, report) == (
        'expected no unhandled rejections, got 2: {name: "TypeError", message: "SocketError: read ECONNRESET"}, '
        "undefined (B22: opened/closed are marked handled)"
    )
    assert end_problem(None, EndReport(0, [])) is None
    many = EndReport(0, [{"name": "Error", "message": str(n)} for n in range(5)])
    assert "... 2 more (B22" in str(end_problem(None, many))


def test_peer_observations_in_js() -> None:
    tls = TlsInfo(ok=True, version="TLSv1.3", sni=None, cipher="x")
    assert judge_start_tls("peer.start_tls", {"tls": {"sni": "localhost"}}, tls) == (
        'handshake.sni: expected "localhost", got null'
    )
    seen = EndSeen(kind="data", data=b"late\n")
    assert judge_end_seen("eof")("peer.expect_eof", None, seen) == 'the peer expected EOF (FIN), but saw data "late\\n"'


statuses = st.sampled_from(["returned", "threw", "resolved", "rejected", "pending"])
errors = st.one_of(
    st.fixed_dictionaries({"name": safe_text, "message": safe_text}),
    st.fixed_dictionaries({"name": st.none(), "message": st.none(), "value": values}),
)
kinds = st.sampled_from(["returns", "throws", "resolves", "rejects", "settles", "done"])


@given(kinds, expectations | st.just("any"), statuses, values, errors)
def test_no_python_repr_in_any_client_failure(kind: str, wanted: Any, status: str, value: Any, error: Any) -> None:
    if kind in ("throws", "rejects") and wanted != "any":
        wanted = {"name": wanted} if not isinstance(wanted, dict) else {"value": wanted}
    response: dict[str, Any] = {"status": status}
    if status in ("threw", "rejected"):
        response["error"] = error
    elif status == "pending":
        response["promise"] = "p1"
    else:
        response["value"] = value
    problem = client_problem({kind: wanted}, reply("get", **response))
    assert problem is None or not PYTHON_REPR.search(problem), problem


@settings(deadline=None, max_examples=60)
@given(
    seed=st.binary(min_size=1, max_size=9),
    size=st.integers(min_value=0, max_value=3 * 1024 * 1024 + 17),
    flip=st.integers(min_value=0),
)
def test_a_pattern_is_judged_as_its_built_bytes_would_be(seed: bytes, size: int, flip: int) -> None:
    # Patterns are compared and hashed a block at a time; the verdicts must be those of the whole bytes.
    wanted = {"pattern": seed.decode("latin-1"), "size": size}
    built = to_bytes(wanted)
    digest = hashlib.sha256(built).hexdigest()
    assert compare_received("bytes", wanted, len(built), built, None) is None
    assert compare_received("bytes", wanted, len(built), None, digest) is None
    if size:
        changed = bytearray(built)
        changed[flip % size] ^= 1
        assert compare_received("bytes", wanted, size, bytes(changed), None) is not None
        assert compare_received("bytes", wanted, size, None, hashlib.sha256(changed).hexdigest()) is not None
        assert compare_received("bytes", wanted, size - 1, built[:-1], None) is not None
    assert compare_received("bytes", wanted, size + 1, built + b"\0", None) is not None


@given(st.binary(max_size=20000), st.binary(max_size=20000))
def test_the_first_difference_is_the_first_unequal_byte(a: bytes, b: bytes) -> None:
    found = first_difference(a, b, chunk=7)
    assert a[:found] == b[:found]
    assert found == min(len(a), len(b)) or a[found] != b[found]
