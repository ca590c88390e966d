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
* ``close()`` follows B35-B38 step by step; a second call returns ``closed``;
* with ``secureTransport: "on"`` the TLS handshake runs on the new
  connection, and ``opened`` waits for it (B17); a handshake or certificate
  failure is a connection failure like any other (B18);
* ``startTls()`` (B39-B42) checks its preconditions, then returns a new
  socket at once. In the background it flushes the old writable, detaches
  the old streams, marks the old socket upgraded, resolves its ``closed``,
  and hands the connection to the new socket, which shakes hands on it. A
  failure there rejects the new ``opened`` and ``closed`` with an "internal
  error" (the handshake) or the TypeError that stopped the detach (B41).

Both ``opened`` and ``closed`` are created marked as handled (B22).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from . import errors, policy
from .arguments import ConnectRequest, parse_tls_options
from .connection import (
    ConnectError,
    Connection,
    ConnectionEvents,
    ConnectionLost,
    TlsFailure,
    open_connection,
    split_network_address,
)
from .errors import JSError, JSThrow, type_error
from .mutants import Quirks
from .payload import Payload, pieces
from .policy import Slots, SlotsEnded
from .promises import Promise, PromiseState, RejectionTracker
from .readable import ReadableStream
from .tasks import TaskSet
from .tls import TlsConfig
from .writable import WritableStream

#: Big chunks go to the transport in slices, waiting for its buffer to drain between them.
WRITE_SLICE = 1024 * 1024
#: Where the large-write-truncated mutant cuts a chunk.
TRUNCATED_WRITE = 16 * 1024 * 1024

SocketInfo = dict[str, Any]


class StartTlsUnavailable(Exception):
    """startTls() passed its checks, but the adapter was launched without a CA (B44)."""


@dataclass(frozen=True)
class Upgrade:
    """Where a socket returned by ``startTls()`` gets its connection, and the name it verifies."""

    origin: Socket
    hostname: str


class Socket:
    def __init__(
        self,
        request: ConnectRequest,
        *,
        tracker: RejectionTracker,
        tasks: TaskSet,
        quirks: Quirks,
        tls: TlsConfig | None = None,
        upgrade: Upgrade | None = None,
        slots: Slots | None = None,
        outbound_worker: bool = False,
    ) -> None:
        self._request = request
        self._slots = slots
        self._outbound_worker = outbound_worker
        self._tracker = tracker
        self._tasks = tasks
        self._quirks = quirks
        self._tls = tls
        self.secure_transport: str = request.secure_transport
        self.upgraded = False
        self.opened: Promise[SocketInfo] = Promise(tracker, handled=not quirks.opened_not_marked_handled)
        self.closed: Promise[None] = Promise(tracker, handled=True)
        self.readable = ReadableStream(tracker, source=self, on_eof_read=self._on_eof_read, quirks=quirks)
        self.writable = WritableStream(
            tracker,
            sink=self,
            gate=self.opened,
            spawn=tasks.spawn,
            quirks=quirks,
            high_water_mark=request.high_water_mark,
        )
        self._link: Connection | None = None  # the connection this socket owns, usable or not yet
        self._connection: Connection | None = None  # the link, once usable (B17)
        self._connect_done = asyncio.Event()
        self._dead_connection: Connection | None = None
        self._connect_failure: JSError | None = None  # the writable's abort reason (B19)
        self._read_paused = False
        self._closing = False
        self.destroyed = False
        self._upgrade_started = False  # startTls was called: B39 (4)
        self._connect_failed = False
        self._handed_over = False  # startTls took the connection: B39 (2)
        self._eof_read = False  # a read saw the peer's EOF (B31)
        self._lost_to_reset = False  # the connection broke (B21): only the reset-keeps-slot mutant asks
        if upgrade is not None:
            self.upgraded = quirks.new_socket_upgraded_true
            tasks.spawn(self._take_over(upgrade))
            return
        if quirks.opened_before_connection:
            self.opened.resolve({"remoteAddress": request.destination.address})
        tasks.spawn(self._connect())

    @property
    def hostname(self) -> str:
        """The hostname part of the address: what TLS sends as SNI and verifies (B45)."""
        target = split_network_address(self._request.destination.address)
        return target.host if target is not None else ""

    # -- connecting -----------------------------------------------------------------------

    async def _connect(self) -> None:
        late_slot = self._quirks.connecting_sockets_not_counted  # the mutant takes it once connected
        if not late_slot and not await self._take_slot():
            return
        if self._outbound_worker and not self._quirks.outbound_worker_bypassed:
            self._fail_connect()  # B53: the Outbound Worker has no connect handler; nothing is dialled
            return
        secure = self.secure_transport == "on"
        target = split_network_address(self._request.destination.address)
        if target is not None and policy.port_prohibited(target.port, self.secure_transport, self._quirks):
            self._fail_connect(JSError("Error", errors.PORT_25_PROHIBITED))  # B24: before anything is dialled
            return
        if secure and self._tls is None:
            self._fail_connect()  # B44: a network without tlsOptions cannot do "on"
            return
        try:
            connection = await open_connection(self._request.destination.address, self, self._quirks)
        except ConnectError:
            self._fail_connect()
            return
        if self.destroyed:  # the session ended while we were connecting
            self._dead_connection = connection
            connection.abort()
            return
        self._link = connection
        if secure:
            assert self._tls is not None
            if self._quirks.opened_before_handshake:
                self.opened.resolve(self._socket_info(connection))
            try:
                await connection.start_tls(self._tls.session(self.hostname, upgrade=False))
            except TlsFailure:
                self._drop_link()
                self._fail_connect()  # B18: for "on", a failed handshake is a failed connection
                return
            if self.destroyed:
                return  # the session ended during the handshake; destroy() dropped the connection
        if late_slot and not await self._take_slot():
            self._drop_link()
            return
        self._become_usable(connection)

    def _become_usable(self, connection: Connection) -> None:
        self._connection = connection
        if self._read_paused:
            connection.pause_reading()
        self._connect_done.set()
        self.opened.resolve(self._socket_info(connection))

    def _socket_info(self, connection: Connection) -> SocketInfo:
        address = self._request.destination.address
        if self._quirks.remote_address_as_ip:
            address = connection.peer_ip
        if self._quirks.remote_address_lowercased:
            address = address.lower()
        info: SocketInfo = {"remoteAddress": address}
        if self._quirks.opened_has_local_address:
            info["localAddress"] = connection.local_address
        return info

    async def _take_slot(self) -> bool:
        """B48: wait for one of the request's connection slots; it is given back when ``closed`` settles."""
        slots = self._slots
        if slots is None:
            return True
        if slots.rejects and slots.full():
            self._fail_connect()  # the mutant: refused instead of waiting
            return False
        try:
            await slots.acquire()
        except SlotsEnded:
            return False  # the session is ending: this socket is dropped with it, never dialled
        if self.destroyed:
            slots.release()
            return False

        def give_back(closed: Promise[None]) -> None:
            if self._quirks.failed_connection_keeps_slot and self._connect_failed:
                return
            if self._quirks.reset_keeps_slot and self._lost_to_reset:
                return
            slots.release()

        self.closed.then(give_back)
        return True

    def _fail_connect(self, error: JSError | None = None) -> None:
        self._connect_failed = True
        error = error or self._proxy_error()
        if self._quirks.closed_resolves_on_failure:
            self.closed.resolve(None)
        else:
            self.closed.reject(error)
        self.opened.reject(error)
        self._end_streams(JSError("Error", errors.KJ_DESCRIPTION_PREFIX + error.message))

    def _proxy_error(self) -> JSError:
        """B18's error for this socket's address."""
        message = errors.CONNECT_FAILED
        target = split_network_address(self._request.destination.address)
        hinted = not self._quirks.http_port_hint_missing
        if self._quirks.http_hint_string_form_only and self._request.destination.object_form:
            hinted = False
        if target is not None and target.port in (80, 443) and hinted:
            message += errors.HTTP_PORT_HINT
        return JSError("TypeError" if self._quirks.connect_error_is_type_error else "Error", message)

    def _fail(self, error: object) -> None:
        """The connection never became usable, for a reason other than B18's (startTls, B40/B41)."""
        self.closed.reject(error)
        self.opened.reject(error)
        self._end_streams(error)

    def _end_streams(self, abort_reason: object) -> None:
        """B19: reads are done, writes reject with ``abort_reason``."""
        self.readable.cancel_quietly()
        self._connect_failure = abort_reason if isinstance(abort_reason, JSError) else None
        self.writable.fail(abort_reason)
        self._connect_done.set()

    def _drop_link(self) -> None:
        if self._link is not None:
            self._dead_connection, self._link = self._link, None
            self._dead_connection.abort()

    # -- the writable's sink --------------------------------------------------------------

    async def _usable_connection(self) -> Connection:
        await self._connect_done.wait()
        if self._connection is None:
            raise JSThrow(self._connect_failure or JSError("TypeError", errors.SOCKET_CLOSED))
        return self._connection

    async def sink_write(self, data: Payload) -> None:
        connection = await self._usable_connection()
        try:
            for index, piece in enumerate(pieces(data, WRITE_SLICE)):
                if self._quirks.large_write_truncated and index * WRITE_SLICE >= TRUNCATED_WRITE:
                    break  # the mutant sends at most 16 MiB of one chunk
                connection.write(piece)
                await connection.drain()
        except ConnectionLost:
            raise JSThrow(JSError("Error", errors.CONNECTION_LOST)) from None

    def sink_write_now(self, data: bytes) -> bool:
        connection = self._connection
        if (
            not self._connect_done.is_set()
            or connection is None
            or len(data) > WRITE_SLICE
            or not connection.can_write_now()
        ):
            return False
        try:
            connection.write(data)
        except ConnectionLost:
            return False  # the pump's path reports it, with the right error
        return True

    async def sink_close(self) -> None:
        """The writable's close: FIN after the queued data (B29); over TLS, close_notify first."""
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
        self._lost_to_reset = True
        lost = JSError("Error", errors.CONNECTION_LOST)
        if self._quirks.reset_as_eof:
            self.readable.push_eof()
        else:
            self.readable.push_error(lost)
        self.writable.fail(lost)
        self.closed.resolve(None)  # B34: write-disconnect fulfils closed

    # -- half-open (B31-B33) ------------------------------------------------------------------

    def _on_eof_read(self) -> None:
        self._eof_read = True
        if self._request.allow_half_open:
            return
        if self.writable.closed_or_closing:
            return  # B32: closed then settles only through close() or write-disconnect
        # Closed at once: a write right after the read that saw EOF finds the stream closing.
        closing = self.writable.close()
        closing.mark_handled()
        self._tasks.spawn(self._close_write_side(closing))

    async def _close_write_side(self, closing: Promise[None]) -> None:
        await closing.wait_settled()
        if closing.state is PromiseState.REJECTED:
            self.closed.reject(closing.reason)
        else:
            self.closed.resolve(None)

    # -- close() (B35-B38) -----------------------------------------------------------------

    def close(self) -> Promise[None]:
        """``socket.close()``.

        The proposal says close() returns the ``closed`` promise itself; workerd
        returns a new promise each time, one that never rejects (B36, B37). The
        reference keeps both where both can hold: once ``opened`` has fulfilled
        (``closed`` then resolves), close() returns ``closed`` itself; before
        that, or after a failed connect, ``closed`` may reject while close() must
        resolve, so the first call returns a promise of its own.
        """
        return self._close(None)

    def close_from_other_request(self, error: JSError) -> Promise[None]:
        """``close()`` from another request's handler (B2): the socket closes, but flushing its
        writable is I/O on behalf of the wrong request, so ``closed`` rejects with ``error``;
        close() itself resolves (what workerd does)."""
        return self._close(error)

    def _close(self, foreign: JSError | None) -> Promise[None]:
        if self._closing:
            return self.closed
        self._closing = True
        if self._quirks.close_after_eof_rejects_closed and self._eof_read and not self._request.allow_half_open:
            self.closed.reject(JSError("TypeError", errors.SOCKET_CLOSED))  # workerd#6479's race, made certain
        self.readable.set_pending_closure()
        self.writable.set_pending_closure()
        result: Promise[None] = Promise(self._tracker)
        # After writer.abort() the flush fails and closed rejects (B37), so close() needs its own.
        aborted = self.writable.aborted
        self._tasks.spawn(self._close_steps(result, foreign, aborted=aborted))
        if self.opened.state is PromiseState.FULFILLED and foreign is None and not aborted:
            return self.closed
        return result

    async def _close_steps(self, result: Promise[None], foreign: JSError | None = None, *, aborted: bool) -> None:
        await self.opened.wait_settled()
        if foreign is not None:
            self.closed.reject(foreign)
        elif not self._quirks.close_without_flush and self.writable.state != "closed":
            try:
                await self.writable.flush()
            except JSThrow as thrown:
                if aborted or not self.writable.aborted:  # an abort after close() returned closed is no failure
                    self.closed.reject(thrown.value)  # B37: errors go to closed, not to close()
        reason = JSError("TypeError", errors.SOCKET_CLOSED)
        self.readable.force_close(reason)
        self.writable.fail(reason, detach_writer=True)
        self.destroy(discard_buffered=self._quirks.close_without_flush)
        self.closed.resolve(None)
        if self._quirks.close_rejects_on_failure and self.opened.state is PromiseState.REJECTED:
            result.reject(self.opened.reason)
        else:
            result.resolve(None)

    def destroy(self, *, discard_buffered: bool) -> None:
        """Drop the connection (B35 step 5); also how ``end`` gets rid of a socket."""
        self.destroyed = True
        self._connection = None
        if self._link is not None:
            self._dead_connection, self._link = self._link, None
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

    # -- startTls (B39-B42) ---------------------------------------------------------------

    def start_tls(self, options: object) -> Socket:
        """``socket.startTls(options)``: the new socket, or a sync TypeError (B39)."""
        expected_hostname = parse_tls_options(options)
        if self.secure_transport == "on":
            raise type_error(errors.STARTTLS_ON_TLS_SOCKET)
        checks = [
            (
                # workerd drops the connection in close() only once opened fulfilled: after a failed
                # connect, close() leaves it, and startTls() goes on to its other checks (B39).
                (self.destroyed and self.opened.state is PromiseState.FULFILLED)
                or self._handed_over
                or (self._quirks.start_tls_before_opened_throws and not self._connect_done.is_set()),
                errors.STARTTLS_AFTER_CLOSE,
            ),
            (
                self.secure_transport == "off" and not self._quirks.start_tls_on_off_allowed,
                errors.STARTTLS_WRONG_OPTION,
            ),
        ]
        if self._quirks.start_tls_checks_reordered:
            checks.reverse()
        checks.append((self._upgrade_started and not self._quirks.start_tls_twice_allowed, errors.STARTTLS_TWICE))
        for failed, message in checks:
            if failed:
                raise type_error(message)
        if self._tls is None:
            raise StartTlsUnavailable("startTls() needs the run's CA, and the adapter has none")
        self._upgrade_started = True  # workerd moves the domain to the new socket: B39 (4)
        hostname = self.hostname
        if expected_hostname is not None and not self._quirks.expected_server_hostname_ignored:
            hostname = expected_hostname  # B42, autogate off (workerd's default)
        request = replace(self._request, secure_transport="on")
        if self._quirks.start_tls_options_not_inherited:
            request = replace(request, allow_half_open=False, high_water_mark=None)
        return Socket(
            request,
            tracker=self._tracker,
            tasks=self._tasks,
            quirks=self._quirks,
            tls=self._tls,
            upgrade=Upgrade(self, hostname),
        )

    async def _take_over(self, upgrade: Upgrade) -> None:
        """The new socket's side of startTls: take the connection, then shake hands on it (B40)."""
        try:
            connection, unread = await upgrade.origin.hand_over(self)
        except JSThrow as thrown:
            self._fail(thrown.value)
            return
        if self.destroyed:  # the session ended meanwhile
            self._dead_connection = connection
            connection.abort()
            return
        self._link = connection
        assert self._tls is not None
        try:
            await connection.start_tls(self._tls.session(upgrade.hostname, upgrade=True), unread)
        except TlsFailure:
            self._drop_link()
            if self._quirks.start_tls_error_is_proxy_error:
                self._fail(self._proxy_error())
            else:
                self._fail(JSError("Error", errors.internal_error_message()))
            return
        if self.destroyed:
            return
        if self._quirks.upgraded_set_after_handshake:
            upgrade.origin.upgraded = True
        self._become_usable(connection)

    async def hand_over(self, successor: ConnectionEvents) -> tuple[Connection, bytes]:
        """The old socket's side of startTls: flush, detach, give the connection away (B40, B41).

        Returns the connection and the bytes that arrived but were never read
        (they go to the handshake); raises ``JSThrow`` with what the new
        socket's ``opened`` rejects with.
        """
        if self._connect_done.is_set() and self.opened.state is PromiseState.REJECTED:
            raise JSThrow(self.opened.reason)  # the plaintext connection never existed
        await self.writable.flush()
        if self.destroyed:
            raise type_error(errors.STARTTLS_CLOSED_DURING)  # close() won the race (B43)
        self.writable.detach()
        self.readable.detach()
        self._handed_over = True
        if not self._quirks.old_socket_not_upgraded:
            # Set before closed resolves, as workerd does; the mutant sets it once the handshake is done.
            self.upgraded = not self._quirks.upgraded_set_after_handshake
            self.closed.resolve(None)
        await self._connect_done.wait()
        connection = self._connection
        if connection is None:
            if self.opened.state is PromiseState.REJECTED:
                raise JSThrow(self.opened.reason)
            raise type_error(errors.STARTTLS_CLOSED_DURING)
        self._connection = self._link = None
        connection.set_events(successor)
        return connection, self.readable.take_unread()
