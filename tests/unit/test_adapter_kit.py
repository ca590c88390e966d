"""The Python adapter kit (``conformance.adapter_kit``) over an in-memory implementation: the protocol
as interpreter.js speaks it, with what a Python implementation supplies (no sockets here)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from conformance.adapter_kit import (
    OPS,
    UNDEFINED,
    Adapter,
    JSBytes,
    JSError,
    JSThrow,
    Unsupported,
    create_adapter,
    serve_stdio,
)
from conformance.adapter_kit.ops import CLIENT_OPS
from conformance.core.jsvalues import b64
from conformance.engine.actions import ACTIONS, Kind
from conformance.protocol import messages


def run(coroutine: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(coroutine())


def bytes_value(data: bytes) -> dict[str, str]:
    return {"$type": "bytes", "b64": b64(data), "view": "Uint8Array"}


class RecordingFuture(asyncio.Future[Any]):
    """A future that counts the handlers attached to it (B22: the kit attaches none unasked)."""

    handlers = 0

    def add_done_callback(self, fn: Any, *, context: Any = None) -> None:
        self.handlers += 1
        super().add_done_callback(fn, context=context)


class Reader:
    def __init__(self, socket: FakeSocket) -> None:
        self.socket = socket
        self.released = False

    async def read(self) -> Any:
        return self.socket.chunks.pop(0) if self.socket.chunks else None

    def release_lock(self) -> None:
        self.released = True


class Readable:
    def __init__(self, socket: FakeSocket) -> None:
        self.socket = socket
        self.readers: list[Reader] = []

    def get_reader(self) -> Reader:
        if self.readers and not self.readers[-1].released:
            raise JSError("TypeError", "This ReadableStream is currently locked to a reader.")
        self.readers.append(Reader(self.socket))
        return self.readers[-1]


class Writer:
    def __init__(self, socket: FakeSocket) -> None:
        self.socket = socket
        self.desired_size: float | None = 16384.0
        self.ready = asyncio.get_running_loop().create_future()
        self.ready.set_result(UNDEFINED)

    async def write(self, chunk: Any) -> None:
        self.socket.started.append("write")
        if not isinstance(chunk, JSBytes):
            raise JSError("TypeError", "bytes only")
        await self.socket.drained.wait()
        self.socket.written.append(chunk.data)

    def close(self) -> None:  # a plain function: it returns nothing
        self.socket.written.append(b"<FIN>")


class Writable:
    def __init__(self, socket: FakeSocket) -> None:
        self.socket = socket

    def get_writer(self) -> Writer:
        return Writer(self.socket)


class FakeSocket:
    secure_transport = "off"

    def __init__(self, address: Any, opened: asyncio.Future[Any] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.address = address
        self.opened = opened if opened is not None else loop.create_future()
        self.closed = RecordingFuture(loop=loop)
        self.readable = Readable(self)
        self.writable = Writable(self)
        self.chunks: list[Any] = []
        self.written: list[bytes] = []
        self.started: list[str] = []
        self.closes = 0
        #: Writes complete once it is set (a peer that reads).
        self.drained = asyncio.Event()
        self.drained.set()

    def close(self) -> asyncio.Future[Any]:
        self.closes += 1
        if not self.closed.done():
            self.closed.set_result(None)  # a future resolved with None: null, not undefined
        return self.closed

    def start_tls(self, options: Any = UNDEFINED) -> FakeSocket:
        upgraded = FakeSocket(self.address)
        upgraded.secure_transport = "on"
        return upgraded


class BareSocket:
    """A socket with nothing but its promises."""

    def __init__(self) -> None:
        self.opened = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()


class Implementation:
    """connect() of the fake: remembers its calls and sockets; some addresses fail on purpose."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.sockets: list[FakeSocket] = []

    def connect(self, *args: Any) -> FakeSocket:
        self.calls.append(args)
        address = args[0] if args else UNDEFINED
        if address == "throws":
            raise JSError("TypeError", "Specified address is missing port.")
        if address == "throws-undefined":
            raise JSThrow(UNDEFINED)
        if address == "breaks":
            raise KeyError("oops")
        if address == "tls":
            raise Unsupported("no TLS here")
        if address == "bare":
            return BareSocket()  # type: ignore[return-value]
        socket = FakeSocket(address, RecordingFuture(loop=asyncio.get_running_loop()))
        self.sockets.append(socket)
        return socket


def adapter_for(implementation: Implementation, **options: Any) -> Adapter:
    return create_adapter(name="fake", version="1.2.3", runtime="CPython", connect=implementation.connect, **options)


class Session:
    """Requests with a running seq, answered by the adapter."""

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.seq = 0

    async def __call__(self, op: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        request = {"seq": self.seq, "op": op, **fields}
        response = await self.adapter.handle(request)
        assert response["seq"] == self.seq
        problem = messages.response_problem(op, response) if op in messages.ops() else None
        assert problem is None, (request, response, problem)
        return response

    async def begin(self) -> None:
        assert (await self("begin", case="kit"))["status"] == "returned"


def body(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "seq"}


# -- the ops ------------------------------------------------------------------------------------------


def test_the_kit_serves_every_op_of_the_protocol_and_no_other() -> None:
    assert set(OPS) == set(messages.ops())
    assert len(OPS) == len(set(OPS))


def test_its_client_ops_are_the_client_actions_of_the_table() -> None:
    assert set(CLIENT_OPS) == {name for name, spec in ACTIONS.items() if spec.kind is Kind.CLIENT}


def test_hello_answers_who_the_implementation_is() -> None:
    async def scenario() -> None:
        adapter = create_adapter(
            name="fake", version="1.2.3", runtime="CPython", connect=Implementation().connect, capabilities=["ipv6"]
        )
        hello = await adapter.handle({"seq": 1, "op": "hello", "protocol": 1})
        assert hello == {
            "seq": 1,
            "status": "returned",
            "value": {
                "name": "fake",
                "version": "1.2.3",
                "runtime": "CPython",
                "protocol": 1,
                "capabilities": ["ipv6"],
            },
        }
        other = await adapter.handle({"seq": 2, "op": "hello", "protocol": 2})
        assert other["status"] == "protocol_error"
        assert "protocol 2 is not supported" in other["reason"]

    run(scenario)


def test_connect_passes_as_many_arguments_as_the_request_has() -> None:
    async def scenario() -> None:
        implementation = Implementation()
        ask = Session(adapter_for(implementation))
        await ask.begin()
        await ask("connect")
        await ask("connect", address="h:1")
        await ask("connect", address={"hostname": "h", "port": {"$type": "undefined"}}, options={"allowHalfOpen": True})
        assert implementation.calls == [(), ("h:1",), ({"hostname": "h", "port": UNDEFINED}, {"allowHalfOpen": True})]
        assert (await ask("connect", options={}))["status"] == "protocol_error"

    run(scenario)


def test_what_connect_raises_is_threw_as_js_shows_it_and_unsupported_is_the_adapters() -> None:
    async def scenario() -> None:
        ask = Session(adapter_for(Implementation()))
        await ask.begin()
        assert body(await ask("connect", address="throws")) == {
            "status": "threw",
            "error": {"name": "TypeError", "message": "Specified address is missing port."},
        }
        thrown = await ask("connect", address="throws-undefined")
        assert thrown["error"] == {"name": None, "message": None, "value": {"$type": "undefined"}}
        assert (await ask("connect", address="breaks"))["error"] == {"name": "KeyError", "message": "'oops'"}
        assert body(await ask("connect", address="tls")) == {"status": "unsupported", "reason": "no TLS here"}

    run(scenario)


def test_a_promise_is_resolved_rejected_or_pending_with_a_handle_awaited_again_later() -> None:
    async def scenario() -> None:
        implementation = Implementation()
        ask = Session(adapter_for(implementation))
        await ask.begin()
        assert (await ask("connect", address="h:1"))["value"] == {"socket": "s1"}
        pending = await ask("await", socket="s1", promise="opened", timeout_ms=10)
        assert body(pending) == {"status": "pending", "promise": "p1"}
        again = await ask("await", socket="s1", promise="opened", timeout_ms=0)
        assert again["promise"] == "p1"  # one promise, one handle
        implementation.sockets[0].opened.set_result({"remoteAddress": "h:1", "localAddress": UNDEFINED})
        resolved = await ask("await", promise="p1", timeout_ms=1000)
        assert body(resolved) == {"status": "resolved", "value": {"remoteAddress": "h:1"}}
        await ask("connect", address="h:2")
        implementation.sockets[1].opened.set_exception(JSError("Error", "proxy request failed"))
        rejected = await ask("await", socket="s2", promise="opened", timeout_ms=1000)
        assert body(rejected) == {"status": "rejected", "error": {"name": "Error", "message": "proxy request failed"}}
        assert (await ask("await", promise="p9", timeout_ms=10))["status"] == "protocol_error"

    run(scenario)


@dataclasses.dataclass
class SocketInfo:
    remoteAddress: str
    localAddress: Any = UNDEFINED


class Opaque:
    """An object JSON cannot carry."""


def test_values_json_cannot_carry_read_as_js_would_show_them() -> None:
    async def scenario() -> None:
        implementation = Implementation()
        ask = Session(adapter_for(implementation))
        await ask.begin()
        await ask("connect", address="h:1")
        await ask("connect", address="h:2")
        implementation.sockets[0].opened.set_result(SocketInfo("h:1"))
        implementation.sockets[1].opened.set_result(Opaque())
        info = await ask("await", socket="s1", promise="opened", timeout_ms=100)
        assert info["value"] == {"remoteAddress": "h:1"}
        opaque = await ask("await", socket="s2", promise="opened", timeout_ms=100)
        assert body(opaque) == {"status": "resolved", "value": "[object Opaque]"}

    run(scenario)


def test_timeout_zero_starts_the_operation_before_answering_pending() -> None:
    async def scenario() -> None:
        implementation = Implementation()
        ask = Session(adapter_for(implementation))
        await ask.begin()
        await ask("connect", address="h:1")
        implementation.sockets[0].drained.clear()
        response = await ask("write", socket="s1", data=bytes_value(b"hi"), timeout_ms=0)
        assert response["status"] == "pending"
        assert implementation.sockets[0].started == ["write"]
        assert (await ask("await", promise=response["promise"], timeout_ms=10))["status"] == "pending"
        implementation.sockets[0].drained.set()
        done = await ask("await", promise=response["promise"], timeout_ms=1000)
        assert body(done) == {"status": "resolved", "value": {"$type": "undefined"}}
        assert implementation.sockets[0].written == [b"hi"]

    run(scenario)


def test_none_is_undefined_when_a_function_returns_it_and_null_when_a_future_holds_it() -> None:
    async def scenario() -> None:
        ask = Session(adapter_for(Implementation()))
        await ask.begin()
        await ask("connect", address="h:1")
        written = await ask("write", socket="s1", data=bytes_value(b"x"), timeout_ms=1000)  # a coroutine's None
        assert written["value"] == {"$type": "undefined"}
        fin = await ask("close_writer", socket="s1", timeout_ms=1000)  # a plain function's None
        assert fin["value"] == {"$type": "undefined"}
        await ask("close", socket="s1", timeout_ms=1000)
        closed = await ask("await", socket="s1", promise="closed", timeout_ms=1000)  # set_result(None)
        assert body(closed) == {"status": "resolved", "value": None}

    run(scenario)


def test_a_rejection_of_a_write_is_rejected_not_threw() -> None:
    async def scenario() -> None:
        ask = Session(adapter_for(Implementation()))
        await ask.begin()
        await ask("connect", address="h:1")
        refused = await ask("write", socket="s1", data=42, timeout_ms=1000)
        assert body(refused) == {"status": "rejected", "error": {"name": "TypeError", "message": "bytes only"}}

    run(scenario)


def test_what_the_implementation_lacks_is_unsupported_and_bad_requests_are_protocol_errors() -> None:
    async def scenario() -> None:
        ask = Session(adapter_for(Implementation(), ops=["connect", "get", "read"]))
        await ask.begin()
        await ask("connect", address="h:1")
        upgraded = await ask("get", socket="s1", property="upgraded")
        assert body(upgraded) == {"status": "unsupported", "reason": "the socket has no attribute upgraded"}
        served = await ask("write", socket="s1", data=bytes_value(b"x"), timeout_ms=10)
        assert body(served) == {"status": "unsupported", "reason": "fake does not serve write"}
        assert (await ask("read", socket="s9", timeout_ms=10))["reason"] == "unknown socket handle 's9'"
        assert (await ask("read", socket="s1", timeout_ms=-1))["status"] == "protocol_error"
        assert (await ask("frobnicate"))["status"] == "protocol_error"
        assert (await ask("read", socket="s1", timeout_ms=10, request="other"))["status"] == "unsupported"
        assert (await ask("begin", environment="outbound-worker"))["status"] == "unsupported"
        bad = await ask("connect", address={"$type": "nonsense"})
        assert bad["status"] == "protocol_error"
        assert "nonsense" in bad["reason"]
        not_an_object = await ask.adapter.handle([1, 2])
        assert not_an_object == {"seq": 0, "status": "protocol_error", "reason": "a request must be a JSON object"}

    run(scenario)


def test_an_attribute_the_socket_lacks_is_unsupported_and_one_it_has_is_used() -> None:
    async def scenario() -> None:
        ask = Session(adapter_for(Implementation()))
        await ask.begin()
        await ask("connect", address="h:1")
        assert body(await ask("start_tls", socket="s1")) == {"status": "returned", "value": {"socket": "s2"}}
        assert (await ask("get", socket="s2", property="secureTransport"))["value"] == "on"
        await ask("connect", address="bare")
        lacking = await ask("start_tls", socket="s3")
        assert body(lacking) == {"status": "unsupported", "reason": "the socket has no attribute start_tls"}
        unreadable = await ask("read", socket="s3", timeout_ms=10)
        assert body(unreadable) == {"status": "unsupported", "reason": "the socket has no attribute readable"}

    run(scenario)


def test_get_reads_properties_as_js_does() -> None:
    async def scenario() -> None:
        ask = Session(adapter_for(Implementation()))
        await ask.begin()
        await ask("connect", address="h:1")
        assert body(await ask("get", socket="s1", property="secureTransport")) == {
            "status": "returned",
            "value": "off",
            "typeof": "string",
        }
        assert body(await ask("get", socket="s1", property="opened")) == {"status": "returned", "typeof": "object"}
        assert (await ask("get", socket="s1", property="readable_identity"))["value"] is True
        assert (await ask("get", socket="s1", property="nonsense"))["status"] == "unsupported"

    run(scenario)


def test_end_counts_and_closes_the_open_sockets_and_reports_the_sessions_unhandled_rejections() -> None:
    async def scenario() -> None:
        implementation = Implementation()
        adapter = adapter_for(implementation)
        ask = Session(adapter)
        adapter.note_unhandled(JSError("Error", "before the session"))
        await ask.begin()
        await ask("connect", address="h:1")
        await ask("connect", address="h:2")
        await ask("close", socket="s2", timeout_ms=1000)
        adapter.note_unhandled(JSError("Error", "Network connection lost."))
        adapter.note_unhandled("a string")
        report = await ask("end", timeout_ms=1000)
        assert report["value"] == {
            "open_sockets": 1,
            "unhandled_rejections": [
                {"name": "Error", "message": "Network connection lost."},
                {"name": None, "message": None, "value": "a string"},
            ],
        }
        assert [socket.closes for socket in implementation.sockets] == [1, 1]
        assert (await ask("read", socket="s1", timeout_ms=10))["status"] == "protocol_error"  # forgotten

    run(scenario)


def test_no_handler_goes_on_opened_or_closed_unless_an_op_awaits_them() -> None:
    async def scenario() -> None:
        implementation = Implementation()
        ask = Session(adapter_for(implementation))
        await ask.begin()
        await ask("connect", address="h:1")
        await ask("get", socket="s1", property="secureTransport")
        await ask("write", socket="s1", data=bytes_value(b"x"), timeout_ms=1000)
        socket = implementation.sockets[0]
        assert (socket.opened.handlers, socket.closed.handlers) == (0, 0)  # type: ignore[attr-defined]
        await ask("await", socket="s1", promise="opened", timeout_ms=0)
        assert socket.opened.handlers > 0  # type: ignore[attr-defined]

    run(scenario)


def test_read_bytes_never_consumes_past_n_and_the_rest_comes_first_next() -> None:
    async def scenario() -> None:
        implementation = Implementation()
        ask = Session(adapter_for(implementation))
        await ask.begin()
        await ask("connect", address="h:1")
        implementation.sockets[0].chunks = [b"hel", JSBytes(b"lo wor"), bytearray(b"ld")]
        first = await ask("read_bytes", socket="s1", n=4, digest=False, timeout_ms=1000)
        assert first["value"] == {"length": 4, "done": False, "chunks": 2, "data": bytes_value(b"hell")}
        rest = await ask("read", socket="s1", timeout_ms=1000)
        assert rest["value"] == {"done": False, "value": bytes_value(b"o wor")}
        tail = await ask("read_bytes", socket="s1", n=None, digest=True, timeout_ms=1000)
        assert tail["value"] == {"length": 2, "done": True, "chunks": 1, "sha256": hashlib.sha256(b"ld").hexdigest()}
        assert (await ask("read", socket="s1", timeout_ms=1000))["value"] == {"done": True}

    run(scenario)


def test_readers_and_writers_are_held_released_and_taken_afresh() -> None:
    async def scenario() -> None:
        implementation = Implementation()
        ask = Session(adapter_for(implementation))
        await ask.begin()
        await ask("connect", address="h:1")
        assert body(await ask("get_reader", socket="s1")) == {"status": "returned"}
        locked = await ask("get_reader", socket="s1")
        assert body(locked) == {
            "status": "threw",
            "error": {"name": "TypeError", "message": "This ReadableStream is currently locked to a reader."},
        }
        assert body(await ask("release_lock", socket="s1", stream="readable")) == {"status": "returned"}
        assert body(await ask("release_lock", socket="s1", stream="readable")) == {"status": "returned"}  # none held
        await ask("read", socket="s1", timeout_ms=100)
        assert len(implementation.sockets[0].readable.readers) == 2
        size = await ask("desired_size", socket="s1")
        assert body(size) == {"status": "returned", "value": 16384, "typeof": "number"}
        assert (await ask("ready", socket="s1", timeout_ms=100))["value"] == {"$type": "undefined"}
        assert (await ask("abort_writer", socket="s1", timeout_ms=100))["status"] == "unsupported"

    run(scenario)


def test_same_compares_what_it_evaluates_left_to_right() -> None:
    async def scenario() -> None:
        implementation = Implementation()
        ask = Session(adapter_for(implementation))
        await ask.begin()
        await ask("connect", address="h:1")
        assert (await ask("same", socket="s1", a="opened", b="closed"))["value"] is False
        assert (await ask("same", socket="s1", a="readable", b="readable"))["value"] is True
        assert (await ask("same", socket="s1", a="close()", b="closed"))["value"] is True
        assert implementation.sockets[0].closes == 1
        assert (await ask("same", socket="s1", a="opened", b="nonsense"))["status"] == "protocol_error"

    run(scenario)


def test_after_shutdown_every_request_is_refused() -> None:
    async def scenario() -> None:
        ask = Session(adapter_for(Implementation()))
        assert (await ask("shutdown"))["status"] == "returned"
        assert ask.adapter.is_shut_down
        assert (await ask("begin"))["reason"] == "the adapter has shut down"

    run(scenario)


def test_ops_must_name_client_ops() -> None:
    with pytest.raises(ValueError, match="unknown client op"):
        create_adapter(name="x", version="1", runtime="r", connect=Implementation().connect, ops=["conect"])


# -- stdio --------------------------------------------------------------------------------------------


def test_serve_stdio_answers_line_by_line_until_shutdown_and_keeps_stdout_for_responses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def noisy_connect(*args: Any) -> FakeSocket:
        print("a library that prints")
        return FakeSocket(args[0] if args else UNDEFINED)

    lines = [
        b'{"seq": 1, "op": "hello"}\n',
        b"\n",
        b"not json\n",
        b'{"seq": 2, "op": "begin"}\n',
        b'{"seq": 3, "op": "connect", "address": "h:1"}\n',
        b'{"seq": 4, "op": "shutdown"}\n',
        b'{"seq": 5, "op": "hello"}\n',
    ]
    written: list[bytes] = []
    adapter = create_adapter(name="fake", version="1", runtime="CPython", connect=noisy_connect)
    asyncio.run(serve_stdio(adapter, stdin=io.BytesIO(b"".join(lines)), write=written.append))
    answers = [json.loads(line) for line in written]
    assert [(a["seq"], a["status"]) for a in answers] == [
        (1, "returned"),
        (0, "protocol_error"),
        (2, "returned"),
        (3, "returned"),
        (4, "returned"),
    ]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in written)
    captured = capsys.readouterr()
    assert "a library that prints" in captured.err
    assert captured.out == ""


def test_a_last_line_without_its_newline_is_not_a_request() -> None:
    written: list[bytes] = []
    adapter = create_adapter(name="fake", version="1", runtime="CPython", connect=Implementation().connect)
    stdin = io.BytesIO(b'{"seq": 1, "op": "hello"}\n{"seq": 2, "op": "hello"}')
    asyncio.run(serve_stdio(adapter, stdin=stdin, write=written.append))
    assert len(written) == 1
