"""``--adapter ws-launch:'CMD ARGS'``: a WebSocket adapter the harness starts itself, one per lane.

A ``ws://`` adapter started by hand never learns the run's CA (it is made fresh
for every run), so its TLS cases are skipped. With ``ws-launch:`` the harness
starts ``CMD ARGS`` the way it starts a stdio adapter (the CA in
``CONNECT_CONFORMANCE_CA_FILE``/``_PEM``, a process group of its own, the harness's
working directory), reads the first line the program prints on stdout, which must be
the ``ws://`` URL it listens on, and then talks to it as to any ``ws://`` adapter:
``hello`` on a connection of its own, one WebSocket per case session. Later output
is kept for diagnostics only. Closing the transport ends the session, then the
program: SIGTERM to its process group, SIGKILL 2 s later (a WebSocket adapter
answers ``shutdown`` by closing that connection, not by exiting); it also dies
with the harness (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping

from ..core.jsshow import show
from ..errors import InfrastructureError
from ..protocol.transports import KILL_GRACE_S, STDERR_LINES, STDERR_TAIL, WebSocketTransport
from .processes import parent_death_signal

#: How long the program may take to print its URL.
STARTUP_TIMEOUT_S = 30.0


class LaunchedWebSocketTransport(WebSocketTransport):
    def __init__(self, argv: list[str], env: Mapping[str, str], startup_timeout: float = STARTUP_TIMEOUT_S) -> None:
        super().__init__("ws://127.0.0.1:0/")
        self.argv = argv
        self._env = env
        self._startup_timeout = startup_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._output = bytearray()
        self._drains: list[asyncio.Task[None]] = []

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def open(self) -> None:
        env = {**os.environ, **self._env, "CONNECT_CONFORMANCE_PROTOCOL": "1"}
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
                preexec_fn=parent_death_signal(),
            )
        except OSError as error:
            raise InfrastructureError(f"cannot start adapter {show(shlex.join(self.argv))}: {error}") from None
        assert self._process.stdout is not None
        assert self._process.stderr is not None
        self._drains.append(asyncio.create_task(self._drain(self._process.stderr)))
        try:
            self.url = await self._read_url(self._process.stdout)
        except BaseException:
            await self.close()
            raise
        self._drains.append(asyncio.create_task(self._drain(self._process.stdout)))

    async def _read_url(self, stdout: asyncio.StreamReader) -> str:
        try:
            async with asyncio.timeout(self._startup_timeout):
                line = await stdout.readline()
        except TimeoutError:
            raise InfrastructureError(
                f"{show(shlex.join(self.argv))} printed no ws:// URL within {self._startup_timeout:g} s" + self._note()
            ) from None
        except ValueError:
            raise InfrastructureError(
                f"{show(shlex.join(self.argv))} printed a first line too long for a URL"
            ) from None
        url = line.decode("utf-8", "replace").strip()
        if not line:
            await asyncio.sleep(0.1)  # let the stderr reader catch the last lines
            raise InfrastructureError(
                f"{show(shlex.join(self.argv))} exited before printing its ws:// URL" + self._note()
            )
        if not url.startswith(("ws://", "wss://")):
            raise InfrastructureError(
                f"{show(shlex.join(self.argv))} must print the ws:// URL it listens on as its first line, "
                f"printed {show(url[:120])}"
            )
        return url

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        with contextlib.suppress(Exception):
            while chunk := await stream.read(65536):
                self._output += chunk
                del self._output[:-STDERR_TAIL]

    def _note(self) -> str:
        text = self.diagnostics()
        return f"\n{text}" if text else ""

    def diagnostics(self) -> str:
        lines = self._output.decode("utf-8", "replace").splitlines()
        note = ""
        process = self._process
        if process is not None and process.returncode is not None:
            code = process.returncode
            note = f"the adapter exited with {f'signal {-code}' if code < 0 else f'code {code}'}\n"
        if not lines:
            return note.rstrip("\n")
        shown = [line if len(line) <= 300 else line[:300] + "..." for line in lines[-STDERR_LINES:]]
        return note + "adapter output (last lines):\n  " + "\n  ".join(shown)

    async def close(self) -> None:
        try:
            await self.close_session()
        finally:
            process, self._process = self._process, None
            if process is not None:
                await _stop(process)
                transport = getattr(process, "_transport", None)
                if transport is not None:
                    transport.close()
            drains, self._drains = self._drains, []
            for task in drains:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the program's process group, SIGKILL after a grace period; always reaped.

    As for a stdio adapter (docs/adapter-protocol.md, Launch), the group gets SIGKILL at the
    end whether the program exited or not, so a child it forked ends with it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.returncode is not None:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(KILL_GRACE_S if sig == signal.SIGTERM else 10):
                await process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
