"""The adapter checker's line to an adapter: one exchange at a time, each one kept and judged.

Unlike ``protocol.client.AdapterClient``, which stops at the first broken
message (right for a run), the checker wants to see what came back: it picks
each request's ``seq`` (to send large and out-of-order values), may send
requests that break the schema on purpose (an unknown op), and records every
exchange, answered or not, with its timing and schema problem, so the checks
can say what was expected and what arrived. It reuses the harness's
transports (``protocol.transports``) and schemas (``protocol.messages``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from ..core.jsshow import kind
from ..errors import AdapterError
from ..protocol import messages
from ..protocol.transports import StdioTransport, Transport

#: A response slower than its ``timeout_ms`` by more than this is reported as slow (a warning).
SLOW_S = 1.0


@dataclass
class Exchange:
    """One request and what came back: a decoded reply, or why there was none."""

    request: dict[str, Any]
    deadline_s: float
    reply: Any = None
    failure: str | None = None
    """Set when no usable reply came: silence, a crash, a line that is not JSON."""
    elapsed_s: float = 0.0
    schema_problem: str | None = None

    @property
    def op(self) -> str:
        return str(self.request.get("op"))

    @property
    def seq(self) -> int:
        seq: int = self.request["seq"]
        return seq

    @property
    def answered(self) -> bool:
        return self.failure is None and isinstance(self.reply, dict)

    @property
    def timed_out(self) -> bool:
        return self.failure is not None and self.elapsed_s >= self.deadline_s - 0.05

    @property
    def status(self) -> str | None:
        status = self.reply.get("status") if isinstance(self.reply, dict) else None
        return status if isinstance(status, str) else None

    @property
    def seq_echoed(self) -> bool:
        seq = self.reply.get("seq") if isinstance(self.reply, dict) else None
        return type(seq) is int and seq == self.seq

    def get(self, key: str) -> Any:
        return self.reply.get(key) if isinstance(self.reply, dict) else None

    def describe(self) -> str:
        """What came back, short enough for one line."""
        if self.failure is not None:
            return self.failure
        if not isinstance(self.reply, dict):
            return f"{kind(self.reply)} instead of an object: {preview(self.reply)}"
        status = self.reply.get("status")
        shown = {k: v for k, v in self.reply.items() if k != "seq"}
        text = f"status {preview(status)}" if isinstance(status, str) else "no status"
        rest = {k: v for k, v in shown.items() if k != "status"}
        if rest:
            text += f" {preview(rest)}"
        if not self.seq_echoed:
            text += f" (seq {preview(self.reply.get('seq'))} for request seq {self.seq})"
        return text

    def took(self) -> str:
        return f"{self.elapsed_s * 1000:.0f} ms"


def preview(value: Any, limit: int = 160) -> str:
    """A protocol value as the adapter sent it: JSON (what an adapter's author writes), shortened."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Wire:
    """One running adapter, reached through one of the harness's transports.

    After an exchange with no usable answer the wire is ``broken``: its
    stream may be out of step (a late answer would be read as the next one),
    so the checker restarts the adapter before the next group of checks.
    """

    def __init__(self, transport: Transport, grace_s: float) -> None:
        self.transport = transport
        self.grace_s = grace_s
        self.exchanges: list[Exchange] = []
        self.broken = False
        self.shut_down = False
        self.in_session = False
        self._seq = 0
        self._used: set[int] = set()

    async def open(self) -> None:
        """Starts the adapter; ``InfrastructureError`` when it cannot be started."""
        await self.transport.open()

    def next_seq(self) -> int:
        self._seq += 1
        while self._seq in self._used:
            self._seq += 1
        return self._seq

    async def send(
        self, request: dict[str, Any], *, seq: int | None = None, deadline_s: float | None = None, validate: bool = True
    ) -> Exchange:
        """Sends one request (``seq`` chosen here unless given) and waits for one reply."""
        seq = self.next_seq() if seq is None else seq
        self._used.add(seq)
        message = {"seq": seq, **request}
        if validate:
            problem = messages.request_problem(message)
            if problem:
                raise AssertionError(f"checker bug: invalid request {message}: {problem}")
        if deadline_s is None:
            deadline_s = message.get("timeout_ms", 0) / 1000 + self.grace_s
        exchange = Exchange(message, deadline_s)
        self.exchanges.append(exchange)
        if self.broken:
            exchange.failure = "not sent: the adapter broke earlier"
            return exchange
        started = time.perf_counter()
        try:
            exchange.reply = await self.transport.exchange(message, deadline_s)
        except AdapterError as error:
            exchange.failure = str(error)
        exchange.elapsed_s = time.perf_counter() - started
        if exchange.failure is None and not isinstance(exchange.reply, dict):
            exchange.failure = f"the adapter answered with a JSON {type(exchange.reply).__name__}, not an object"
        if exchange.failure is not None:
            self.broken = True
            return exchange
        exchange.schema_problem = messages.reply_problem(_schema_for(exchange.op), exchange.reply)
        return exchange

    async def begin(self, case: str, seq: int | None = None) -> Exchange:
        """Opens a case session (a WebSocket of its own, for WebSocket adapters)."""
        try:
            await self.transport.open_session()
        except AdapterError as error:
            self.broken = True
            message = {"seq": self.next_seq() if seq is None else seq, "op": "begin", "case": case}
            exchange = Exchange(message, 0.0, failure=str(error))
            self.exchanges.append(exchange)
            return exchange
        self.in_session = True
        return await self.send({"op": "begin", "case": case}, seq=seq)

    async def end(self, timeout_ms: int = 2000, seq: int | None = None) -> Exchange:
        exchange = await self.send({"op": "end", "timeout_ms": timeout_ms}, seq=seq)
        await self.leave_session()
        return exchange

    async def leave_session(self) -> None:
        self.in_session = False
        with contextlib.suppress(AdapterError):
            await self.transport.close_session()

    async def close(self) -> None:
        """Says ``shutdown`` if the adapter is still healthy, then stops it."""
        if self.in_session and not self.broken:
            await self.end()
        if not self.broken and not self.shut_down:
            with contextlib.suppress(AdapterError):
                await self.transport.exchange({"seq": self.next_seq(), "op": "shutdown"}, 2.0)
        with contextlib.suppress(Exception):
            await self.transport.close()

    def diagnostics(self) -> str:
        return self.transport.diagnostics()

    def stdio_process(self) -> asyncio.subprocess.Process | None:
        """The adapter's process, for the stdio-only checks (raw lines, exit after shutdown)."""
        if not isinstance(self.transport, StdioTransport):
            return None
        process = getattr(self.transport, "_process", None)
        return process if isinstance(process, asyncio.subprocess.Process) else None


def _schema_for(op: str) -> str:
    # An op with no schema of its own (the unknown op the checker sends on purpose)
    # is answered in the common response shape, which is exactly begin's response.
    return op if op in messages.ops() else "begin"


class RawLines:
    """Raw access to a stdio adapter's pipes, for what JSON transports cannot send."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        self.process = process
        self._stdin = process.stdin
        self._stdout = process.stdout

    async def write(self, line: bytes) -> bool:
        """Writes one line; False when the pipe is closed."""
        try:
            self._stdin.write(line if line.endswith(b"\n") else line + b"\n")
            await self._stdin.drain()
        except (ConnectionError, BrokenPipeError):
            return False
        return True

    async def read(self, timeout: float) -> bytes | None:
        """The next line (b"" at end of stdout), or None after ``timeout`` seconds of silence."""
        try:
            async with asyncio.timeout(timeout):
                return await self._stdout.readline()
        except TimeoutError:
            return None
        except ValueError:
            return b"<a line longer than the limit>\n"

    async def exited(self, timeout: float) -> int | None:
        """The exit code, once the process has exited within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                return await self.process.wait()
        except TimeoutError:
            return None
