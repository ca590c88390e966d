"""The harness side of the adapter protocol: seq numbering, deadlines, validation, restarts."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from ..core.jsshow import show
from ..errors import AdapterError, InfrastructureError
from . import PROTOCOL_VERSION, messages
from .replies import SHAPE_OF_OP, HelloInfo, Reply, ReplyShapeError, Shape, Status, parse
from .transports import Transport

#: Added to an op's own ``timeout_ms`` before the adapter counts as silent.
GRACE_S = 5.0
HELLO_TIMEOUT_S = 30.0
#: A restart's hello may take this many times the first one's, within [RESTART_HELLO_MIN_S, HELLO_TIMEOUT_S]:
#: a runtime that started in 0.5 s and hangs on restart costs 5 s per attempt, not 30.
RESTART_HELLO_FACTOR = 10.0
RESTART_HELLO_MIN_S = 5.0


class AdapterClient:
    """Talks to one adapter; after any ``AdapterError`` it must be ``restart()``-ed."""

    def __init__(self, make_transport: Callable[[], Transport]) -> None:
        self._make_transport = make_transport
        self._transport: Transport | None = None
        self._seq = 0
        # Requests are built by the interpreter, so an invalid one is a bug of ours; checking
        # each costs a fifth of an in-process round trip. The project's own tests turn it on.
        self._check_requests = os.environ.get("CONNECT_CONFORMANCE_CHECK_REQUESTS") == "1"
        self.hello: HelloInfo | None = None
        self.broken = False
        #: How long the first start took (process start and hello), which bounds how long a restart may.
        self._first_start_s: float | None = None

    def _hello_timeout(self) -> float:
        if self._first_start_s is None:
            return HELLO_TIMEOUT_S
        return min(HELLO_TIMEOUT_S, max(RESTART_HELLO_MIN_S, RESTART_HELLO_FACTOR * self._first_start_s))

    async def start(self) -> HelloInfo:
        started = time.monotonic()
        self._transport = self._make_transport()
        await self._transport.open()
        try:
            reply = await self.call({"op": "hello", "protocol": PROTOCOL_VERSION}, timeout=self._hello_timeout())
        except AdapterError as error:
            # What the adapter printed is the only clue to why it would not start.
            detail = self.diagnostics()
            await self.close()
            note = f"\n{detail}" if detail else ""
            raise InfrastructureError(f"the adapter did not answer hello: {error}{note}") from None
        if reply.status is not Status.RETURNED or not isinstance(reply.typed, HelloInfo):
            await self.close()
            raise InfrastructureError(f"the adapter refused hello: {show(reply.raw)}")
        self.hello = reply.typed
        self.broken = False
        if self._first_start_s is None:
            self._first_start_s = time.monotonic() - started
        return self.hello

    async def restart(self) -> HelloInfo:
        await self.close()
        return await self.start()

    def diagnostics(self) -> str:
        return self._transport.diagnostics() if self._transport else ""

    async def call(self, request: dict[str, Any], timeout: float | None = None, shape: Shape | None = None) -> Reply:
        """Send one request and return its checked, typed reply; ``AdapterError`` when anything breaks.

        ``shape`` says what a settled value must look like when it is not the op's own
        (an ``await`` on a pending read resolves like a read).
        """
        if self._transport is None:
            raise AdapterError("the adapter is not running")
        self._seq += 1
        op = str(request.get("op"))
        message = {"seq": self._seq, **request}
        if self._check_requests:
            problem = messages.request_problem(message)
            if problem:
                raise AdapterError(f"harness bug: invalid request {op}: {problem}")
        if timeout is None:
            timeout = message.get("timeout_ms", 0) / 1000 + GRACE_S
        try:
            raw = await self._transport.exchange(message, timeout)
        except AdapterError:
            self.broken = True
            raise
        if not isinstance(raw, dict) or raw.get("seq") != self._seq:
            self.broken = True
            got = raw.get("seq") if isinstance(raw, dict) else raw
            raise AdapterError(f"the adapter answered seq {show(got)} to request seq {self._seq}")
        problem = messages.response_problem(op, raw)
        if problem:
            self.broken = True
            raise AdapterError(f"invalid response to {op}: {problem}")
        try:
            return parse(op, raw, shape or SHAPE_OF_OP.get(op, "any"))
        except ReplyShapeError as error:
            self.broken = True
            raise AdapterError(f"invalid response to {error}") from None

    async def open_session(self) -> None:
        assert self._transport is not None
        try:
            await self._transport.open_session()
        except AdapterError:
            self.broken = True
            raise

    async def close_session(self) -> None:
        if self._transport is not None:
            await self._transport.close_session()

    async def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is None:
            return
        if not self.broken:
            with contextlib.suppress(AdapterError):
                await transport.exchange({"seq": self._seq + 1, "op": "shutdown"}, 2.0)
        await transport.close()
