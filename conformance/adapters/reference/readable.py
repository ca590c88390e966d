"""``socket.readable``: a byte ReadableStream fed by the connection (B27, B30, B31, B38).

It models workerd's *internal* readable stream controller, not a general
WHATWG stream, because that is what sockets use and its rules differ:

* one read may be pending at a time; a second one rejects;
* ``releaseLock()`` with a read pending throws;
* once the socket's ``close()`` starts, every read rejects with "belongs to an
  object that is closing" (``setPendingClosure`` is never cleared);
* reaching EOF *through a read* notifies the socket (``signalEof``), which is
  what drives the auto-close of B31.

The connection pushes data in (``push``, ``push_eof``, ``push_error``);
nothing here does I/O. ``startTls`` detaches the stream (B41): it stays locked
for good, and the bytes nobody read go to the TLS handshake. When more than ``HIGH_WATER`` bytes wait unread, the
source is asked to stop reading, so a slow consumer backs up the peer
instead of growing this queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import errors
from .errors import JSError, type_error
from .mutants import Quirks
from .promises import Promise, RejectionTracker

HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024


@dataclass(frozen=True)
class ReadResult:
    """What ``reader.read()`` fulfils with: ``{done, value}``."""

    done: bool
    value: bytes = b""
    view: str = "Uint8Array"


class ReadableSource(Protocol):
    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class ReadableStreamReader:
    """``socket.readable.getReader()``."""

    def __init__(self, stream: ReadableStream) -> None:
        self._stream = stream
        self.released = False

    def read(self, max_bytes: int | None = None) -> Promise[ReadResult]:
        """``reader.read()``; ``max_bytes`` limits the chunk like a BYOB read of that size."""
        return self._stream.read_for(self, max_bytes)

    def cancel(self, reason: object) -> Promise[None]:
        if self.released:
            return Promise.rejected(self._stream.tracker, JSError("TypeError", errors.READER_RELEASED))
        return self._stream.cancel(reason)

    def release_lock(self) -> None:
        self._stream.release(self)


@dataclass
class _PendingRead:
    promise: Promise[ReadResult]
    max_bytes: int | None


class ReadableStream:
    def __init__(
        self,
        tracker: RejectionTracker,
        source: ReadableSource,
        *,
        on_eof_read: Callable[[], None],
        quirks: Quirks,
    ) -> None:
        self.tracker = tracker
        self._source = source
        self._on_eof_read = on_eof_read
        self._quirks = quirks
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._paused = False
        self._eof = False  # the source ended; reads see it once the queue is empty
        self._failure: object | None = None  # likewise for an error (e.g. peer RST)
        self._state = "readable"  # then "closed" or "errored"
        self._error: object = None
        self._pending: _PendingRead | None = None
        self._reader: ReadableStreamReader | None = None
        self.pending_closure = False
        self.detached = False
        self._done_delivered = False  # a read has already returned done

    @property
    def locked(self) -> bool:
        return self._reader is not None or self.detached

    def get_reader(self) -> ReadableStreamReader:
        if self.detached:
            raise type_error(errors.READABLE_LOCKED)  # B41: a detached stream stays locked
        if self._reader is not None and not self._quirks.reader_lock_not_enforced:
            raise type_error(errors.READABLE_LOCKED)
        reader = ReadableStreamReader(self)
        if self._reader is None:
            self._reader = reader
        return reader

    # -- the reader's side -------------------------------------------------------------

    def read_for(self, reader: ReadableStreamReader, max_bytes: int | None) -> Promise[ReadResult]:
        if reader.released:
            return self._rejected(JSError("TypeError", errors.READER_RELEASED))
        if self.pending_closure:
            if self._quirks.reads_after_close_done:
                return Promise.resolved(self.tracker, ReadResult(done=True))
            return self._rejected(JSError("TypeError", errors.READABLE_CLOSING))
        if self._state == "errored":
            return self._rejected(self._error)
        if self._state == "closed":
            if self._quirks.read_after_done_rejects and self._done_delivered:
                return self._rejected(JSError("TypeError", errors.READABLE_CLOSED))
            self._done_delivered = True
            return Promise.resolved(self.tracker, ReadResult(done=True))
        if self._pending is not None:
            return self._rejected(JSError("TypeError", errors.READ_ALREADY_PENDING))
        promise: Promise[ReadResult] = Promise(self.tracker)
        self._pending = _PendingRead(promise, max_bytes)
        self._serve()
        return promise

    def cancel(self, reason: object) -> Promise[None]:
        if self._state == "errored":
            return self._rejected(self._error)
        self._close_with_done()
        return Promise.resolved(self.tracker, None)

    def release(self, reader: ReadableStreamReader) -> None:
        if reader is not self._reader:
            return  # an extra reader (mutant) or one already released: nothing to release
        if self._pending is not None:
            raise type_error(errors.RELEASE_WITH_PENDING_READ)
        reader.released = True
        self._reader = None

    # -- the source's side -------------------------------------------------------------

    def push(self, chunk: bytes) -> None:
        if self._state != "readable" or self._eof or self._failure is not None:
            return  # cancelled or closed: data from the peer is dropped
        self._queue.append(chunk)
        self._queued += len(chunk)
        if self._queued > HIGH_WATER and not self._paused:
            self._paused = True
            self._source.pause_reading()
        self._serve()

    def push_eof(self) -> None:
        if self._state == "readable" and self._failure is None:
            self._eof = True
            self._serve()

    def push_error(self, reason: object) -> None:
        if self._state == "readable" and not self._eof and self._failure is None:
            self._failure = reason
            self._serve()

    def cancel_quietly(self) -> None:
        """B19: a failed connection ends the stream; reads are done, no EOF signal."""
        self._close_with_done()

    def force_close(self, reason: object) -> None:
        """B35 step 4, B38: ``close()`` cancels the stream; a pending read rejects."""
        pending, self._pending = self._pending, None
        self._drop_queue()
        if self._state == "readable":
            self._state = "closed"
        if pending is not None:
            pending.promise.reject(reason)

    def set_pending_closure(self) -> None:
        self.pending_closure = True

    def detach(self) -> None:
        """startTls takes the source away (B41); a held reader makes that throw.

        Data already read is fine (workerd detaches with IgnoreDisturbed::YES).
        """
        if self._reader is not None:
            raise type_error(errors.READABLE_LOCKED)
        self.detached = True

    def take_unread(self) -> bytes:
        """The bytes that arrived but were never read; they belong to the connection again."""
        unread = b"".join(self._queue)
        self._queue.clear()
        self._queued = 0
        self._paused = False  # the new owner of the connection decides about reading
        return unread

    # -- internals -------------------------------------------------------------------

    def _serve(self) -> None:
        pending = self._pending
        if pending is None:
            return
        if self._queue:
            self._pending = None
            pending.promise.resolve(self._take(pending.max_bytes))
        elif self._failure is not None:
            self._pending = None
            self._state, self._error = "errored", self._failure
            pending.promise.reject(self._failure)
        elif self._eof:
            self._pending = None
            self._state = "closed"
            self._done_delivered = True
            pending.promise.resolve(ReadResult(done=True))
            self._on_eof_read()  # workerd's signalEof: the consumer read to done

    def _take(self, max_bytes: int | None) -> ReadResult:
        chunk = self._queue.popleft()
        if max_bytes is not None and 0 < max_bytes < len(chunk):
            self._queue.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        self._queued -= len(chunk)
        if self._paused and self._queued < LOW_WATER:
            self._paused = False
            self._source.resume_reading()
        view = "Buffer" if self._quirks.read_chunks_not_uint8array else "Uint8Array"
        return ReadResult(done=False, value=chunk, view=view)

    def _close_with_done(self) -> None:
        pending, self._pending = self._pending, None
        self._drop_queue()
        if self._state == "readable":
            self._state = "closed"
        if pending is not None:
            pending.promise.resolve(ReadResult(done=True))

    def _drop_queue(self) -> None:
        self._queue.clear()
        self._queued = 0
        if self._paused:
            self._paused = False
            self._source.resume_reading()  # keep draining the socket; the data is discarded

    def _rejected(self, reason: object) -> Promise[Any]:
        return Promise.rejected(self.tracker, reason)
