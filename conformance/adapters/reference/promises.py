"""A JS-like Promise over asyncio, which knows whether its rejection was handled.

Why not plain asyncio futures: the conformance suite checks unhandled
rejections (B22: ``opened`` and ``closed`` are created marked as handled, so a
failed socket nobody awaits must not raise ``unhandledrejection``). That needs
the JS notion of a *handler*: a rejection that has none by the end of the
current turn is reported, like a browser's or Node's ``unhandledrejection``.

A Promise settles once; later ``resolve``/``reject`` calls are ignored, as in
JS. The model's own bookkeeping waits with ``wait_settled``, which does not
count as a handler (workerd marks the promises it chains internally as handled
itself, and the reference does the same explicitly where it matters). The
adapter, acting for the test's JS code, awaits with ``join``/``mark_handled``.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import JSThrow

T = TypeVar("T")


class PromiseState(enum.Enum):
    PENDING = "pending"
    FULFILLED = "fulfilled"
    REJECTED = "rejected"


class RejectionTracker:
    """Collects the reasons of rejections still unhandled at the end of their turn."""

    def __init__(self) -> None:
        self.unhandled: list[object] = []
        self._checks: dict[Promise[Any], asyncio.Handle] = {}

    def watch(self, promise: Promise[Any]) -> None:
        # The check runs one loop turn later, so a handler attached right after the
        # rejection (the JS microtask checkpoint) still counts.
        loop = asyncio.get_running_loop()
        self._checks[promise] = loop.call_soon(self._check, promise)

    def _check(self, promise: Promise[Any]) -> None:
        self._checks.pop(promise, None)
        if not promise.handled:
            self.unhandled.append(promise.reason)

    def flush(self) -> None:
        """Run the checks that are due now, so a report is complete and no timer remains."""
        for promise, handle in list(self._checks.items()):
            handle.cancel()
            self._check(promise)


class Promise(Generic[T]):
    """One JS promise: pending, then fulfilled with a value or rejected with a reason."""

    __slots__ = ("_callbacks", "_reason", "_state", "_tracker", "_value", "_waiters", "handled")

    def __init__(self, tracker: RejectionTracker, *, handled: bool = False) -> None:
        self._tracker = tracker
        self._state = PromiseState.PENDING
        self._value: T | None = None
        self._reason: object = None
        self._waiters: list[asyncio.Future[None]] = []
        self._callbacks: list[Callable[[Promise[T]], None]] = []
        #: True once something would handle a rejection (JS: markAsHandled or a handler).
        self.handled = handled

    @classmethod
    def resolved(cls, tracker: RejectionTracker, value: T) -> Promise[T]:
        promise: Promise[T] = cls(tracker)
        promise.resolve(value)
        return promise

    @classmethod
    def rejected(cls, tracker: RejectionTracker, reason: object) -> Promise[T]:
        promise: Promise[T] = cls(tracker)
        promise.reject(reason)
        return promise

    def __repr__(self) -> str:
        return f"<Promise {self._state.value}>"

    @property
    def state(self) -> PromiseState:
        return self._state

    @property
    def settled(self) -> bool:
        return self._state is not PromiseState.PENDING

    @property
    def reason(self) -> object:
        return self._reason

    def resolve(self, value: T) -> None:
        if self.settled:
            return
        self._state = PromiseState.FULFILLED
        self._value = value
        self._wake()

    def reject(self, reason: object) -> None:
        if self.settled:
            return
        self._state = PromiseState.REJECTED
        self._reason = reason
        if not self.handled:
            self._tracker.watch(self)
        self._wake()

    def mark_handled(self) -> None:
        self.handled = True

    def result(self) -> T:
        """The fulfilled value; raises ``JSThrow`` if rejected. Only for a settled promise."""
        if self._state is PromiseState.FULFILLED:
            return self._value  # type: ignore[return-value]
        if self._state is PromiseState.REJECTED:
            raise JSThrow(self._reason)
        raise RuntimeError("the promise has not settled")

    async def wait_settled(self) -> None:
        """Wait until settled, without counting as a handler."""
        await self.settle_within(None)

    async def settle_within(self, timeout: float | None) -> bool:
        """Wait at most ``timeout`` seconds (None: no limit); True if it has settled."""
        if self.settled:
            return True
        if timeout is not None and timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        # A timer on the waiter instead of asyncio.wait(): no task per wait, which
        # matters on the protocol's hot path (one wait per op).
        timer = loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if not waiter.done():
                waiter.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return self.settled

    def then(self, callback: Callable[[Promise[T]], None]) -> None:
        """JS ``promise.then(...)``: a handler, called as soon as it settles (at once if it has).

        Unlike a JS reaction it runs synchronously, which lets a read that data
        fulfils be consumed in the same turn of the event loop.
        """
        self.handled = True
        if self.settled:
            callback(self)
        else:
            self._callbacks.append(callback)

    async def join(self) -> T:
        """JS ``await promise``: attaches a handler, waits, returns or raises ``JSThrow``."""
        self.handled = True
        await self.wait_settled()
        return self.result()

    def _wake(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
