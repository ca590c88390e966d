"""The three ways to reach an adapter, behind one interface (docs/adapter-protocol.md).

A transport moves one request out and one decoded message back. It knows
nothing of ops or ``seq``; ``client.AdapterClient`` does. Every way a
transport can break (process exit, closed pipe, garbage, silence) surfaces as
``AdapterError`` with a reason fit for the case message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from ..core.jsshow import string
from ..errors import AdapterError, InfrastructureError

#: The longest line an adapter may print: room for 48 MiB of data as base64 (the largest
#: legitimate message is a non-digest ``read_bytes``; cases read more than that with ``digest``).
MAX_LINE = 64 * 1024 * 1024
#: How much of an adapter's stderr is kept (its tail), whatever it prints.
STDERR_TAIL = 64 * 1024
STDERR_LINES = 10
KILL_GRACE_S = 2.0


class Transport(Protocol):
    async def open(self) -> None: ...

    async def exchange(self, message: dict[str, Any], timeout: float) -> Any: ...

    async def open_session(self) -> None: ...

    async def close_session(self) -> None: ...

    async def close(self) -> None: ...

    def diagnostics(self) -> str: ...


class InProcessTransport:
    """An adapter object in this event loop; messages still go through JSON."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._adapter: Any = None

    async def open(self) -> None:
        self._adapter = self._make()

    async def exchange(self, message: dict[str, Any], timeout: float) -> Any:
        # No per-op timer here: an in-process adapter runs on our own loop, and the
        # case's deadline (runner) still bounds a hang; the timer cost 10% of a round trip.
        # The request is passed as built: the client has checked it against its schema and
        # never touches it again. The reply goes through JSON, like any adapter's.
        try:
            reply = await self._adapter.request(message)
        except Exception as error:  # the adapter object crashed: its fault, not the case's
            raise AdapterError(f"the in-process adapter raised {type(error).__name__}: {error}") from error
        try:
            return json.loads(json.dumps(reply))
        except (TypeError, ValueError, RecursionError) as error:
            raise AdapterError(f"the adapter answered with a value JSON cannot carry: {error}") from None

    async def open_session(self) -> None:
        pass

    async def close_session(self) -> None:
        pass

    async def close(self) -> None:
        closer = getattr(self._adapter, "aclose", None)
        if closer is not None:
            await closer()
        self._adapter = None

    def diagnostics(self) -> str:
        return ""


class StdioTransport:
    """A spawned process speaking newline-delimited JSON on stdin/stdout."""

    def __init__(self, argv: list[str], env: Mapping[str, str] | None = None, cwd: str | None = None) -> None:
        if not argv:
            raise InfrastructureError("stdio adapter: empty command")
        self.argv = argv
        self._env = env
        self._cwd = cwd
        self._process: asyncio.subprocess.Process | None = None
        self._stderr = bytearray()
        self._stderr_task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        env = dict(os.environ)
        env.update(self._env or {})
        env["CONNECT_CONFORMANCE_PROTOCOL"] = "1"
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=self._cwd,
                limit=MAX_LINE,
                # Its own process group, so everything it spawns ends with it.
                start_new_session=True,
            )
        except OSError as error:
            raise InfrastructureError(f"cannot start adapter {string(shlex.join(self.argv))}: {error}") from None
        self._stderr_task = asyncio.create_task(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        assert self._process is not None
        assert self._process.stderr is not None
        # Chunks, not lines: a newline-free flood must cost a bounded tail, not memory.
        with contextlib.suppress(Exception):
            while chunk := await self._process.stderr.read(65536):
                self._stderr += chunk
                del self._stderr[:-STDERR_TAIL]

    def diagnostics(self) -> str:
        lines = self._stderr.decode("utf-8", "replace").splitlines()
        if not lines:
            return ""
        shown = [line if len(line) <= 300 else line[:300] + "..." for line in lines[-STDERR_LINES:]]
        return "adapter stderr (last lines):\n  " + "\n  ".join(shown)

    def _exit_note(self) -> str:
        process = self._process
        if process is not None and process.returncode is not None:
            code = process.returncode
            how = f"signal {-code}" if code < 0 else f"code {code}"
            return f" (the adapter exited with {how})"
        return ""

    async def exchange(self, message: dict[str, Any], timeout: float) -> Any:
        process = self._process
        if process is None or process.stdin is None or process.stdout is None:
            raise AdapterError("the adapter process is not running")
        line = json.dumps(message, separators=(",", ":")) + "\n"
        try:
            async with asyncio.timeout(timeout):
                process.stdin.write(line.encode("utf-8"))
                await process.stdin.drain()
                raw = await process.stdout.readline()
        except TimeoutError:
            raise AdapterError(f"no answer to {message.get('op')} within {timeout:.1f} s (adapter silent)") from None
        except (ConnectionError, BrokenPipeError):
            await asyncio.sleep(0.05)
            raise AdapterError(f"the adapter's stdin is closed{self._exit_note()}") from None
        except ValueError:
            raise AdapterError("the adapter printed a line longer than the limit") from None
        if not raw:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await process.wait()
            raise AdapterError(f"the adapter closed its stdout{self._exit_note()}")
        return _decode(raw, "printed")

    async def open_session(self) -> None:
        pass

    async def close_session(self) -> None:
        pass

    async def close(self) -> None:
        process = self._process
        self._process = None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(Exception):
                process.stdin.close()
        if process.returncode is None:
            await _terminate(process)
        # The adapter may be gone while a child it forked lives on (holding its pipes):
        # the whole process group goes, in every case. A child that called setsid() left
        # the group and is the adapter's to stop (docs/adapter-protocol.md, section 7).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        if self._stderr_task is not None:
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stderr_task
        # Reap the pipes so no transport is left for the loop to complain about.
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()


async def _terminate(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the adapter's process group, then SIGKILL after a grace period."""
    for sig, wait in ((None, KILL_GRACE_S), (signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 5.0)):
        if sig is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
        try:
            async with asyncio.timeout(wait):
                await process.wait()
            break
        except TimeoutError:
            continue
    # Children that ignored the group signal still die with the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _decode(raw: bytes | str, verb: str) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise AdapterError(f"the adapter {verb} JSON nested too deeply to read") from None
    except ValueError:
        shown = raw[:120].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:120]
        raise AdapterError(f"the adapter {verb} something that is not JSON: {string(shown)}") from None


class WebSocketTransport:
    """One WebSocket per case session; ``hello`` travels on a connection of its own."""

    def __init__(self, url: str, on_close: Callable[[], Awaitable[None]] | None = None) -> None:
        self.url = url
        self._socket: Any = None
        self._on_close = on_close
        # A runtime on loopback (ours, or a local server) is never reached through a proxy from the
        # environment: the proxy could not reach it, and asking the environment costs ~1 ms a session.
        self._proxy: Literal[True] | None = (
            None if urlsplit(url).hostname in ("127.0.0.1", "::1", "localhost") else True
        )

    async def _connect(self) -> Any:
        from websockets.asyncio.client import connect

        try:
            async with asyncio.timeout(10):
                return await connect(
                    self.url,
                    max_size=MAX_LINE,
                    open_timeout=10,
                    ping_interval=None,
                    proxy=self._proxy,
                    compression=None,  # short JSON lines: deflate costs both ends more CPU than it saves
                )
        except (OSError, TimeoutError, Exception) as error:
            raise AdapterError(f"cannot open a WebSocket to {self.url}: {error}") from None

    async def open(self) -> None:
        pass

    async def open_session(self) -> None:
        await self.close_session()
        self._socket = await self._connect()

    async def close_session(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await socket.close()

    async def exchange(self, message: dict[str, Any], timeout: float) -> Any:
        temporary = self._socket is None
        socket = self._socket or await self._connect()
        try:
            async with asyncio.timeout(timeout):
                await socket.send(json.dumps(message, separators=(",", ":")))
                raw = await socket.recv()
        except TimeoutError:
            raise AdapterError(f"no answer to {message.get('op')} within {timeout:.1f} s (adapter silent)") from None
        except Exception as error:
            raise AdapterError(f"the WebSocket to the adapter broke: {type(error).__name__}: {error}") from None
        finally:
            if temporary:
                with contextlib.suppress(Exception):
                    await socket.close()
        return _decode(raw, "sent")

    async def close(self) -> None:
        await self.close_session()
        if self._on_close is not None:
            await self._on_close()

    def diagnostics(self) -> str:
        return ""
