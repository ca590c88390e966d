"""``socket.writable``: a byte WritableStream that drains into the connection (B16, B28-B30).

Like ``readable``, this models workerd's internal writable controller:

* ``write()`` checks, in this order: the writer (released, or detached: the
  stream closed or was aborted under it, B57), the socket's pending closure, a
  closed or closing stream, an errored stream, then the chunk type (B28: byte
  views and, since 2026, strings; undefined is a write of nothing; anything
  else rejects). An empty view is done at once; an empty string is queued
  like any other chunk (workerd);
* writes are queued and performed one at a time, in order, by a pump task
  that exists only while the queue is non-empty; a write's promise fulfils
  once the connection accepted its bytes (so a slow peer backs up writers);
* ``close()`` is gated on the socket's ``opened`` (B16): it waits for it, and
  if ``opened`` rejected it resolves without doing anything (workerd ignores
  that rejection because ``opened``/``closed`` already report it);
* backpressure (B15, B50): without ``highWaterMark`` the writer's
  ``desiredSize`` is always 1 and ``ready`` always resolved. With it,
  ``desiredSize`` is ``highWaterMark`` minus the bytes queued and not yet
  handed to the connection (a write counts whole until it completes), and
  ``ready`` is pending while bytes are queued and ``desiredSize <= 0``. Like
  workerd it is recomputed only when the queued amount changes, so with
  ``highWaterMark: 0`` ``ready`` is resolved until a write is queued.

The sink (the socket) owns the connection; this module does no I/O.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from ...core.jsvalues import UNDEFINED, JSBytes
from . import errors
from .coerce import to_js_string
from .errors import JSError, JSThrow, type_error
from .mutants import Quirks
from .payload import Payload, RepeatedBytes
from .promises import Promise, PromiseState, RejectionTracker

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: How many writes the early-writes-beyond-eight-dropped mutant keeps while the connection is not usable.
EARLY_WRITES_KEPT = 8


class WritableSink(Protocol):
    async def sink_write(self, data: Payload) -> None: ...

    def sink_write_now(self, data: bytes) -> bool:
        """Hand ``data`` to the connection at once if that cannot block; False: use sink_write."""
        ...

    async def sink_close(self) -> None: ...

    def sink_abort(self, reason: object) -> None: ...


Spawn = Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]]


@dataclass
class _Op:
    promise: Promise[None]
    data: Payload | None  # None: close (FIN)


class WritableStreamWriter:
    """``socket.writable.getWriter()``."""

    def __init__(self, stream: WritableStream, ready: Promise[None]) -> None:
        self._stream = stream
        self.released = False
        #: The stream closed or was aborted under this writer: workerd detaches it, and its
        #: write() and close() then reject "has been closed." before any check of the stream.
        self.detached = False
        #: ``writer.ready``; replaced by a pending one when backpressure starts (as in workerd).
        self.ready = ready

    @property
    def desired_size(self) -> float | None:
        return self._stream.desired_size

    def write(self, chunk: object) -> Promise[None]:
        if self.released:
            return self._stream.rejected(JSError("TypeError", errors.WRITER_RELEASED))
        if self.detached:
            return self._stream.rejected(JSError("TypeError", errors.WRITABLE_CLOSED))
        return self._stream.write(chunk)

    def close(self) -> Promise[None]:
        if self.released:
            return self._stream.rejected(JSError("TypeError", errors.WRITER_RELEASED))
        if self.detached or self._stream.state == "closed":
            # A second writer.close() once the first finished (a close still in flight resolves),
            # or one after writer.abort() (the streams standard: a TypeError).
            return self._stream.rejected(JSError("TypeError", errors.WRITABLE_CLOSED))
        return self._stream.close()

    def abort(self, reason: object) -> Promise[None]:
        if self.released:
            return self._stream.rejected(JSError("TypeError", errors.WRITER_RELEASED))
        return self._stream.abort(reason)

    def release_lock(self) -> None:
        self._stream.release(self)


def _as_error(reason: object) -> JSError:
    """A JS value as workerd hands an abort reason back: Errors as they are, others as Error(String(value))."""
    if isinstance(reason, JSError):
        return reason
    try:
        return JSError("Error", to_js_string(reason))
    except JSThrow:
        return JSError("Error", "undefined")


def chunk_bytes(chunk: object, quirks: Quirks) -> Payload:
    """B28: the bytes a chunk stands for; raises ``JSThrow`` (TypeError) for other types."""
    if isinstance(chunk, JSBytes):
        return chunk.data  # immutable, so "copied" already
    if isinstance(chunk, RepeatedBytes):
        return chunk  # a byte view too, only not built in memory
    if isinstance(chunk, bytes | bytearray | memoryview):
        return bytes(chunk)
    if isinstance(chunk, str):
        if quirks.string_chunks_rejected:
            raise type_error(errors.STRING_NOT_BYTES)
        # TextEncoder semantics: a lone surrogate becomes U+FFFD.
        return _LONE_SURROGATE.sub("\ufffd", chunk).encode("utf-8")
    raise type_error(errors.NOT_BYTES)


class WritableStream:
    def __init__(
        self,
        tracker: RejectionTracker,
        sink: WritableSink,
        *,
        gate: Promise[Any],
        spawn: Spawn,
        quirks: Quirks,
        high_water_mark: float | None = None,
    ) -> None:
        self.tracker = tracker
        self._high_water_mark = None if quirks.high_water_mark_ignored else high_water_mark
        self._queued_bytes = 0  # bytes of queued writes not yet handed to the connection (B15)
        self._sink = sink
        self._gate = gate
        self._spawn = spawn
        self._quirks = quirks
        self._queue: deque[_Op] = deque()
        self._pump: asyncio.Task[Any] | None = None
        self._idle: list[asyncio.Future[None]] = []
        self._state = "writable"  # then "closed" or "errored"
        self._error: object = None
        self._close_promise: Promise[None] | None = None
        self._writer: WritableStreamWriter | None = None
        self.pending_closure = False
        self.detached = False
        self.aborted = False  # writer.abort() errored it

    @property
    def locked(self) -> bool:
        return self._writer is not None or self.detached

    @property
    def state(self) -> str:
        """ "writable", "closed" (FIN sent) or "errored"."""
        return self._state

    @property
    def closed_or_closing(self) -> bool:
        # A close still queued when the stream errored is gone with the queue: the error counts.
        return self._state == "closed" or (self._close_promise is not None and self._state == "writable")

    @property
    def desired_size(self) -> float | None:
        """``writer.desiredSize`` (B15, B50): 0 once closed, null once errored."""
        if self._state == "closed":
            return 0
        if self._state == "errored":
            return None
        if self._high_water_mark is None:
            return 1
        return self._high_water_mark - self._queued_bytes

    def get_writer(self) -> WritableStreamWriter:
        if self._writer is not None or self.detached:  # B41: a detached stream stays locked
            raise type_error(errors.WRITABLE_LOCKED)
        ready: Promise[None] = Promise(self.tracker, handled=True)
        if self._state == "errored":
            ready.reject(self._error)
        elif self._quirks.ready_waits_for_opened and self._gate.state is PromiseState.PENDING:
            self._gate.then(lambda _: ready.resolve(None))
        else:
            ready.resolve(None)  # a new writer is ready at once, even before opened (B50)
        self._writer = WritableStreamWriter(self, ready)
        return self._writer

    def release(self, writer: WritableStreamWriter) -> None:
        if writer is self._writer:
            writer.released = True
            self._writer = None

    # -- operations ------------------------------------------------------------------

    def write(self, chunk: object) -> Promise[None]:
        if self.pending_closure:
            if self._quirks.writes_after_close_accepted:
                return Promise.resolved(self.tracker, None)
            return self.rejected(JSError("TypeError", errors.WRITABLE_CLOSING))
        if self.closed_or_closing or self.aborted:
            return self.rejected(JSError("TypeError", errors.WRITABLE_CLOSED))
        if self._state == "errored":
            return self.rejected(self._error)
        if chunk is UNDEFINED:
            # workerd takes write(undefined) as a write of nothing: it resolves (B28).
            return Promise.resolved(self.tracker, None)
        try:
            data = chunk_bytes(chunk, self._quirks)
        except JSThrow as thrown:
            return self.rejected(thrown.value)
        if len(data) == 0 and not isinstance(chunk, str):
            # An empty view is done at once; workerd queues an empty string like any other,
            # so it waits for the connection and rejects with a connect failure.
            return Promise.resolved(self.tracker, None)
        return self._enqueue(data)

    def close(self) -> Promise[None]:
        """``writer.close()``, and the socket's own close of the write side (B31)."""
        if self._close_promise is not None:
            return self._close_promise
        if self._gate.state is PromiseState.REJECTED:
            return Promise.resolved(self.tracker, None)
        if self._state == "closed":
            return Promise.resolved(self.tracker, None)
        if self._state == "errored":
            return self.rejected(self._error)
        self._close_promise = self._enqueue(None)
        return self._close_promise

    def abort(self, reason: object) -> Promise[None]:
        """``writer.abort(reason)``: queued writes reject with ``reason``, later ones as closed (B56)."""
        if self._state == "writable":
            if self._quirks.abort_leaves_queued_writes_pending:
                self._queue = deque()  # the mutant forgets them: their promises never settle
            self.fail(reason, detach_writer=True)
            self.aborted = True
            self._sink.sink_abort(reason)
        return Promise.resolved(self.tracker, None)

    async def flush(self) -> None:
        """Wait until every queued operation is done; raises ``JSThrow`` if the stream errored."""
        if self._quirks.flush_drops_queued_writes and len(self._queue) > 1:
            head, *rest = self._queue
            self._queue = deque([head])
            for op in rest:
                op.promise.reject(JSError("TypeError", errors.SOCKET_CLOSED))
        if self._pump is not None:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle.append(waiter)
            await waiter
        if self._state == "errored":
            # After writer.abort() the flush fails too, as in workerd, where the reason comes
            # back as an Error carrying String(reason) (B37 routes it to closed).
            raise JSThrow(_as_error(self._error) if self.aborted else self._error)

    def fail(self, reason: object, *, detach_writer: bool = False) -> None:
        """Error the stream: queued operations reject (a gated close resolves, see above).

        ``detach_writer``: the app ended the stream (writer.abort(), or close() once it is
        done); like workerd, the held writer is detached and its ``ready`` resolves. Other
        failures (a failed connect, a lost connection) leave it attached with ``ready``
        rejected, as the streams standard says.
        """
        if self._state != "writable":
            return
        self._state, self._error = "errored", reason
        pump, self._pump = self._pump, None
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
        queue, self._queue = self._queue, deque()
        self._queued_bytes = 0
        writer = self._writer
        if writer is not None and detach_writer:
            self._detach_writer()
        elif writer is not None:
            if writer.ready.settled:
                writer.ready = Promise(self.tracker, handled=True)
            writer.ready.reject(reason)
        for op in queue:
            if op.data is None and self._gate.state is PromiseState.REJECTED:
                op.promise.resolve(None)
            else:
                op.promise.reject(reason)
        self._wake_idle()

    def set_pending_closure(self) -> None:
        self.pending_closure = True

    def detach(self) -> None:
        """startTls takes the sink away (B41), after flushing; a held writer makes that throw."""
        if self._writer is not None:
            raise type_error(errors.WRITABLE_LOCKED)
        self.detached = True

    def rejected(self, reason: object) -> Promise[None]:
        return Promise.rejected(self.tracker, reason)

    # -- the pump ----------------------------------------------------------------------

    def _enqueue(self, data: Payload | None) -> Promise[None]:
        # An idle, open stream hands a chunk straight to the connection: the write is
        # done when it returns, as with the pump, minus two turns of the event loop.
        if (
            isinstance(data, bytes)
            and self._pump is None
            and not self._queue
            and self._gate.state is PromiseState.FULFILLED
            and self._sink.sink_write_now(data)
        ):
            return Promise.resolved(self.tracker, None)
        if (
            self._quirks.early_writes_beyond_eight_dropped
            and data is not None
            and self._gate.state is PromiseState.PENDING
            and sum(op.data is not None for op in self._queue) >= EARLY_WRITES_KEPT
        ):
            return Promise.resolved(self.tracker, None)  # the mutant's full buffer: dropped, yet resolved
        promise: Promise[None] = Promise(self.tracker)
        self._queue.append(_Op(promise, data))
        if data is not None:
            self._adjust_queued(len(data))
        if self._pump is None:
            self._pump = self._spawn(self._run())
        return promise

    async def _run(self) -> None:
        while self._queue:
            op = self._queue[0]
            try:
                if op.data is not None:
                    await self._sink.sink_write(op.data)
                else:
                    await self._gate.wait_settled()
                    if self._gate.state is PromiseState.FULFILLED:
                        await self._sink.sink_close()
                    self._state = "closed"
                    self._detach_writer()
            except JSThrow as thrown:
                self.fail(thrown.value)
                return
            self._queue.popleft()
            op.promise.resolve(None)
            if op.data is not None:
                self._adjust_queued(-len(op.data))
        self._pump = None
        self._wake_idle()

    def _adjust_queued(self, amount: int) -> None:
        """Backpressure is recomputed whenever the queued amount changes (B15)."""
        self._queued_bytes += amount
        desired = self.desired_size
        writer = self._writer
        if writer is None or self._high_water_mark is None or desired is None:
            return
        if desired <= 0 and self._queued_bytes > 0:
            if writer.ready.settled:
                writer.ready = Promise(self.tracker, handled=True)
        else:
            writer.ready.resolve(None)

    def _detach_writer(self) -> None:
        """The stream ended under the held writer (B57): like workerd, detach it and resolve its ready."""
        if self._writer is not None:
            self._writer.detached = True
            self._writer.ready.resolve(None)

    def _wake_idle(self) -> None:
        waiters, self._idle = self._idle, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
