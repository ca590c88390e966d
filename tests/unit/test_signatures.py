"""Divergence signatures (report/signatures.py): where a case first diverged, normalised, grouped."""

from __future__ import annotations

from typing import Any

from conformance.core.outcomes import CaseResult, Fault, Outcome, SkipCause
from conformance.core.transcript import (
    ClientStepEntry,
    PeerStepEntry,
    SessionEndEntry,
    TranscriptEntry,
    VariablesEntry,
)
from conformance.report import signatures

UNDEFINED = {"$type": "undefined"}
OPENED = {"op": "await", "socket": "s1", "promise": "opened", "timeout_ms": 5000}


def _case(case_id: str, *entries: TranscriptEntry, outcome: Outcome = Outcome.FAIL, **fields: Any) -> CaseResult:
    transcript: list[TranscriptEntry] = [VariablesEntry({"peer.port": 40000}), *entries]
    return CaseResult(case_id, outcome, "must", transcript=transcript, **fields)


def _client(
    action: str, observed: dict[str, Any], expected: Any, request: dict[str, Any] | None = None
) -> ClientStepEntry:
    return ClientStepEntry(
        2, 10, action, request=request or {"op": action}, observed=observed, expected=expected, problem="differs"
    )


def _connected(step: int = 1) -> ClientStepEntry:
    """A step that went as expected: no problem, so not the divergence."""
    return ClientStepEntry(
        step, 5, "connect", request={"op": "connect"}, observed={"status": "returned", "value": {"socket": "s1"}}
    )


def test_opened_resolving_with_undefined_is_one_signature_where_the_case_wants_it_resolved() -> None:
    # node-socket's opened resolves with undefined: every case that wants opened resolved (whatever
    # value it checks, or settled, or resolved among other options) diverges for that one reason.
    resolved = {"status": "resolved", "value": UNDEFINED}
    info = _case(
        "a.info", _connected(), _client("await", resolved, {"resolves": {"remoteAddress": "1.2.3.4:80"}}, OPENED)
    )
    settled = _case("a.settled", _connected(), _client("await", resolved, {"settles": {}}, OPENED))
    either = _case(
        "a.either",
        _connected(),
        _client("await", resolved, {"any_of": [{"rejects": {"name": "Error"}}, {"resolves": {}}]}, OPENED),
    )
    expected = "await opened: value is undefined, expected SocketInfo"
    assert [signatures.of_case(c) for c in (info, settled, either)] == [expected] * 3


def test_opened_resolving_where_a_rejection_or_a_pending_promise_was_expected_is_the_resolution() -> None:
    # A SocketInfo would not make these pass: the promise must reject or wait (the policy cases
    # node-socket and Miniflare both fail, whatever value opened resolves with).
    resolved = {"status": "resolved", "value": UNDEFINED}
    refused = _case("a.refused", _connected(), _client("await", resolved, {"rejects": {"name": "Error"}}, OPENED))
    pending = _case("a.pending", _connected(), _client("await", resolved, {"pending": {"for": "100ms"}}, OPENED))
    assert signatures.of_case(refused) == "await opened: resolved with undefined, expected a rejection"
    assert signatures.of_case(pending) == "await opened: resolved with undefined, expected to stay pending"


def test_a_resolution_of_the_right_class_where_a_rejection_was_expected() -> None:
    seen = {"status": "resolved", "value": {"remoteAddress": "104.16.0.1:443", "localAddress": UNDEFINED}}
    case = _case(
        "policy.x", _client("await", seen, {"rejects": {"name": "Error", "message": {"$regex": "^proxy"}}}, OPENED)
    )
    assert signatures.of_case(case) == "await opened: resolved with SocketInfo, expected a rejection"


def test_a_throw_where_a_socket_was_expected_names_the_error_and_its_normalised_message() -> None:
    def threw(port: int) -> CaseResult:
        error = {"name": "TypeError", "message": f"connect ECONNREFUSED 127.0.0.1:{port} after 1500 ms"}
        return _case(f"x.{port}", _client("connect", {"status": "threw", "error": error}, {"returns": "socket"}))

    first, second = signatures.of_case(threw(41234)), signatures.of_case(threw(5555))
    assert first == 'connect: threw TypeError "connect ECONNREFUSED ADDRESS after N ms", expected a Socket'
    assert first == second, "the same root cause in cases with other ports gives the same signature"


def test_another_error_message_is_the_difference_and_the_expected_one_is_left_out() -> None:
    def parsed(expected: str) -> CaseResult:
        observed = {"status": "threw", "error": {"name": "TypeError", "message": "Invalid URL"}}
        return _case("a", _client("connect", observed, {"throws": {"name": "TypeError", "message": expected}}))

    assert (
        signatures.of_case(parsed("Specified address could not be parsed."))
        == signatures.of_case(parsed("Specified address is empty string."))
        == 'connect: threw TypeError "Invalid URL", expected another message'
    )


def test_another_error_name() -> None:
    observed = {"status": "threw", "error": {"name": "RangeError", "message": "Port should be >= 0 and < 65536."}}
    case = _case("a", _client("connect", observed, {"throws": {"name": "TypeError"}}))
    assert signatures.of_case(case) == 'connect: threw RangeError "Port should be >= N and < N.", expected a TypeError'


def test_a_value_of_the_same_class_and_a_property() -> None:
    size = _case("a", _client("desired_size", {"status": "returned", "value": 16384}, {"returns": 1024}))
    assert signatures.of_case(size) == "desired_size: value is another number"
    upgraded = _case(
        "b",
        _client(
            "get", {"status": "returned", "value": UNDEFINED}, {"returns": False}, {"op": "get", "property": "upgraded"}
        ),
    )
    assert signatures.of_case(upgraded) == "get upgraded: value is undefined, expected false"
    address = _case(
        "c",
        _client(
            "await",
            {"status": "resolved", "value": {"remoteAddress": "localhost:1234"}},
            {"resolves": {"remoteAddress": "127.0.0.1:1234"}},
            OPENED,
        ),
    )
    assert signatures.of_case(address) == "await opened: value.remoteAddress is another string"


def test_reads_by_what_they_resolved_with() -> None:
    pending = _case("a", _client("read", {"status": "pending", "promise": "p7"}, {"done": True}))
    assert signatures.of_case(pending) == "read: still pending, expected the end of the stream (done)"
    ended = _case("b", _client("read", {"status": "resolved", "value": {"done": True}}, {"rejects": "any"}))
    assert signatures.of_case(ended) == "read: resolved with the end of the stream (done), expected a rejection"
    chunk = {"done": False, "value": {"$type": "bytes", "b64": "aGk=", "view": "Uint8Array"}}
    early = _case("c", _client("read", {"status": "resolved", "value": chunk}, {"done": True}))
    assert signatures.of_case(early) == "read: resolved with a chunk, expected the end of the stream (done)"


def test_any_of_lists_what_would_have_done() -> None:
    observed = {"status": "rejected", "error": {"name": "Error", "message": "write after end"}}
    expected = {"any_of": [{"rejects": {"name": "TypeError"}}, {"throws": {"name": "TypeError"}}]}
    case = _case("a", _client("write", observed, expected))
    assert signatures.of_case(case) == 'write: rejected with Error "write after end", expected a rejection or a throw'


def test_peer_steps() -> None:
    arrived = PeerStepEntry(
        3,
        12,
        "peer.accept",
        request={"peer": "accept"},
        observed={"accepted": True, "name": "c1", "remote_address": "127.0.0.1:51234"},
        expected={"no_connection": {"for": "300ms"}},
        problem="a connection arrived, but none was expected",
    )
    assert signatures.of_case(_case("a", arrived)) == "peer.accept: a connection arrived, expected none"
    silence = PeerStepEntry(4, 13, "peer.expect_eof", observed={"seen": "silence"}, problem="saw nothing")
    assert signatures.of_case(_case("b", silence)) == "peer.expect_eof: saw nothing, expected EOF (FIN)"
    handshake = PeerStepEntry(
        4,
        14,
        "peer.start_tls",
        observed={"ok": False, "version": None, "error": "the TLS handshake did not finish within 5.0 s"},
        problem="handshake.ok: expected true, got false",
    )
    assert signatures.of_case(_case("c", handshake)) == (
        "peer.start_tls: the TLS handshake failed (the TLS handshake did not finish within N s), expected it to succeed"
    )


def test_the_end_of_the_session() -> None:
    rejection = {"name": "TypeError", "message": "SocketError: connect ECONNREFUSED [::1]:4567"}
    end = SessionEndEntry(
        None, {"status": "returned", "value": {"open_sockets": 0, "unhandled_rejections": [rejection]}}, True
    )
    assert signatures.of_case(_case("a", _connected(), end)) == (
        'end of session: an unhandled rejection, TypeError "SocketError: connect ECONNREFUSED ADDRESS", expected none'
    )


def test_errors_timeouts_and_what_has_no_signature() -> None:
    error = _case(
        "a",
        _connected(),
        outcome=Outcome.ERROR,
        fault=Fault.ADAPTER,
        message="step 2 (read, line 9): adapter answered unsupported: no reader at 127.0.0.1:8080",
    )
    assert signatures.of_case(error) == "read: error (adapter): adapter answered unsupported: no reader at ADDRESS"
    timeout = _case("b", _connected(), outcome=Outcome.TIMEOUT, message="the case exceeded its deadline of 30 s")
    assert signatures.of_case(timeout) == "timeout: the case exceeded its deadline after connect"
    assert signatures.of_case(_case("c", _connected(), outcome=Outcome.PASS)) is None
    skipped = _case("d", outcome=Outcome.SKIP, skipped_by=SkipCause.ADAPTER, message="needs tls")
    assert signatures.of_case(skipped) is None


def test_grouped_orders_by_how_many_cases_each_explains_and_keeps_the_run_order_inside() -> None:
    resolved = {"status": "resolved", "value": UNDEFINED}
    opened = [
        _case(f"o{i}", _client("await", resolved, {"resolves": {"remoteAddress": "x:1"}}, OPENED)) for i in (3, 1, 2)
    ]
    threw = _case("t", _client("connect", {"status": "threw", "error": {"name": "TypeError"}}, {"returns": "socket"}))
    groups = signatures.grouped([threw, *opened, _case("p", outcome=Outcome.PASS)])
    assert [(group.signature, group.cases) for group in groups] == [
        ("await opened: value is undefined, expected SocketInfo", ("o3", "o1", "o2")),
        ("connect: threw TypeError, expected a Socket", ("t",)),
    ]


def test_normalise_strips_what_differs_from_case_to_case() -> None:
    text = (
        "connect to [2606:4700::1]:443, 104.16.0.1:80 and localhost:8443 failed after 2 tries; sha 0123456789abcdef01"
    )
    assert signatures.normalise(text) == "connect to ADDRESS, ADDRESS and localhost:PORT failed after N tries; sha HEX"
    assert signatures.normalise("first line\nsecond") == "first line"
    assert len(signatures.normalise("x" * 500)) == signatures.TEXT_LIMIT
