"""The peer control protocol's schema (conformance/schema/peer-control.schema.json): what the peer
service produces validates, what breaks the protocol does not, the fast check agrees with jsonschema;
and the `--peer` values."""

import copy
import json
from typing import Any

import jsonschema
import pytest
from conformance_peer import Accepted, EndSeen, NoConnection, Received, Sent, TlsInfo, wire

from conformance.errors import UsageError
from conformance.peer import choice as peers
from conformance.protocol import peer_messages
from conformance.schema import load

TLS = TlsInfo(ok=True, version="TLSv1.3", sni="localhost", cipher="TLS_AES_256_GCM_SHA384")
VALID_RESPONSES = [
    ("hello", {"protocol": 1, "python": "3.11.2", "openssl": "OpenSSL 3"}),
    ("certificates", {"names": ["good"]}),
    ("open_session", {"session": "1", "port": 4000, "refused_port": 4001, "variables": {"peer.port": 4000}}),
    ("open_session", {"session": "2", "port": None, "refused_port": 4001, "variables": {}}),
    ("accept", wire.to_wire(Accepted("c", "127.0.0.1:5", TLS))),
    ("accept", wire.to_wire(Accepted("c", "127.0.0.1:5", None))),
    ("accept", wire.to_wire(NoConnection("c", 0.5))),
    ("send", wire.to_wire(Sent(5, 2, False, False))),
    ("recv", wire.to_wire(Received(b"abc", "0" * 64, 3, None, False))),
    ("recv", wire.to_wire(Received(None, "0" * 64, 3, "eof", True))),
    ("wait_end", wire.to_wire(EndSeen("data", b"x"))),
    ("start_tls", wire.to_wire(TlsInfo(ok=False, error="[SSL] alert"))),
    ("close", None),
    ("cancel", {"cancelled": False}),
]
VALID_REQUESTS = [
    {"id": 1, "op": "hello", "protocol": 1, "token": "t"},
    {"id": 2, "op": "certificates", "certificates": {"good": {"chain": "A", "key": "B"}}},
    {"id": 3, "op": "open_session", "listener": {"kind": "tls", "host": "::1", "cert": "good", "port": 25}},
    {
        "id": 4,
        "op": "send",
        "session": "1",
        "args": wire.to_wire({"conn": "c", "data": b"x", "chunks": None, "timeout": 1}),
    },
    {"id": 5, "op": "recv", "session": "1", "args": {"conn": "c", "n": None, "timeout": 1, "digest": True}},
    {"id": 6, "op": "cancel", "target": 5},
    {"id": 7, "op": "close_session", "session": "1"},
]


def ok(result: Any) -> dict[str, Any]:
    return {"id": 9, "ok": True, "result": result}


@pytest.mark.parametrize(("op", "result"), VALID_RESPONSES)
def test_what_the_peer_service_answers_is_valid(op: str, result: Any) -> None:
    assert peer_messages.response_problem(op, ok(result)) is None


@pytest.mark.parametrize("request_", VALID_REQUESTS)
def test_what_the_harness_sends_is_valid(request_: dict[str, Any]) -> None:
    assert peer_messages.request_problem(request_) is None


@pytest.mark.parametrize(
    ("op", "answer", "where"),
    [
        ("accept", ok({"type": "Accepted", "name": "c"}), "result"),
        ("accept", ok({**wire.to_wire(Accepted("c", "x", TLS)), "tls": {"ok": True}}), "result/tls"),
        ("send", ok(wire.to_wire(Received(None, "0" * 64, 1, None, False))), "result"),
        (
            "recv",
            ok({**wire.to_wire(Received(b"x", "0" * 64, 1, None, False)), "data": {"b64": "%%"}}),
            "result/data/b64",
        ),
        ("recv", ok({**wire.to_wire(Received(None, "0" * 64, 1, None, False)), "ended": "fin"}), "result/ended"),
        ("open_session", ok({"session": "1", "port": 70000, "refused_port": 1, "variables": {}}), "result/port"),
        ("close", {"id": 1, "ok": False}, "(top level)"),
        ("close", {"id": 1, "ok": False, "error": {"type": "Oops", "message": "x"}}, "error/type"),
    ],
)
def test_an_answer_against_the_protocol_is_named_with_where(op: str, answer: Any, where: str) -> None:
    problem = peer_messages.response_problem(op, answer)
    assert problem is not None
    assert problem.startswith(where + ":")


def test_an_unknown_op_is_refused() -> None:
    assert peer_messages.request_problem({"id": 1, "op": "fork"}) == 'unknown op "fork"'


def mutations(message: Any) -> list[Any]:
    """The message with each field dropped, nulled, or turned into a string, one at a time."""
    out = []
    if isinstance(message, dict):
        for key in message:
            for change in ("drop", None, "zzz"):
                changed = copy.deepcopy(message)
                if change == "drop":
                    del changed[key]
                else:
                    changed[key] = change
                out.append(changed)
            out += [{**message, key: inner} for inner in mutations(message[key])]
    return out


def test_the_fast_check_agrees_with_jsonschema() -> None:
    schema = load(peer_messages.SCHEMA)
    cases = [("responses", op, ok(result)) for op, result in VALID_RESPONSES]
    cases += [("requests", str(r["op"]), r) for r in VALID_REQUESTS]
    cases += [(kind, op, changed) for kind, op, message in list(cases) for changed in mutations(message)]
    assert len(cases) > 400
    for kind, op, message in cases:
        validator = jsonschema.Draft202012Validator({**schema, "$ref": f"#/$defs/{kind}/{op}"})
        assert peer_messages._fast(kind, op)(message) is validator.is_valid(message), json.dumps(message)[:300]


@pytest.mark.parametrize(
    ("value", "choice"),
    [
        ("in-process", peers.PeerChoice()),
        ("docker", peers.PeerChoice(kind="docker")),
        ("tcp://127.0.0.1:7000", peers.PeerChoice(kind="tcp", host="127.0.0.1", port=7000)),
        ("tcp://[::1]:7000", peers.PeerChoice(kind="tcp", host="::1", port=7000)),
    ],
)
def test_peer_values(value: str, choice: peers.PeerChoice, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_CONFORMANCE_PEER_TOKEN", "t")
    assert peers.parse(value) == choice
    assert str(choice) == value


@pytest.mark.parametrize(
    "value", ["", "podman", "tcp://127.0.0.1", "tcp://:80", "tcp://h:0", "tcp://h:99999", "udp://h:1"]
)
def test_bad_peer_values_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError, match="expected in-process, docker or tcp://HOST:PORT"):
        peers.parse(value)


def test_a_tcp_peer_needs_its_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONNECT_CONFORMANCE_PEER_TOKEN", raising=False)
    with pytest.raises(UsageError, match="set CONNECT_CONFORMANCE_PEER_TOKEN"):
        peers.parse("tcp://127.0.0.1:7000")
