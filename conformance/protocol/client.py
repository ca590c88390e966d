"""The harness side of the adapter protocol: seq numbering, deadlines, validation, restarts."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import AdapterError, InfrastructureError
from . import messages
from .transports import Transport

#: Added to an op's own ``timeout_ms`` before the adapter counts as silent.
GRACE_S = 5.0
HELLO_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Hello:
    name: str
    version: str
    runtime: str
    protocol: int
    capabilities: frozenset[str] = field(default_factory=frozenset)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "runtime": self.runtime,
            "protocol": self.protocol,
            "capabilities": sorted(self.capabilities),
        }


class AdapterClient:
    """Talks to one adapter; after any ``AdapterError`` it must be ``restart()``-ed."""

    def __init__(self, make_transport: Callable[[], Transport], validate: bool = True) -> None:
        self._make_transport = make_transport
        self._transport: Transport | None = None
        self._seq = 0
        self._validate = validate
        # Requests are built by the interpreter, so an invalid one is a bug of ours; checking
        # each costs a fifth of an in-process round trip. The project's own tests turn it on.
        self._check_requests = validate and os.environ.get("CONNECT_CONFORMANCE_CHECK_REQUESTS") == "1"
        self.hello: Hello | None = None
        self.broken = False

    async def start(self) -> Hello:
        self._transport = self._make_transport()
        await self._transport.open()
        try:
            reply = await self.call({"op": "hello", "protocol": messages.PROTOCOL_VERSION}, timeout=HELLO_TIMEOUT_S)
        except AdapterError as error:
            await self.close()
            raise InfrastructureError(f"the adapter did not answer hello: {error}") from None
        value = reply.get("value") or {}
        if reply.get("status") != "returned":
            await self.close()
            raise InfrastructureError(f"the adapter refused hello: {reply}")
        self.hello = Hello(
            name=value["name"],
            version=value["version"],
            runtime=value["runtime"],
            protocol=value["protocol"],
            capabilities=frozenset(value["capabilities"]),
        )
        self.broken = False
        return self.hello

    async def restart(self) -> Hello:
        await self.close()
        return await self.start()

    def diagnostics(self) -> str:
        return self._transport.diagnostics() if self._transport else ""

    async def call(self, request: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Send one request and return its validated response; ``AdapterError`` when anything breaks."""
        if self._transport is None:
            raise AdapterError("the adapter is not running")
        self._seq += 1
        message = {"seq": self._seq, **request}
        if self._check_requests:
            problem = messages.request_problem(message)
            if problem:
                raise AdapterError(f"harness bug: invalid request {request.get('op')}: {problem}")
        if timeout is None:
            timeout = message.get("timeout_ms", 0) / 1000 + GRACE_S
        try:
            reply = await self._transport.exchange(message, timeout)
        except AdapterError:
            self.broken = True
            raise
        if not isinstance(reply, dict) or reply.get("seq") != self._seq:
            self.broken = True
            got = reply.get("seq") if isinstance(reply, dict) else reply
            raise AdapterError(f"the adapter answered seq {got!r} to request seq {self._seq}")
        if self._validate:
            problem = messages.response_problem(str(message["op"]), reply)
            if problem:
                self.broken = True
                raise AdapterError(f"invalid response to {message['op']}: {problem}")
        return reply

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
