"""The peer's calls (`conformance_peer.calls`): each is the method of its op on `PeerSession`, field for
parameter; it travels as its control message and comes back equal; its answer comes back as the
result types it declares and no other; and the module, like the package, loads no server."""

import dataclasses
import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conformance_peer import (
    Accepted,
    ChunkPlan,
    Done,
    Echoed,
    EndSeen,
    NoConnection,
    PeerCall,
    PeerSession,
    Received,
    Sent,
    TlsInfo,
)
from conformance_peer.calls import (
    ARGUMENTS,
    CALLS,
    Accept,
    Close,
    Echo,
    Recv,
    Reset,
    Send,
    ShutdownWrite,
    StartTls,
    WaitEnd,
)
from conformance_peer.wire import WireError
from conformance_peer.wire import to_wire as value_to_wire
from control_support import VALID_ARGUMENT
from hypothesis import given
from hypothesis import strategies as st

from conformance.protocol import peer_messages

SERVERS = Path(__file__).resolve().parents[3] / "servers"

texts = st.text(min_size=1, max_size=12)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
plans = st.none() | st.builds(ChunkPlan, min=st.just(1), max=st.integers(1, 99), seed=st.integers(-(2**40), 2**40))
calls = st.one_of(
    st.builds(Accept, name=texts, timeout=seconds),
    st.builds(Send, conn=texts, data=st.binary(max_size=200), chunks=plans, timeout=seconds),
    st.builds(Recv, conn=texts, n=st.none() | st.integers(0, 2**40), timeout=seconds, digest=st.booleans()),
    st.builds(WaitEnd, conn=texts, timeout=seconds),
    st.builds(Echo, conn=texts, chunks=plans, timeout=seconds),
    st.builds(StartTls, conn=texts, timeout=seconds),
    st.builds(ShutdownWrite, conn=texts),
    st.builds(Close, conn=texts),
    st.builds(Reset, conn=texts),
)

ONE_RESULT_OF: dict[type, Any] = {
    Accepted: Accepted("c", "127.0.0.1:5", TlsInfo(ok=True, version="TLSv1.3", sni="localhost")),
    NoConnection: NoConnection("c", 0.5),
    Sent: Sent(5, 2, False, False),
    Received: Received(b"abc", "0" * 64, 3, None, False),
    EndSeen: EndSeen("data", b"x"),
    Echoed: Echoed(3, "eof", False),
    TlsInfo: TlsInfo(ok=False, error="[SSL] alert"),
    Done: Done(),
}


@pytest.mark.parametrize("op", sorted(CALLS))
def test_each_call_is_the_session_method_of_its_op_field_for_parameter(op: str) -> None:
    method = getattr(PeerSession, op)
    assert inspect.iscoroutinefunction(method), op
    parameters = list(inspect.signature(method).parameters)[1:]
    assert parameters == [field.name for field in dataclasses.fields(CALLS[op])]


def test_every_argument_rule_is_some_calls() -> None:
    used = {field.name for call in CALLS.values() for field in dataclasses.fields(call)}
    assert used == set(ARGUMENTS)


def test_an_op_has_one_call() -> None:
    with pytest.raises(TypeError, match="two calls of op 'close'"):

        @dataclasses.dataclass(frozen=True)
        class AnotherClose(PeerCall, op="close", results=(Done,)):
            conn: str

    assert CALLS["close"] is Close


@given(calls)
def test_a_call_comes_back_equal_from_its_message_and_the_message_is_valid(call: PeerCall) -> None:
    message = json.loads(json.dumps(call.as_message()))
    assert PeerCall.from_message(message) == call
    assert type(PeerCall.from_message(message)) is type(call)
    assert peer_messages.request_problem({"id": 1, "session": "1", **message}) is None


def test_the_message_holds_the_op_and_every_argument_by_name() -> None:
    call = Send("c", b"hi", ChunkPlan(1, 2, 3), 1.5)
    assert call.as_message() == {
        "op": "send",
        "args": {"conn": "c", "data": {"b64": "aGk="}, "chunks": value_to_wire(ChunkPlan(1, 2, 3)), "timeout": 1.5},
    }
    assert call.args() == {"conn": "c", "data": b"hi", "chunks": ChunkPlan(1, 2, 3), "timeout": 1.5}
    assert (call.time_limit(), Close("c").time_limit()) == (1.5, None)


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (
            {"op": "send", "args": {"conn": "c", "data": {"b64": "aGk="}, "chunks": None}},
            "send: args.timeout is missing",
        ),
        ({"op": "recv", "args": {"conn": "c", "n": -1, "timeout": 1, "digest": False}}, "recv: args.n must be"),
        ({"op": "close", "args": {"conn": "c", "colour": "blue"}}, "close: args has no field(s) colour"),
        ({"op": "close"}, "close: args is missing"),
        ({"op": "open_session", "args": {}}, '"open_session" is not an op of a peer session'),
        ({"op": 5, "args": {}}, "5 is not an op of a peer session"),
    ],
)
def test_a_wrong_message_is_refused_naming_the_field(message: dict[str, Any], text: str) -> None:
    with pytest.raises(WireError) as raised:
        PeerCall.from_message(message)
    assert text in str(raised.value)


def test_a_subclass_reads_only_its_own_op() -> None:
    assert Close.from_message({"op": "close", "args": {"conn": "c"}}) == Close("c")
    with pytest.raises(WireError, match="not an op"):
        Close.from_message({"op": "reset", "args": {"conn": "c"}})


@pytest.mark.parametrize("op", sorted(CALLS))
def test_an_answer_comes_back_as_one_of_the_ops_result_types_and_no_other(op: str) -> None:
    call = CALLS[op]
    instance = PeerCall.from_message(
        {"op": op, "args": {field.name: VALID_ARGUMENT[field.name] for field in dataclasses.fields(call)}}
    )
    for kind, result in ONE_RESULT_OF.items():
        answer = json.loads(json.dumps(instance.result_to_wire(result)))
        if kind in call.results:
            assert instance.result_from_wire(answer) == result
            assert peer_messages.response_problem(op, {"id": 1, "ok": True, "result": answer}) is None
        else:
            with pytest.raises(WireError, match=f"^{op} answers "):
                instance.result_from_wire(answer)


def test_done_travels_as_null() -> None:
    assert Close("c").result_to_wire(Done()) is None
    assert Close("c").result_from_wire(None) == Done()


def loaded_by(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=SERVERS, capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stdout))


def test_the_package_loads_none_of_its_modules_and_the_calls_no_server() -> None:
    package = loaded_by("import conformance_peer")
    assert sorted(name for name in package if name.startswith("conformance_peer.")) == []
    calls = loaded_by("import conformance_peer.calls; conformance_peer.Accepted")
    assert {"ssl", "_ssl", "asyncio", "conformance_peer._session", "conformance_peer.control"}.isdisjoint(calls)
    assert "conformance_peer._results" in calls


def test_a_name_the_package_does_not_have_is_an_attribute_error() -> None:
    import conformance_peer

    assert conformance_peer.Done is Done
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = conformance_peer.Nothing  # type: ignore[attr-defined]
