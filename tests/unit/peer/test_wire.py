"""The control protocol's encoding (`conformance_peer.wire`): every value the peer returns or takes
comes back equal after a trip through JSON text; what it would never produce is refused."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from conformance_peer import (
    Accepted,
    ChunkPlan,
    Echoed,
    EndSeen,
    ListenerSpec,
    NoConnection,
    PeerError,
    Received,
    Sent,
    TlsInfo,
    UnknownConnection,
    UnsupportedListener,
    _requests,
    wire,
)
from hypothesis import given
from hypothesis import strategies as st

texts = st.text(max_size=20)
maybe_text = st.none() | texts
counts = st.integers(min_value=0, max_value=2**40)
tls_infos = st.builds(
    TlsInfo, ok=st.booleans(), version=maybe_text, sni=maybe_text, cipher=maybe_text, error=maybe_text
)
ends = st.sampled_from([None, "eof", "reset"])
results = st.one_of(
    st.builds(Accepted, name=texts, remote_address=texts, tls=st.none() | tls_infos),
    st.builds(NoConnection, name=texts, waited=st.floats(min_value=0, max_value=1e6)),
    st.builds(Sent, length=counts, chunks=counts, timed_out=st.booleans(), reset=st.booleans()),
    st.builds(
        Received,
        data=st.none() | st.binary(max_size=300),
        sha256=st.text("0123456789abcdef", min_size=64, max_size=64),
        length=counts,
        ended=ends,
        timed_out=st.booleans(),
    ),
    st.builds(EndSeen, kind=st.sampled_from(["eof", "reset", "data", "silence"]), data=st.binary(max_size=300)),
    st.builds(Echoed, length=counts, ended=ends, timed_out=st.booleans()),
    tls_infos,
)


def through_json(value: Any) -> Any:
    return wire.from_wire(json.loads(json.dumps(wire.to_wire(value))))


@given(results)
def test_every_result_comes_back_equal_and_of_its_type(result: Any) -> None:
    back = through_json(result)
    assert back == result
    assert type(back) is type(result)


@given(st.binary(max_size=2000), st.none() | st.builds(ChunkPlan, min=st.just(1), max=st.integers(1, 99), seed=counts))
def test_op_arguments_come_back_equal(data: bytes, chunks: ChunkPlan | None) -> None:
    args = {"conn": "c", "data": data, "chunks": chunks, "timeout": 2.5}
    assert through_json(args) == args


def test_bytes_are_base64_and_dataclasses_name_their_type() -> None:
    assert wire.to_wire(b"\x00hi") == {"b64": "AGhp"}
    assert wire.to_wire(EndSeen("data", b"x")) == {"type": "EndSeen", "kind": "data", "data": {"b64": "eA=="}}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"b64": "not base64!"}, "invalid base64"),
        ({"b64": "AA==", "extra": 1}, "nothing else"),
        ({"type": "Popen", "args": "sh"}, "unknown value type 'Popen'"),
        ({"type": "Sent", "length": 1, "chunks": 1, "timed_out": False, "reset": False, "x": 1}, "no field(s) x"),
        ({"type": "Sent", "length": 1}, "Sent:"),
        ({"type": "ChunkPlan", "min": 5, "max": 1, "seed": 0}, "ChunkPlan:"),
    ],
)
def test_what_it_would_not_produce_is_refused(value: dict[str, Any], problem: str) -> None:
    with pytest.raises(wire.WireError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        wire.from_wire(value)


def test_only_the_peers_own_types_travel() -> None:
    @dataclass
    class Other:
        x: int

    with pytest.raises(TypeError, match="Other cannot travel"):
        wire.to_wire(Other(1))


def test_a_listener_spec_travels_whole_and_an_unknown_field_is_refused_by_name() -> None:
    spec = ListenerSpec(kind="starttls", host="::1", cert="expired")
    assert _requests.LISTENER.parse(json.loads(json.dumps(wire.listener_to_wire(spec))), "listener") == spec
    with pytest.raises(UnsupportedListener, match=r"does not know the listener field.s. colour"):
        _requests.LISTENER.parse({"kind": "plain", "colour": "blue"}, "listener")


@pytest.mark.parametrize(
    "error",
    [PeerError("no such thing"), UnknownConnection("conn2"), UnsupportedListener("kind 'udp' is not served")],
)
def test_the_peers_errors_are_raised_again_as_themselves(error: Exception) -> None:
    back = wire.error_from_wire(json.loads(json.dumps(wire.error_to_wire(error))))
    assert type(back) is type(error)
    assert str(back) == str(error)


def test_an_os_error_keeps_its_errno_and_anything_else_is_an_internal_error() -> None:
    back = wire.error_from_wire(wire.error_to_wire(OSError(98, "Address already in use")))
    assert isinstance(back, OSError)
    assert back.errno == 98
    assert "Address already in use" in str(back)
    assert wire.error_to_wire(KeyError("x")) == {"type": "InternalError", "message": "KeyError: 'x'"}
