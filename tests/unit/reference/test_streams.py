"""The socket's readable and writable streams, with a fake source and sink (no network)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conformance.adapters.reference import errors
from conformance.adapters.reference.errors import JSError, JSThrow
from conformance.adapters.reference.mutants import FAITHFUL, Quirks, quirks_for
from conformance.adapters.reference.payload import Payload
from conformance.adapters.reference.promises import Promise, PromiseState, RejectionTracker
from conformance.adapters.reference.readable import HIGH_WATER, ReadableStream, ReadResult
from conformance.adapters.reference.tasks import TaskSet
from conformance.adapters.reference.writable import WritableStream
from conformance.core.jsvalues import UNDEFINED, JSBytes

from .support import run


class FakeSource:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def resume_reading(self) -> None:
        self.calls.append("resume")


def readable(quirks: Quirks = FAITHFUL) -> tuple[ReadableStream, FakeSource, list[str]]:
    source = FakeSource()
    eofs: list[str] = []
    stream = ReadableStream(RejectionTracker(), source, on_eof_read=lambda: eofs.append("eof"), quirks=quirks)
    return stream, source, eofs


def error_message(promise: Promise[Any]) -> str:
    assert promise.state is PromiseState.REJECTED
    reason = promise.reason
    assert isinstance(reason, JSError)
    return reason.message


def test_reads_return_queued_chunks_then_wait() -> None:
    async def scenario() -> None:
        stream, _, _ = readable()
        reader = stream.get_reader()
        stream.push(b"hello")
        first = reader.read()
        assert first.result() == ReadResult(done=False, value=b"hello")
        second = reader.read()
        assert not second.settled
        stream.push(b"world")
        assert second.result().value == b"world"

    run(scenario())


def test_a_limited_read_splits_the_chunk_and_keeps_the_rest() -> None:
    async def scenario() -> None:
        stream, _, _ = readable()
        reader = stream.get_reader()
        stream.push(b"abcdef")
        assert reader.read(4).result().value == b"abcd"
        assert reader.read().result().value == b"ef"

    run(scenario())


def test_internal_streams_allow_one_pending_read() -> None:
    async def scenario() -> None:
        stream, _, _ = readable()
        reader = stream.get_reader()
        reader.read()
        second = reader.read()
        second.mark_handled()
        assert error_message(second) == errors.READ_ALREADY_PENDING

    run(scenario())


def test_get_reader_on_a_locked_stream_throws() -> None:
    stream, _, _ = readable()
    stream.get_reader()
    with pytest.raises(JSThrow) as raised:
        stream.get_reader()
    assert isinstance(raised.value.value, JSError)
    assert raised.value.value.message == errors.READABLE_LOCKED


def test_release_lock_with_a_pending_read_throws_and_after_release_reads_reject() -> None:
    async def scenario() -> None:
        stream, _, _ = readable()
        reader = stream.get_reader()
        pending = reader.read()
        with pytest.raises(JSThrow):
            reader.release_lock()
        stream.push(b"x")
        assert pending.result().value == b"x"
        reader.release_lock()
        assert not stream.locked
        late = reader.read()
        late.mark_handled()
        assert error_message(late) == errors.READER_RELEASED
        assert stream.get_reader() is not reader

    run(scenario())


def test_eof_is_done_after_the_data_and_signals_once() -> None:
    async def scenario() -> None:
        stream, _, eofs = readable()
        reader = stream.get_reader()
        stream.push(b"last")
        stream.push_eof()
        assert eofs == []  # only a read that sees done signals EOF (B31)
        assert reader.read().result().value == b"last"
        assert reader.read().result().done
        assert reader.read().result().done
        assert eofs == ["eof"]

    run(scenario())


def test_an_error_comes_after_the_buffered_data() -> None:
    async def scenario() -> None:
        stream, _, _ = readable()
        reader = stream.get_reader()
        stream.push(b"data")
        lost = JSError("Error", errors.CONNECTION_LOST)
        stream.push_error(lost)
        assert reader.read().result().value == b"data"
        failed = reader.read()
        failed.mark_handled()
        assert failed.reason is lost
        again = reader.read()
        again.mark_handled()
        assert again.reason is lost

    run(scenario())


def test_pending_closure_rejects_reads() -> None:
    async def scenario() -> None:
        stream, _, _ = readable()
        reader = stream.get_reader()
        stream.push(b"unread")
        stream.set_pending_closure()
        read = reader.read()
        read.mark_handled()
        assert error_message(read) == errors.READABLE_CLOSING

    run(scenario())


def test_force_close_rejects_the_pending_read_with_the_reason() -> None:
    async def scenario() -> None:
        stream, _, _ = readable()
        reader = stream.get_reader()
        pending = reader.read()
        pending.mark_handled()
        reason = JSError("TypeError", errors.SOCKET_CLOSED)
        stream.force_close(reason)
        assert pending.reason is reason

    run(scenario())


def test_cancel_and_quiet_cancel_end_with_done() -> None:
    async def scenario() -> None:
        stream, _, eofs = readable()
        reader = stream.get_reader()
        pending = reader.read()
        assert reader.cancel("why").state is PromiseState.FULFILLED
        assert pending.result().done
        stream.push(b"dropped")
        assert reader.read().result().done
        other, _, _ = readable()
        waiting = other.get_reader().read()
        other.cancel_quietly()
        assert waiting.result().done
        assert eofs == []

    run(scenario())


def test_backpressure_pauses_and_resumes_the_source() -> None:
    async def scenario() -> None:
        stream, source, _ = readable()
        reader = stream.get_reader()
        chunk = b"x" * (HIGH_WATER // 2 + 1)
        stream.push(chunk)
        assert source.calls == []
        stream.push(chunk)
        assert source.calls == ["pause"]
        reader.read()
        reader.read()
        assert source.calls == ["pause", "resume"]

    run(scenario())


def test_mutant_read_chunks_are_buffers() -> None:
    async def scenario() -> None:
        stream, _, _ = readable(quirks_for("read-chunks-not-uint8array"))
        stream.push(b"a")
        assert stream.get_reader().read().result().view == "Buffer"

    run(scenario())


# -- writable ---------------------------------------------------------------------------------


class FakeSink:
    def __init__(self) -> None:
        self.events: list[object] = []
        self.open = asyncio.Event()
        self.open.set()

    async def sink_write(self, data: Payload) -> None:
        await self.open.wait()
        self.events.append(data)

    def sink_write_now(self, data: bytes) -> bool:
        return False  # always the queued path, whose ordering these tests pin down

    async def sink_close(self) -> None:
        await self.open.wait()
        self.events.append("FIN")

    def sink_abort(self, reason: object) -> None:
        self.events.append(("abort", reason))


def writable(gate: Promise[Any] | None = None, quirks: Quirks = FAITHFUL) -> tuple[WritableStream, FakeSink, TaskSet]:
    tracker = RejectionTracker()
    if gate is None:
        gate = Promise.resolved(tracker, {})
    sink, tasks = FakeSink(), TaskSet()
    return WritableStream(tracker, sink, gate=gate, spawn=tasks.spawn, quirks=quirks), sink, tasks


def test_writes_go_out_in_order_and_settle_when_done() -> None:
    async def scenario() -> None:
        stream, sink, _ = writable()
        writer = stream.get_writer()
        sink.open.clear()
        first = writer.write(JSBytes(b"a"))
        second = writer.write("b")
        third = writer.write(JSBytes(b"c", "DataView"))
        await asyncio.sleep(0)
        assert not first.settled
        sink.open.set()
        await third.join()
        assert first.settled
        assert second.settled
        assert sink.events == [b"a", b"b", b"c"]

    run(scenario())


@pytest.mark.parametrize("chunk", [42, None, {"a": 1}, [1, 2], True])
def test_non_byte_chunks_reject_with_the_b28_type_error(chunk: object) -> None:
    async def scenario() -> None:
        stream, sink, _ = writable()
        result = stream.get_writer().write(chunk)
        result.mark_handled()
        assert error_message(result) == errors.NOT_BYTES
        assert sink.events == []

    run(scenario())


def test_strings_are_utf8_encoded_and_empty_views_resolve_at_once() -> None:
    async def scenario() -> None:
        stream, sink, _ = writable()
        writer = stream.get_writer()
        assert writer.write(JSBytes(b"")).state is PromiseState.FULFILLED
        empty_string = writer.write("")  # queued like any string (workerd), so it waits its turn
        await empty_string.join()
        await writer.write("é\ud800").join()
        assert sink.events == [b"", "é\ufffd".encode()]

    run(scenario())


def test_undefined_is_a_write_of_nothing_and_null_is_refused() -> None:
    async def scenario() -> None:
        stream, sink, _ = writable()
        writer = stream.get_writer()
        assert writer.write(UNDEFINED).state is PromiseState.FULFILLED
        refused = writer.write(None)
        refused.mark_handled()
        assert error_message(refused) == errors.NOT_BYTES
        await writer.write(JSBytes(b"x")).join()
        assert sink.events == [b"x"]

    run(scenario())


def test_mutant_string_chunks_rejected() -> None:
    async def scenario() -> None:
        stream, _, _ = writable(quirks=quirks_for("string-chunks-rejected"))
        result = stream.get_writer().write("text")
        result.mark_handled()
        assert error_message(result) == errors.STRING_NOT_BYTES

    run(scenario())


def test_write_checks_in_workerd_order() -> None:
    async def scenario() -> None:
        stream, _, _ = writable()
        writer = stream.get_writer()
        await writer.close().join()
        closed = writer.write(42)  # closed wins over the chunk type
        closed.mark_handled()
        assert error_message(closed) == errors.WRITABLE_CLOSED
        stream.set_pending_closure()
        detached = writer.write(JSBytes(b"x"))  # the writer the stream closed under checks first
        detached.mark_handled()
        assert error_message(detached) == errors.WRITABLE_CLOSED
        writer.release_lock()
        closing = stream.get_writer().write(JSBytes(b"x"))  # at the stream, pending closure wins over closed
        closing.mark_handled()
        assert error_message(closing) == errors.WRITABLE_CLOSING

    run(scenario())


def test_close_waits_for_the_gate_and_sends_fin_after_queued_writes() -> None:
    async def scenario() -> None:
        tracker = RejectionTracker()
        gate: Promise[Any] = Promise(tracker)
        stream, sink, _ = writable(gate)
        writer = stream.get_writer()
        write = writer.write(JSBytes(b"early"))
        close = writer.close()
        await asyncio.sleep(0.01)
        assert sink.events == [b"early"]
        assert not close.settled
        gate.resolve({})
        await close.join()
        assert write.settled
        assert sink.events == [b"early", "FIN"]
        assert stream.state == "closed"

    run(scenario())


def test_close_resolves_without_fin_when_the_gate_rejected() -> None:
    async def scenario() -> None:
        tracker = RejectionTracker()
        gate: Promise[Any] = Promise(tracker, handled=True)
        stream, sink, _ = writable(gate)
        sink.open.clear()
        writer = stream.get_writer()
        write = writer.write(JSBytes(b"never"))
        write.mark_handled()
        close = writer.close()
        gate.reject(JSError("Error", "connect failed"))
        stream.fail(JSError("Error", "jsg.Error: connect failed"))
        await asyncio.sleep(0)
        assert close.state is PromiseState.FULFILLED
        assert error_message(write) == "jsg.Error: connect failed"
        assert writer.close().state is PromiseState.FULFILLED
        assert sink.events == []

    run(scenario())


def test_abort_errors_the_stream_and_rejects_queued_writes() -> None:
    async def scenario() -> None:
        stream, sink, tasks = writable()
        sink.open.clear()
        writer = stream.get_writer()
        first = writer.write(JSBytes(b"a"))
        first.mark_handled()
        assert writer.abort("reason").state is PromiseState.FULFILLED
        await asyncio.sleep(0)
        assert first.reason == "reason"
        later = writer.write(JSBytes(b"b"))
        later.mark_handled()
        assert error_message(later) == errors.WRITABLE_CLOSED  # B56: later writes see a closed stream
        assert sink.events == [("abort", "reason")]
        with pytest.raises(JSThrow) as raised:  # the flush of close() fails, so closed rejects (B37)
            await stream.flush()
        assert isinstance(raised.value.value, JSError)
        assert (raised.value.value.name, raised.value.value.message) == ("Error", "reason")
        closing = writer.close()  # the streams standard: closing an errored stream is a TypeError
        closing.mark_handled()
        assert error_message(closing) == errors.WRITABLE_CLOSED
        assert writer.desired_size is None
        await asyncio.sleep(0.01)
        assert len(tasks) == 0  # the pump was stopped, not left waiting

    run(scenario())


def test_get_writer_twice_throws_and_release_unlocks() -> None:
    stream, _, _ = writable()
    writer = stream.get_writer()
    with pytest.raises(JSThrow) as raised:
        stream.get_writer()
    assert isinstance(raised.value.value, JSError)
    assert raised.value.value.message == errors.WRITABLE_LOCKED
    writer.release_lock()
    assert not stream.locked
    stream.get_writer()


def test_flush_waits_for_queued_writes_and_reports_errors() -> None:
    async def scenario() -> None:
        stream, sink, _ = writable()
        sink.open.clear()
        stream.get_writer().write(JSBytes(b"q"))
        flushing = asyncio.ensure_future(stream.flush())
        await asyncio.sleep(0.01)
        assert not flushing.done()
        sink.open.set()
        await flushing
        assert sink.events == [b"q"]
        stream.fail(JSError("Error", "gone"))
        with pytest.raises(JSThrow):
            await stream.flush()

    run(scenario())


# -- backpressure (B15, B50) ------------------------------------------------------------------


def test_without_high_water_mark_desired_size_is_one_and_ready_stays_resolved() -> None:
    async def scenario() -> None:
        stream, sink, _ = writable()
        writer = stream.get_writer()
        sink.open.clear()
        writer.write(JSBytes(b"x" * 100))
        assert writer.desired_size == 1
        assert writer.ready.state is PromiseState.FULFILLED
        sink.open.set()

    run(scenario())


def test_high_water_mark_counts_queued_bytes_and_ready_waits_for_the_drain() -> None:
    async def scenario() -> None:
        tracker = RejectionTracker()
        sink, tasks = FakeSink(), TaskSet()
        gate: Promise[Any] = Promise.resolved(tracker, {})
        stream = WritableStream(tracker, sink, gate=gate, spawn=tasks.spawn, quirks=FAITHFUL, high_water_mark=16)
        writer = stream.get_writer()
        assert (writer.desired_size, writer.ready.state) == (16, PromiseState.FULFILLED)
        sink.open.clear()
        first = writer.write(JSBytes(b"a" * 10))
        assert (writer.desired_size, writer.ready.state) == (6, PromiseState.FULFILLED)
        writer.write(JSBytes(b"b" * 10))
        assert writer.desired_size == -4
        ready = writer.ready
        assert ready.state is PromiseState.PENDING
        sink.open.set()
        await first.join()
        await ready.join()  # resolved once the queue drained below the mark
        assert writer.desired_size == 16
        await writer.close().join()
        assert writer.desired_size == 0  # closed

    run(scenario())


def test_high_water_mark_zero_is_ready_until_a_write_is_queued() -> None:
    async def scenario() -> None:
        tracker = RejectionTracker()
        sink, tasks = FakeSink(), TaskSet()
        gate: Promise[Any] = Promise.resolved(tracker, {})
        stream = WritableStream(tracker, sink, gate=gate, spawn=tasks.spawn, quirks=FAITHFUL, high_water_mark=0)
        writer = stream.get_writer()
        assert (writer.desired_size, writer.ready.state) == (0, PromiseState.FULFILLED)
        sink.open.clear()
        writer.write(JSBytes(b"z"))
        assert (writer.desired_size, writer.ready.state) == (-1, PromiseState.PENDING)
        sink.open.set()

    run(scenario())


def test_mutants_of_backpressure() -> None:
    async def scenario() -> None:
        tracker = RejectionTracker()
        gate: Promise[Any] = Promise(tracker)
        ignored = WritableStream(
            tracker,
            FakeSink(),
            gate=gate,
            spawn=TaskSet().spawn,
            quirks=quirks_for("high-water-mark-ignored"),
            high_water_mark=16,
        )
        assert ignored.get_writer().desired_size == 1
        waiting = WritableStream(
            tracker, FakeSink(), gate=gate, spawn=TaskSet().spawn, quirks=quirks_for("ready-waits-for-opened")
        )
        ready = waiting.get_writer().ready
        assert ready.state is PromiseState.PENDING  # the faithful reference resolves it at once (B50)
        gate.resolve({})
        assert ready.state is PromiseState.FULFILLED

    run(scenario())


def test_a_second_writer_close_after_the_first_finished_rejects() -> None:
    async def scenario() -> None:
        stream, _, _ = writable()
        writer = stream.get_writer()
        await writer.close().join()
        again = writer.close()
        again.mark_handled()
        assert error_message(again) == errors.WRITABLE_CLOSED

    run(scenario())


def test_a_read_after_done_gives_done_again_except_in_the_mutant() -> None:
    async def scenario() -> None:
        for mutant, second in ((None, PromiseState.FULFILLED), ("read-after-done-rejects", PromiseState.REJECTED)):
            stream, _, _ = readable(quirks_for(mutant))
            reader = stream.get_reader()
            stream.push_eof()
            assert reader.read().result().done
            again = reader.read()
            again.mark_handled()
            assert again.state is second

    run(scenario())
