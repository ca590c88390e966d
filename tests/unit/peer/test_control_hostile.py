"""The peer service against hostile or broken clients (issue 19): a client without the token can cost
it only a short line, a short wait and one of a few slots; every malformed line or field gets a typed
answer naming what is wrong, never a traceback; and the service goes on serving its harness."""

import asyncio
import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from conformance_peer import control
from control_support import TOKEN, VALID, JsonClient, client, service

HELLO = {"id": 1, "op": "hello", "protocol": 1, "token": TOKEN}


def line(message: Any) -> bytes:
    return json.dumps(message).encode() + b"\n"


def assert_quiet(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing went wrong inside the service: no error logged, no traceback printed."""
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert "Traceback" not in capsys.readouterr().err


async def still_serves(port: int) -> dict[str, Any]:
    """A new client says hello and opens a session: what the service is for still works."""
    async with client(port) as c:
        return await c.call("open_session", listener={"kind": "plain"})


# Defect 2: before the token is checked, a line, a wait and the number of connections are small.


def test_before_hello_a_line_of_more_than_a_few_kib_is_refused_without_waiting_for_its_end(
    run: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    async def scenario() -> tuple[dict[str, Any], bool, dict[str, Any]]:
        async with service() as (port, _):
            async with client(port, hello=False) as c:
                # One segment on loopback, so the service has read all of it when it hangs up.
                c.writer.write(b'{"id": 1, "op": "hello", "protocol": 1, "token": "' + b"a" * 16 * 1024)
                answer, closed = await c.answer(), await c.closed()
            return answer, closed, await still_serves(port)

    answer, closed, served = run(scenario())
    assert answer["id"] is None
    assert answer["error"]["type"] == "ProtocolError"
    assert answer["error"]["message"] == f"a line is over {control.HELLO_MAX_LINE} bytes"
    assert control.HELLO_MAX_LINE <= 16 * 1024
    assert closed
    assert served["ok"] is True
    assert_quiet(caplog, capsys)


def test_a_client_silent_before_hello_is_told_and_dropped(
    run: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(control, "HELLO_TIMEOUT", 0.2)

    async def scenario() -> tuple[dict[str, Any], bool]:
        async with service() as (port, _), client(port, hello=False) as c:
            return await c.answer(), await c.closed()

    answer, closed = run(scenario())
    assert answer == {"id": None, "ok": False, "error": {"type": "ProtocolError", "message": "no hello within 0.2 s"}}
    assert closed
    assert_quiet(caplog, capsys)


def test_connections_waiting_to_say_hello_are_few_and_a_further_one_is_turned_away_at_once(
    run: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # raising=False: the test must fail, not error, against a service without the bound.
    monkeypatch.setattr(control, "MAX_GREETING", 3, raising=False)
    monkeypatch.setattr(control, "HELLO_TIMEOUT", 60)  # only the bound may answer within the test

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        async with service() as (port, _):
            clients = [JsonClient(*await asyncio.open_connection("127.0.0.1", port)) for _ in range(4)]
            reads = {asyncio.ensure_future(c.reader.readline()): c for c in clients}
            done, _ = await asyncio.wait(reads, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            refused = [json.loads(read.result()) for read in done]
            waiting = [c for read, c in reads.items() if read not in done]
            for read in reads:
                read.cancel()
            # A waiting client that says hello is served, and its slot goes to the next newcomer.
            welcomed = await waiting[0].call("hello", protocol=1, token=TOKEN)
            newcomer = await still_serves(port)
            for c in clients:
                c.writer.close()
            return refused, welcomed, newcomer

    refused, welcomed, newcomer = run(scenario())
    assert refused == [
        {
            "id": None,
            "ok": False,
            "error": {"type": "ProtocolError", "message": "3 connections are waiting to say hello already"},
        }
    ]
    assert welcomed["ok"] is True
    assert newcomer["ok"] is True
    assert_quiet(caplog, capsys)


# Defect 3: a malformed line gets a typed answer, before or after the token, and nobody else notices.


@pytest.mark.parametrize(
    ("sent", "kind", "text"),
    [
        (b'{"id": 1, "op": "hello", "protocol": 1, "token": "\\ud800"}\n', "Unauthorized", "wrong token"),
        (line({**HELLO, "token": {"$ne": ""}}), "Unauthorized", "wrong token"),
        (b"[" * 100_000 + b"\n", "ProtocolError", "a line is over"),
        (b"[" * 3_000 + b"\n", "ProtocolError", "nests too deep"),
        (b'{"id": 1, "op": "hello", "token": "\xff"}\n', "ProtocolError", "not UTF-8"),
        (b"NaN\n", "ProtocolError", "not JSON"),
        (line([HELLO]), "ProtocolError", "a request is a JSON object, not an array"),
        (line({**HELLO, "id": True}), "ProtocolError", "id must be an integer of at least 0, not true"),
        (line({**HELLO, "id": -1}), "ProtocolError", "id must be an integer of at least 0, not -1"),
        (line({**HELLO, "op": ["hello"]}), "ProtocolError", "the first request must be hello"),
    ],
)
def test_a_malformed_first_line_is_answered_and_the_service_goes_on(
    run: Any,
    sent: bytes,
    kind: str,
    text: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def scenario() -> tuple[dict[str, Any], bool, dict[str, Any]]:
        async with service() as (port, _):
            async with client(port, hello=False) as c:
                c.writer.write(sent)
                answer, closed = await c.answer(), await c.closed()
            return answer, closed, await still_serves(port)

    answer, closed, served = run(scenario())
    assert answer["ok"] is False
    assert answer["error"]["type"] == kind
    assert text in answer["error"]["message"]
    assert closed
    assert served["ok"] is True
    assert_quiet(caplog, capsys)


@pytest.mark.parametrize(
    ("sent", "text", "goes_on"),
    [
        (b"[" * 100_000 + b"\n", "nests too deep", False),
        (b'{"a": ' * 3_000 + b"1" + b"}" * 3_000 + b"\n", "nests too deep", False),
        (
            b'{"id": 7, "op": "accept", "session": "1", "args": {"name": "\\udfff", "timeout": 0}}\n',
            'accept: args.name must be Unicode text, not "\\udfff"',
            True,
        ),
        (
            b'{"id": 7, "op": "send", "session": "1", "args": {"conn": "c", "data": '
            + b"[" * 500
            + b"]" * 500
            + b', "chunks": null, "timeout": 1}}\n',
            "send: args.data must be bytes",
            True,
        ),
    ],
)
def test_a_malformed_line_after_hello_is_answered_and_the_service_goes_on(
    run: Any,
    sent: bytes,
    text: str,
    goes_on: bool,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
        async with service() as (port, _):
            async with client(port) as c:
                await c.call("open_session", listener={"kind": "plain"})
                c.writer.write(sent)
                answer = await c.answer()
                after = await c.call("close_session", session="1") if goes_on else None
                if not goes_on:
                    assert await c.closed(), "a line that is not a request ends the connection"
            return answer, after, await still_serves(port)

    answer, after, served = run(scenario())
    assert answer["ok"] is False
    assert answer["error"]["type"] == "ProtocolError"
    assert text in answer["error"]["message"]
    assert answer["id"] == (7 if goes_on else None)
    assert after is None or after["ok"] is True
    assert served["ok"] is True
    assert_quiet(caplog, capsys)


# Defect 4: every field of every request is checked, and a wrong one is named.

NOT_AN_INTEGER = [True, False, 1.5, 1.0, "1", [], {}]
NOT_TEXT = [5, True, [], {}, "\ud800"]
WRONG: dict[str, list[Any]] = {
    "target": [None, -1, *NOT_AN_INTEGER],
    "port": [None, -1, 65536, *NOT_AN_INTEGER],
    "min": [None, 0, *NOT_AN_INTEGER],
    "max": [None, 0, *NOT_AN_INTEGER],
    "seed": [None, *NOT_AN_INTEGER],
    "n": [-1, *NOT_AN_INTEGER],  # null is a valid n: read to the end
    "timeout": [None, -1, -0.5, True, "1", [], {}],
    "digest": [None, 0, 1, "true", [], {}],
    "name": [None, "", *NOT_TEXT],
    "data": [None, "aGk=", {"b64": 5}, {"b64": "%%"}, {"b64": "é"}, {"b64": "aGk=", "more": 1}, []],
    "chunks": ["x", 5, [], {"min": 1, "max": 2, "seed": 3}, {"type": "Oops", "min": 1, "max": 2, "seed": 3}],
}
"""Wrong values by field name; any other field holds a string (NOT_TEXT) or an object ("x", [], null)."""


def wrong_requests() -> Iterator[tuple[dict[str, Any], str, str]]:
    """Each valid request with one field wrong, missing or added: (request, the field's path, the error type)."""

    def walk(op: str, request: dict[str, Any], node: dict[str, Any], path: list[str]) -> Iterator[Any]:
        listener = path[:1] == ["listener"]
        in_map = path[-1:] == ["certificates"]  # a map of certificates may name any certificate, or none
        for name, value in node.items():
            if name == "op":
                continue
            where = ".".join([*path, name])
            if isinstance(value, dict) and name != "data":
                yield from walk(op, request, value, [*path, name])
            wrongs = WRONG.get(name) or (["x", [], None] if isinstance(value, dict) else [None, *NOT_TEXT])
            for wrong in wrongs:
                yield changed(request, [*path, name], wrong), where, "ProtocolError"
            if not listener and not in_map:  # a ListenerSpec's fields all have defaults
                yield changed(request, [*path, name], ...), where, "ProtocolError"
        if not in_map:
            extra = changed(request, [*path, "colour"], "blue")
            yield extra, "colour", "UnsupportedListener" if listener else "ProtocolError"

    for op, fields in VALID.items():
        request = {"op": op, **fields}
        yield from walk(op, request, request, [])


def changed(request: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """The request with the field at `path` set to `value`, or removed for `...`."""
    out = copy.deepcopy(request)
    node = out
    for name in path[:-1]:
        node = node[name]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def test_every_field_of_every_request_is_checked_and_a_wrong_one_is_named(
    run: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = list(wrong_requests())
    assert len(cases) > 300

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with service() as (port, _), client(port) as c:
            await c.call("open_session", listener={"kind": "plain"})
            answers = [await c.call(**request) for request, _, _ in cases]
            return answers, await c.call("open_session", listener=VALID["open_session"]["listener"])

    answers, still = run(scenario())
    wrong = [
        f"{json.dumps(request)[:200]} -> {json.dumps(answer)[:300]}"
        for (request, where, kind), answer in zip(cases, answers, strict=True)
        if answer["ok"]
        or answer["error"]["type"] != kind
        or not answer["error"]["message"].startswith(f"{request['op']}: " if kind == "ProtocolError" else "")
        or where not in answer["error"]["message"]
    ]
    assert wrong == []
    assert still["ok"] is True, "the connection goes on after every refusal"
    assert_quiet(caplog, capsys)


@pytest.mark.parametrize(
    ("listener", "text"),
    [
        ({"host": 5}, "open_session: listener.host must be a string, not 5"),
        ({"port": "80"}, 'open_session: listener.port must be an integer from 0 to 65535, not "80"'),
        ({"port": 1.5}, "open_session: listener.port must be an integer from 0 to 65535, not 1.5"),
        ({"port": True}, "open_session: listener.port must be an integer from 0 to 65535, not true"),
    ],
)
def test_the_listeners_the_probe_found_are_refused_by_field(run: Any, listener: dict[str, Any], text: str) -> None:
    async def scenario() -> dict[str, Any]:
        async with service() as (port, _), client(port) as c:
            return await c.call("open_session", listener=listener)

    answer = run(scenario())
    assert answer["ok"] is False
    assert answer["error"] == {"type": "ProtocolError", "message": text}


@pytest.mark.parametrize(
    ("hello", "text"),
    [
        ({**HELLO, "protocol": True}, "this peer speaks control protocol 1, not true"),
        ({**HELLO, "protocol": 1.0}, "this peer speaks control protocol 1, not 1.0"),
        ({**HELLO, "protocol": "1"}, 'this peer speaks control protocol 1, not "1"'),
        (
            {key: value for key, value in HELLO.items() if key != "protocol"},
            "this peer speaks control protocol 1, not null",
        ),
        ({**HELLO, "colour": "blue"}, "hello: a request has no field(s) colour"),
    ],
)
def test_a_hello_with_the_token_but_a_wrong_field_is_refused_by_field(
    run: Any, hello: dict[str, Any], text: str
) -> None:
    async def scenario() -> tuple[dict[str, Any], bool]:
        async with service() as (port, _), client(port, hello=False) as c:
            c.writer.write(line(hello))
            return await c.answer(), await c.closed()

    answer, closed = run(scenario())
    assert answer == {"id": 1, "ok": False, "error": {"type": "ProtocolError", "message": text}}
    assert closed
