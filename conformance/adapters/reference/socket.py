"""The ``Socket`` that ``connect()`` returns: connection lifecycle, ``opened``/``closed``, ``close()``.

Theory of operation (section numbers are the catalogue's behaviours):

* construction returns at once (B16); a task connects in the background.
  Until it succeeds, writes wait in the writable's queue and reads stay
  pending;
* success resolves ``opened`` with ``{remoteAddress}``: the address as given
  (B17), never a ``localAddress``;
* failure of any kind rejects ``opened`` and ``closed`` with one ``Error``
  (B18), ends the readable (reads are done) and errors the writable with the
  kj description of that error (B19);
* EOF from the peer that the app reads to done closes our write side (flush
  and FIN) and resolves ``closed``, unless ``allowHalfOpen`` (B31-B33);
* a broken connection (peer RST) errors both streams with "Network connection
  lost." (B21) and fulfils ``closed`` (write-disconnect, B34);
* ``close()`` follows B35-B38 step by step; a second call returns ``closed``.

Both ``opened`` and ``closed`` are created marked as handled (B22).
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import errors
from .arguments import ConnectRequest
from .connection import (
    ConnectError,
    Connection,
    ConnectionLost,
    open_connection,
    split_network_address,
)
from .errors import JSError, JSThrow, type_error
from .mutants import Quirks
from .payload import Payload, pieces
from .promises import Promise, PromiseState, RejectionTracker
from .readable import ReadableStream
from .tasks import TaskSet
from .writable import WritableStream

#: Big chunks go to the transport in slices, waiting for its buffer to drain between them.
WRITE_SLICE = 1024 * 1024

SocketInfo = dict[str, Any]


class StartTlsUnavailable(Exception):
    """startTls() passed its checks, but this reference cannot do TLS yet."""


class Socket:
    def __init__(
        self,
        request: ConnectRequest,
        *,
        tracker: RejectionTracker,
        tasks: TaskSet,
        quirks: Quirks,
    ) -> None:
        self._request = request
        self._tracker = tracker
        self._tasks = tasks
        self._quirks = quirks
        self.secure_transport: str = request.secure_transport
        self.upgraded = False
        self.opened: Promise[SocketInfo] = Promise(
            tracker, handled=not quirks.opened_not_marked_handled
        )
        self.closed: Promise[None] = Promise(tracker, handled=True)
        self.readable = ReadableStream(
            tracker, source=self, on_eof_read=self._on_eof_read, quirks=quirks
        )
        self.writable = WritableStream(
            tracker, sink=self, gate=self.opened, spawn=tasks.spawn, quirks=quirks
        )
        self._connection: Connection | None = None
        self._connect_done = asyncio.Event()
        self._dead_connection: Connection | None = None
        self._connect_failure: JSError | None = None  # the writable's abort reason (B19)
        self._read_paused = False
        self._closing = False
        self.destroyed = False
        if quirks.opened_before_connection:
            self.opened.resolve({"remoteAddress": request.destination.address})
        tasks.spawn(self._connect())

    # -- connecting -----------------------------------------------------------------------

    async def _connect(self) -> None:
        try:
            connection = await open_connection(
                self._request.destination.address, self, secure=self.secure_transport == "on"
            )
        except ConnectError:
            self._fail_connect()
            return
        if self.destroyed:  # the session ended while we were connecting
            self._dead_connection = connection
            connection.abort()
            return
        self._connection = connection
        if self._read_paused:
            connection.pause_reading()
        self._connect_done.set()
        self.opened.resolve(self._socket_info(connection))

    def _socket_info(self, connection: Connection) -> SocketInfo:
        address = self._request.destination.address
        if self._quirks.remote_address_as_ip:
            address = connection.peer_ip
        info: SocketInfo = {"remoteAddress": address}
        if self._quirks.opened_has_local_address:
            info["localAddress"] = connection.local_address
        return info

    def _fail_connect(self) -> None:
        message = errors.CONNECT_FAILED
        target = split_network_address(self._request.destination.address)
        if target is not None and target.port in (80, 443) and not self._quirks.http_port_hint_missing:
            message += errors.HTTP_PORT_HINT
        error = JSError("TypeError" if self._quirks.connect_error_is_type_error else "Error", message)
        if self._quirks.closed_resolves_on_failure:
            self.closed.resolve(None)
        else:
            self.closed.reject(error)
        self.opened.reject(error)
        self.readable.cancel_quietly()
        self._connect_failure = JSError("Error", errors.KJ_DESCRIPTION_PREFIX + message)
        self.writable.fail(self._connect_failure)
        self._connect_done.set()

    # -- the writable's sink --------------------------------------------------------------

    async def _usable_connection(self) -> Connection:
        await self._connect_done.wait()
        if self._connection is None:
            raise JSThrow(self._connect_failure or JSError("TypeError", errors.SOCKET_CLOSED))
        return self._connection

    async def sink_write(self, data: Payload) -> None:
        connection = await self._usable_connection()
        try:
            for piece in pieces(data, WRITE_SLICE):
                connection.write(piece)
                await connection.drain()
        except ConnectionLost:
            raise JSThrow(JSError("Error", errors.CONNECTION_LOST)) from None

    async def sink_close(self) -> None:
        """The writable's close: FIN after the queued data (B29)."""
        connection = await self._usable_connection()
        if self._quirks.writer_close_no_fin:
            return
        try:
            connection.write_eof()
            await connection.drain()
        except ConnectionLost:
            raise JSThrow(JSError("Error", errors.CONNECTION_LOST)) from None

    def sink_abort(self, reason: object) -> None:
        pass  # the stream is errored; the connection stays until close() destroys it

    # -- the readable's source --------------------------------------------------------------

    def pause_reading(self) -> None:
        self._read_paused = True
        if self._connection is not None:
            self._connection.pause_reading()

    def resume_reading(self) -> None:
        self._read_paused = False
        if self._connection is not None:
            self._connection.resume_reading()

    # -- connection events -----------------------------------------------------------------

    def connection_data(self, data: bytes) -> None:
        self.readable.push(data)

    def connection_eof(self) -> None:
        if self._quirks.peer_eof_never_done:
            return
        self.readable.push_eof()
        if self._quirks.eof_closes_without_read:
            self._on_eof_read()

    def connection_lost(self, error: Exception | None) -> None:
        if error is None:
            return  # we closed it ourselves
        lost = JSError("Error", errors.CONNECTION_LOST)
        if self._quirks.reset_as_eof:
            self.readable.push_eof()
        else:
            self.readable.push_error(lost)
        self.writable.fail(lost)
        self.closed.resolve(None)  # B34: write-disconnect fulfils closed

    # -- half-open (B31-B33) ------------------------------------------------------------------

    def _on_eof_read(self) -> None:
        if self._request.allow_half_open:
            return
        if self.writable.closed_or_closing:
            return  # B32: closed then settles only through close() or write-disconnect
        self._tasks.spawn(self._close_write_side())

    async def _close_write_side(self) -> None:
        closing = self.writable.close()
        closing.mark_handled()
        await closing.wait_settled()
        if closing.state is PromiseState.REJECTED:
            self.closed.reject(closing.reason)
        else:
            self.closed.resolve(None)

    # -- close() (B35-B38) -----------------------------------------------------------------

    def close(self) -> Promise[None]:
        """``socket.close()``."""
        if self._closing:
            return self.closed
        self._closing = True
        self.readable.set_pending_closure()
        self.writable.set_pending_closure()
        result: Promise[None] = Promise(self._tracker)
        self._tasks.spawn(self._close_steps(result))
        return result

    async def _close_steps(self, result: Promise[None]) -> None:
        await self.opened.wait_settled()
        if not self._quirks.close_without_flush and self.writable.state != "closed":
            try:
                await self.writable.flush()
            except JSThrow as thrown:
                self.closed.reject(thrown.value)  # B37: errors go to closed, not to close()
        reason = JSError("TypeError", errors.SOCKET_CLOSED)
        self.readable.force_close(reason)
        self.writable.fail(reason)
        self.destroy(discard_buffered=self._quirks.close_without_flush)
        self.closed.resolve(None)
        if self._quirks.close_rejects_on_failure and self.opened.state is PromiseState.REJECTED:
            result.reject(self.opened.reason)
        else:
            result.resolve(None)

    def destroy(self, *, discard_buffered: bool) -> None:
        """Drop the connection (B35 step 5); also how ``end`` gets rid of a socket."""
        self.destroyed = True
        if self._connection is not None:
            self._dead_connection, self._connection = self._connection, None
        dead = self._dead_connection
        if dead is None:
            return
        # Again with discard_buffered (from ``end``), it cuts a graceful close short.
        if discard_buffered:
            dead.abort()
        else:
            dead.close()

    async def wait_destroyed(self) -> None:
        """Wait until the connection that ``destroy`` dropped has really closed."""
        if self._dead_connection is not None:
            await self._dead_connection.wait_closed()

    # -- startTls (B39) ---------------------------------------------------------------------

    def start_tls(self, options: object) -> Socket:
        if self.secure_transport == "on":
            raise type_error(errors.STARTTLS_ON_TLS_SOCKET)
        checks = [
            (self.destroyed, errors.STARTTLS_AFTER_CLOSE),
            (self.secure_transport == "off", errors.STARTTLS_WRONG_OPTION),
        ]
        if self._quirks.start_tls_checks_reordered:
            checks.reverse()
        for failed, message in checks:
            if failed:
                raise type_error(message)
        raise StartTlsUnavailable("startTls() needs TLS, which the reference does not have yet")
