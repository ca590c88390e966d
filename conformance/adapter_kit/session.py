"""A case session's state (``begin`` ... ``end``): its sockets by handle, each with its current
reader and writer, the promises its ops awaited (``Tracked``: a handler attached for good), the
pending ones by handle, and the rejections the implementation reported as unhandled.

A "promise" is whatever the implementation gave for one: an ``asyncio.Future`` (kept as it is,
so awaiting it twice is awaiting one promise), a coroutine or other awaitable (run as a task), or
a plain value (already fulfilled). As in JavaScript, nothing is cancelled when the session ends.

Python has one ``None`` for JavaScript's ``undefined`` and ``null``: a function that returns
nothing fulfils with ``undefined``, as a JavaScript function does (a coroutine, a task, a plain
return value), while a future resolved with ``None`` fulfils with ``null`` (resolve it with
``UNDEFINED`` for ``undefined``).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.jsvalues import UNDEFINED

#: Turns a promise's fulfilled value into its protocol form.
Encoder = Callable[[Any], Any]

#: The tasks running coroutines the implementation returned: the loop keeps only weak references.
_RUNNING: set[asyncio.Task[Any]] = set()


def _retrieve(future: asyncio.Future[Any]) -> None:
    # Retrieving the exception is the handler: asyncio then never logs it as "never retrieved".
    if not future.cancelled():
        future.exception()


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class Tracked:
    """One awaited promise, with a handler attached for good."""

    def __init__(self, future: asyncio.Future[Any], *, returned: bool) -> None:
        self.future = future
        #: It holds what a function returned (not a future's own value): None reads as undefined.
        self.returned = returned
        future.add_done_callback(_retrieve)

    @property
    def settled(self) -> bool:
        return self.future.done()

    def value(self) -> Any:
        """The fulfilled value (only once settled and fulfilled)."""
        value = self.future.result()
        return UNDEFINED if value is None and self.returned else value

    async def within(self, seconds: float) -> None:
        """Waits at most ``seconds`` (0: one turn of the loop, so a started coroutine gets to run)."""
        if not self.future.done():
            await asyncio.wait({self.future}, timeout=seconds)


@dataclass(eq=False)
class SocketEntry:
    """A socket of the session, with its current reader and writer (None: none held)."""

    socket: Any
    reader: Any = None
    writer: Any = None
    #: Bytes a read_bytes took beyond its n; served first by the next read.
    leftover: Any = None


@dataclass(eq=False)
class Parked:
    tracked: Tracked
    encode: Encoder
    handle: str


@dataclass(eq=False)
class Session:
    case_id: str | None = None
    sockets: dict[str, SocketEntry] = field(default_factory=dict)
    #: id(promise) -> (promise, Tracked): the promise is kept, so its id stays its own.
    tracked: dict[int, tuple[object, Tracked]] = field(default_factory=dict)
    parked: dict[str, Parked] = field(default_factory=dict)
    unhandled: list[dict[str, Any]] = field(default_factory=list)

    def add_socket(self, socket: object) -> str:
        handle = f"s{len(self.sockets) + 1}"
        self.sockets[handle] = SocketEntry(socket)
        return handle

    def track(self, promise: object) -> Tracked:
        known = self.tracked.get(id(promise))
        if known is not None and known[0] is promise:
            return known[1]
        future: asyncio.Future[Any]
        if isinstance(promise, asyncio.Future):
            future = promise
        elif inspect.isawaitable(promise):
            task = asyncio.ensure_future(_awaited(promise))
            _RUNNING.add(task)
            task.add_done_callback(_RUNNING.discard)
            future = task
        else:
            future = asyncio.get_running_loop().create_future()
            future.set_result(promise)
        returned = not isinstance(promise, asyncio.Future) or isinstance(promise, asyncio.Task)
        tracked = Tracked(future, returned=returned)
        self.tracked[id(promise)] = (promise, tracked)
        return tracked

    def park(self, tracked: Tracked, encode: Encoder) -> str:
        for parked in self.parked.values():
            if parked.tracked is tracked:
                return parked.handle
        handle = f"p{len(self.parked) + 1}"
        self.parked[handle] = Parked(tracked, encode, handle)
        return handle

    def clear(self) -> None:
        """Forgets every handle."""
        self.sockets.clear()
        self.parked.clear()
        self.tracked.clear()

    def discard(self) -> None:
        """Closes what is still open without waiting (a session left behind). Never raises."""
        for entry in self.sockets.values():
            try:
                closing = entry.socket.close()
                if inspect.isawaitable(closing):
                    self.track(closing)
            except Exception:  # a socket that cannot close is dropped anyway
                pass
        self.clear()


@dataclass
class AdapterState:
    """Who the adapter is, the implementation's ``connect``, and the current session."""

    name: str
    version: str
    runtime: str
    capabilities: list[str]
    connect: Callable[..., Any]
    ops: frozenset[str]
    session: Session = field(default_factory=Session)
    shut_down: bool = False
