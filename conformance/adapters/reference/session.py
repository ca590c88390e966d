"""One case session of the reference adapter: its handles, its tasks, and ``end``.

Everything a case creates (sockets, parked promises, background tasks, the
unhandled-rejection record) belongs to a ``Session``, so ``end`` can close
and account for all of it and leave nothing behind on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.jsvalues import encode
from .errors import JSError
from .mutants import FAITHFUL, Quirks
from .policy import Slots
from .promises import Promise, PromiseState, RejectionTracker
from .readable import ReadableStreamReader
from .socket import Socket
from .tasks import TaskSet
from .writable import WritableStreamWriter

#: Turns a promise's fulfilled value into its protocol form.
Encoder = Callable[[Any], Any]

#: How long ``end`` waits for dropped connections to finish closing.
_CLOSE_GRACE_S = 1.0


def encode_error(reason: object) -> dict[str, Any]:
    """The protocol's ``error``: name and message of an Error, else the encoded value."""
    if isinstance(reason, JSError):
        return {"name": reason.name, "message": reason.message}
    return {"name": None, "message": None, "value": encode(reason)}


@dataclass
class SocketEntry:
    """A socket, the request that made it, and the adapter's current reader and writer for it
    (acquired on first use)."""

    socket: Socket
    request: str | None = None
    """The request whose handler made the socket (None: the session's own)."""
    reader: ReadableStreamReader | None = None
    writer: WritableStreamWriter | None = None


class Session:
    """One case session: the session's own request and the named ones its ops asked for."""

    def __init__(self, quirks: Quirks = FAITHFUL, outbound_worker: bool = False) -> None:
        self.tracker = RejectionTracker()
        self.tasks = TaskSet()
        self._quirks = quirks
        #: Each request has its own six connection slots (B48); None is the session's own request.
        self._slots: dict[str | None, Slots] = {None: Slots(quirks)}
        #: The ``outbound-worker`` environment: a Worker is the global outbound (B53).
        self.outbound_worker = outbound_worker
        self.sockets: dict[str, SocketEntry] = {}
        self._parked: dict[str, tuple[Promise[Any], Encoder]] = {}
        self._handle_of: dict[int, str] = {}

    def slots_for(self, request: str | None) -> Slots:
        if self._quirks.connection_limit_shared_across_requests:
            request = None
        if request not in self._slots:
            self._slots[request] = Slots(self._quirks)
        return self._slots[request]

    def add_socket(self, socket: Socket, request: str | None = None) -> str:
        handle = f"s{len(self.sockets) + 1}"
        self.sockets[handle] = SocketEntry(socket, request)
        return handle

    def parked(self, handle: str) -> tuple[Promise[Any], Encoder] | None:
        return self._parked.get(handle)

    async def outcome(self, promise: Promise[Any], encoder: Encoder, timeout_ms: int) -> dict[str, Any]:
        """Await ``promise`` for at most ``timeout_ms``: resolved, rejected or pending (parked)."""
        promise.mark_handled()  # from now on the adapter is its handler (protocol section 2)
        if await promise.settle_within(timeout_ms / 1000):
            return settled_response(promise, encoder)
        return {"status": "pending", "promise": self._park(promise, encoder)}

    def _park(self, promise: Promise[Any], encoder: Encoder) -> str:
        handle = self._handle_of.get(id(promise))
        if handle is None:
            handle = f"p{len(self._parked) + 1}"
            self._parked[handle] = (promise, encoder)
            self._handle_of[id(promise)] = handle
        return handle

    async def end(self, timeout_ms: int) -> dict[str, Any]:
        """Close what is left, forget every handle, and report leaks."""
        self._end_slots()
        open_sockets = sum(1 for entry in self.sockets.values() if not entry.socket.closed.settled)
        closing = [entry.socket.close() for entry in self.sockets.values() if not entry.socket.destroyed]
        deadline = time.monotonic() + timeout_ms / 1000
        for promise in closing:
            promise.mark_handled()
            await promise.settle_within(max(0.0, deadline - time.monotonic()))
        await self.discard()
        return {
            "open_sockets": open_sockets,
            "unhandled_rejections": [encode_error(reason) for reason in self.tracker.unhandled],
        }

    def _end_slots(self) -> None:
        for slots in self._slots.values():
            slots.end()

    async def discard(self) -> None:
        """Drop everything at once: connections, tasks, handles. Idempotent."""
        self._end_slots()
        sockets = [entry.socket for entry in self.sockets.values()]
        for socket in sockets:
            socket.destroy(discard_buffered=True)
        await self.tasks.cancel_all()
        if sockets:
            waits = [asyncio.ensure_future(socket.wait_destroyed()) for socket in sockets]
            _, late = await asyncio.wait(waits, timeout=_CLOSE_GRACE_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        self.tracker.flush()
        self.sockets.clear()
        self._parked.clear()
        self._handle_of.clear()


def settled_response(promise: Promise[Any], encoder: Encoder) -> dict[str, Any]:
    if promise.state is PromiseState.FULFILLED:
        return {"status": "resolved", "value": encoder(promise.result())}
    return {"status": "rejected", "error": encode_error(promise.reason)}
