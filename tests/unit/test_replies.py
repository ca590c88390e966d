"""Typed replies: a schema-valid response that makes no sense for its op names the op and the field."""

from __future__ import annotations

import pytest

from conformance.protocol.replies import (
    SHAPE_OF_OP,
    EndReport,
    HelloInfo,
    ReadChunk,
    Received,
    ReplyShapeError,
    Status,
    parse,
)


def reply(**fields: object) -> dict[str, object]:
    return {"seq": 1, **fields}


def test_a_returned_socket_is_its_handle() -> None:
    parsed = parse("connect", reply(status="returned", value={"socket": "s1"}), "socket")
    assert parsed.status is Status.RETURNED
    assert parsed.typed == "s1"


@pytest.mark.parametrize("value", ["x", {}, {"socket": ""}, {"socket": 7}, None])
def test_a_socket_op_that_returns_no_handle_is_a_shape_error(value: object) -> None:
    with pytest.raises(ReplyShapeError, match=r"^connect: value: expected \{socket: <handle>\}"):
        parse("connect", reply(status="returned", value=value), "socket")


def test_a_throw_needs_no_socket() -> None:
    parsed = parse("connect", reply(status="threw", error={"name": "TypeError", "message": "m"}), "socket")
    assert parsed.typed is None
    assert parsed.error == {"name": "TypeError", "message": "m"}


def test_read_results_are_typed() -> None:
    chunk = parse(
        "read", reply(status="resolved", value={"done": False, "value": {"$type": "bytes", "b64": "aGk="}}), "read"
    )
    assert chunk.typed == ReadChunk(done=False, data=b"hi", view=None)
    done = parse("await", reply(status="resolved", value={"done": True}), "read")
    assert done.typed == ReadChunk(done=True)
    text = parse("read", reply(status="resolved", value={"done": False, "value": "hi"}), "read")
    assert text.typed.other == "hi"
    assert text.typed.data is None


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"done": False, "value": {"$type": "bytes", "b64": "!!"}}, "value.value.b64"),
        ({"done": "no"}, "value"),
        ("x", "value"),
    ],
)
def test_a_read_that_makes_no_sense_names_the_field(value: object, field: str) -> None:
    with pytest.raises(ReplyShapeError, match=rf"^read: {field}: "):
        parse("read", reply(status="resolved", value=value), "read")


def test_read_bytes_checks_its_length_against_its_data() -> None:
    good = parse(
        "read_bytes",
        reply(status="resolved", value={"length": 2, "done": False, "data": {"$type": "bytes", "b64": "aGk="}}),
        "read_bytes",
    )
    assert good.typed == Received(length=2, done=False, data=b"hi")
    with pytest.raises(ReplyShapeError, match="says 3 bytes, but data holds 2"):
        parse(
            "read_bytes",
            reply(status="resolved", value={"length": 3, "done": False, "data": {"$type": "bytes", "b64": "aGk="}}),
            "read_bytes",
        )
    with pytest.raises(ReplyShapeError, match=r"data \(bytes\) or sha256"):
        parse("read_bytes", reply(status="resolved", value={"length": 3, "done": False}), "read_bytes")


def test_end_and_hello_are_typed() -> None:
    end = parse("end", reply(status="returned", value={"open_sockets": 1, "unhandled_rejections": []}), "end")
    assert end.typed == EndReport(1, [])
    with pytest.raises(ReplyShapeError, match=r"^end: value\.open_sockets"):
        parse("end", reply(status="returned", value={"open_sockets": -1, "unhandled_rejections": []}), "end")
    hello = parse(
        "hello",
        reply(
            status="returned",
            value={"name": "x", "version": "1", "runtime": "r", "protocol": 1, "capabilities": ["tls"]},
        ),
        "hello",
    )
    assert hello.typed == HelloInfo("x", "1", "r", 1, frozenset({"tls"}))


def test_an_await_is_shaped_by_the_op_that_made_the_promise() -> None:
    with pytest.raises(ReplyShapeError, match=r"^await: value"):
        parse("await", reply(status="resolved", value="x"), "read_bytes")
    assert parse("await", reply(status="resolved", value="x")).value == "x"


def test_the_adapter_checker_reports_shape_problems_like_the_client() -> None:
    from conformance.protocol.messages import reply_problem

    assert reply_problem("connect", reply(status="returned", value={"socket": "s1"})) is None
    assert reply_problem("connect", reply(status="returned", value="x")) == (
        'connect: value: expected {socket: <handle>} for the returned socket, got "x"'
    )
    assert "status" in (reply_problem("connect", reply(status="maybe")) or "")


@pytest.mark.parametrize(
    ("op", "value"), [("same", True), ("same", False), ("desired_size", 16), ("desired_size", None)]
)
def test_same_and_desired_size_values_are_typed(op: str, value: object) -> None:
    parsed = parse(op, reply(status="returned", value=value), SHAPE_OF_OP[op])
    assert parsed.typed == value


@pytest.mark.parametrize(
    ("op", "value"), [("same", 1), ("same", "true"), ("desired_size", "1"), ("desired_size", True)]
)
def test_same_and_desired_size_that_make_no_sense_are_shape_errors(op: str, value: object) -> None:
    with pytest.raises(ReplyShapeError, match=rf"^{op}: value: expected"):
        parse(op, reply(status="returned", value=value), SHAPE_OF_OP[op])


def test_a_url_value_round_trips_and_reads_like_a_whatwg_url() -> None:
    from conformance.core.jsvalues import JSURL, decode, encode

    url = decode({"$type": "url", "href": "HTTP://User@LocalHost:0080/x"})
    assert url == JSURL("HTTP://User@LocalHost:0080/x")
    assert encode(url) == {"$type": "url", "href": "HTTP://User@LocalHost:0080/x"}
    assert (url.hostname, url.port) == ("localhost", "")  # 80 is http's default port
    assert (JSURL("https://[::1]:8443/").hostname, JSURL("https://[::1]:8443/").port) == ("[::1]", "8443")
