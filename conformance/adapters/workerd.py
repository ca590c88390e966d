"""The ``workerd`` adapter: the real runtime from npm, one process per lane.

``workerd_spec()`` installs the pinned npm ``workerd`` (``npm_cache.ensure``), or a
published version for ``--adapter workerd@VERSION`` (``npm_cache.ensure_version``; a
release that cannot run, per ``workerd_config.FEATURES``, is refused before any
download), and returns an ``AdapterSpec`` whose transport factory gives each lane a
``WorkerdTransport``. Opening that transport:

1. writes a private temporary folder (0700): ``config.capnp`` (``workerd_config.config_for``:
   what that release supports, e.g. its compatibility date),
   ``worker.js`` (``js/workerd-worker.js``), the interpreter's modules
   (``workerd_config.INTERPRETER_MODULES``: ``js/interpreter.js`` and what it imports),
   ``ca.pem`` (the run's CA: the only certificate ``connect()`` trusts) and, when the run has the
   drivers area's bundles (``RunContext.drivers``), each as ``driver-<name>.js`` for the Worker's
   drivers profile (``workerd_config.with_drivers``; the hello then declares ``drivers``);
2. binds a listening socket on 127.0.0.1:0 itself and hands it to workerd with
   ``--socket-fd http=<fd>``, so no port is chosen twice;
3. starts ``node_modules/workerd/bin/workerd serve config.capnp`` directly (never through
   npx, which leaves the server orphaned when it is signalled), in a process group of its
   own that also dies with the harness (``PR_SET_PDEATHSIG``);
4. waits until a ``hello`` over WebSocket answers.

Closing sends SIGTERM to the process group, SIGKILL 2 s later, reaps the process and
removes the folder. A lane whose session broke is restarted with a fresh process (the
client closes the transport and the factory makes a new one).

A ``connect`` with ``request: global`` (module evaluation, B1) cannot run in a Worker that is
already serving; the transport answers it with a one-off workerd of its own whose main module
(``js/global-scope.js``) calls ``connect()`` with the request's arguments while it is evaluated.
A socket that such a call returned lives in that runtime, which is gone by the time the reply
arrives: its handle (``global``) is reported but no later op can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import weakref
from collections import deque
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from .. import sandbox
from ..core import tempdirs
from ..core.jsshow import show
from ..core.tasks import cancel_and_wait
from ..errors import AdapterError, InfrastructureError
from ..protocol.transports import WebSocketTransport
from . import npm_cache
from .base import AdapterSpec, DriverSet, RunContext
from .processes import parent_death_signal
from .workerd_config import (
    CA_FILE,
    INTERPRETER_MODULE,
    INTERPRETER_MODULES,
    OUTBOUND_MODULE,
    WORKER_MODULE,
    config_for,
    driver_module,
    render,
    support_for,
    with_drivers,
)

JS = resources.files(__package__).joinpath("js")
STARTUP_TIMEOUT_S = 20.0
TERM_GRACE_S = 2.0
OUTPUT_LINES = 200
CONFIG_FILE = "config.capnp"
#: Temporary folders are named ``<prefix><harness pid>-<random>``.
FOLDER_PREFIX = "connect-conformance-workerd-"
#: ``-n auto``: a workerd process per lane. A suite on workerd is mostly planned waits (52 s of
#: the 61 s its connect() cases take one after another), which lanes overlap for free; more than
#: 16 processes cost more start-up than they save on 2 cores (benchmarks/run.py).
LANES = 16
#: The ``request`` of a connect made at module evaluation (the protocol's name for it).
GLOBAL_SCOPE = "global"
GLOBAL_MODULE = "global-scope.js"
GLOBAL_REQUEST_MODULE = "global-request.js"
#: What the harness calls a socket that a global-scope connect returned (it cannot be used).
GLOBAL_SOCKET = "global"


@dataclass(frozen=True)
class WorkerdRuntime:
    """The installed runtime: where its binary is and what it calls itself."""

    binary: Path
    version: str
    """The npm package's version, e.g. ``1.20261117.1``."""
    runtime: str
    """``workerd --version``, e.g. ``workerd 2026-11-17``."""

    @classmethod
    def from_node_modules(cls, node_modules: Path) -> WorkerdRuntime:
        package = node_modules / "workerd"
        binary = (package / "bin" / "workerd").resolve()
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise InfrastructureError(f"the workerd binary is missing or not executable: {binary}")
        try:
            version = str(json.loads((package / "package.json").read_text())["version"])
        except (OSError, ValueError, KeyError) as error:
            raise InfrastructureError(f"cannot read the workerd package version: {error}") from None
        try:
            done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise InfrastructureError(f"{binary} --version failed: {error}") from None
        runtime = done.stdout.strip() or done.stderr.strip()
        if done.returncode != 0 or not runtime:
            hint = ""
            if "libc++" in done.stderr:
                # The earliest releases with connect() (1.20230512.0) link libc++ dynamically.
                hint = "; this workerd release needs the libc++ runtime (Debian/Ubuntu: apt-get install libc++1)"
            raise InfrastructureError(
                f"workerd {version} cannot run here: {binary} --version failed (exit {done.returncode}): "
                f"{done.stderr.strip()[-500:]}{hint}"
            )
        return cls(binary=binary, version=version, runtime=runtime)


def workerd_spec(
    node_modules: Path | None = None, interpreter: Path | None = None, version: str | None = None
) -> AdapterSpec:
    """The ``--adapter workerd`` (or ``workerd@VERSION``) spec: installs the runtime now, one process per lane later.

    ``version`` is a published npm version (installed on demand) instead of the pinned one;
    ``interpreter`` replaces ``js/interpreter.js``, the entry module (for development of the runtime
    glue); the other modules of ``INTERPRETER_MODULES`` are written beside it all the same.
    A version that cannot run at all is an ``InfrastructureError`` (exit 3) saying why.
    """
    if version is not None:
        _check_support(version)  # before installing: no download for a release that cannot run
    if node_modules is None:
        node_modules = npm_cache.ensure_version("workerd", version) if version else npm_cache.ensure("workerd")
    runtime = WorkerdRuntime.from_node_modules(node_modules)
    _check_support(runtime.version)

    def make(context: RunContext) -> WorkerdTransport:
        return WorkerdTransport(runtime, context.ca_pem, interpreter=interpreter, drivers=context.drivers)

    name = f"workerd@{runtime.version}" if version else "workerd"
    return AdapterSpec(name, make, default_lanes=LANES, driver_target=DRIVER_TARGET)


#: The bundles of the drivers area it runs: ``cloudflare:sockets`` is the runtime's own.
DRIVER_TARGET = "workerd"


def _check_support(version: str) -> None:
    unusable = support_for(version).unusable
    if unusable:
        raise InfrastructureError(f"workerd {version} cannot run the suite: {unusable}")


def _js_source(name: str) -> bytes:
    return JS.joinpath(name).read_bytes()


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _last_resort(pid: int, folder: str) -> None:
    """At interpreter exit, for a transport nobody closed: kill its group, remove its folder."""
    _kill_group(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


class WorkerdTransport(WebSocketTransport):
    """One workerd process (this lane's), reached over WebSocket: one WebSocket per case session."""

    def __init__(
        self,
        runtime: WorkerdRuntime,
        ca_pem: str,
        interpreter: Path | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_S,
        global_connect: dict[str, Any] | None = None,
        drivers: DriverSet | None = None,
    ) -> None:
        super().__init__("ws://127.0.0.1:0/")
        self.runtime = runtime
        self._ca_pem = ca_pem
        self._drivers = drivers
        """The drivers area's bundles: the Worker's drivers profile (``workerd_config.with_drivers``)."""
        self._interpreter = interpreter
        self._global_connect = global_connect
        """The connect request this (one-off) runtime makes at module evaluation; None: a lane's runtime."""
        self._startup_timeout = startup_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._output: deque[str] = deque(maxlen=OUTPUT_LINES)
        self._output_task: asyncio.Task[None] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self.directory: Path | None = None
        self.port: int | None = None
        self.startup_s: float | None = None
        """Seconds from spawning workerd to its first ``hello`` answer."""

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    # -- start -------------------------------------------------------------------------------

    def _write_folder(self) -> Path:
        # Folders of harnesses that died without cleaning up (SIGKILL) are removed first: their
        # workerd died with them (PR_SET_PDEATHSIG), only the folder was left behind.
        folder = tempdirs.make_private(FOLDER_PREFIX)
        self.directory = folder
        config = replace(config_for(self.runtime.version, self.runtime.runtime), extra_allow=sandbox.runtime_allow())
        files = {
            WORKER_MODULE: _js_source("workerd-worker.js"),
            **{name: _js_source(name) for name in INTERPRETER_MODULES},
            OUTBOUND_MODULE: _js_source(OUTBOUND_MODULE),
            CA_FILE: self._ca_pem.encode("ascii"),
        }
        if self._interpreter is not None:
            files[INTERPRETER_MODULE] = self._interpreter.read_bytes()
        if self._drivers is not None and self._global_connect is None:
            config = with_drivers(config, self._drivers.versions)
            files.update({driver_module(name): path.read_bytes() for name, path in self._drivers.files.items()})
        if self._global_connect is not None:
            config = replace(
                config,
                modules=(GLOBAL_MODULE, WORKER_MODULE, *INTERPRETER_MODULES, GLOBAL_REQUEST_MODULE),
                profiles=False,
            )
            files[GLOBAL_MODULE] = _js_source(GLOBAL_MODULE)
            # JSON is a JavaScript expression; ensure_ascii keeps U+2028/U+2029 out of the source text.
            files[GLOBAL_REQUEST_MODULE] = f"export default {json.dumps(self._global_connect)};\n".encode("ascii")
        files[CONFIG_FILE] = render(config).encode("utf-8")
        for name, data in files.items():
            path = folder / name
            path.write_bytes(data)
            os.chmod(path, 0o600)
        return folder

    async def open(self) -> None:
        try:
            await self._start()
        except BaseException as error:
            await self.close()
            if isinstance(error, (OSError, subprocess.SubprocessError)):
                raise InfrastructureError(f"cannot start workerd: {error}") from None
            raise

    async def _start(self) -> None:
        try:
            folder = self._write_folder()
        except FileNotFoundError as error:
            raise InfrastructureError(f"the workerd adapter is missing a file: {error}") from None
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            self.port = listener.getsockname()[1]
            self.url = f"ws://127.0.0.1:{self.port}/"
            fd = listener.fileno()
            spawned = time.perf_counter()
            self._process = await asyncio.create_subprocess_exec(
                str(self.runtime.binary),
                "serve",
                CONFIG_FILE,
                "--socket-fd",
                f"http={fd}",
                cwd=folder,
                pass_fds=(fd,),
                env={**os.environ, "PWD": str(folder)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=parent_death_signal(),
            )
        finally:
            # workerd holds its own copy; ours must go, so a dead workerd refuses connections.
            listener.close()
        self._finalizer = weakref.finalize(self, _last_resort, self._process.pid, str(folder))
        assert self._process.stdout is not None
        self._output_task = asyncio.create_task(self._collect_output(self._process.stdout))
        await self._wait_ready()
        self.startup_s = time.perf_counter() - spawned

    async def _collect_output(self, stream: asyncio.StreamReader) -> None:
        with contextlib.suppress(Exception):
            async for raw in stream:
                self._output.append(raw.decode("utf-8", "replace").rstrip("\n"))

    async def _probe(self) -> None:
        """One ``hello`` on a connection of its own (its adapter instance is discarded)."""
        reply = await self.exchange({"seq": 1, "op": "hello", "protocol": 1}, 5.0)
        if not isinstance(reply, dict) or reply.get("status") != "returned":
            raise AdapterError(f"hello answered {show(reply)}")

    async def _wait_ready(self) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + self._startup_timeout
        exited = asyncio.ensure_future(process.wait())
        last = "no answer yet"
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise InfrastructureError(
                        f"workerd did not answer hello within {self._startup_timeout:g} s ({last})"
                        + self._output_note()
                    )
                probe = asyncio.ensure_future(self._probe())
                try:
                    done, _ = await asyncio.wait({probe, exited}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if not probe.done():  # no answer in time, workerd exited, or the caller was cancelled
                        await cancel_and_wait(probe)
                if probe in done:
                    error = probe.exception()
                    if error is None:
                        return
                    last = str(error)
                if exited.done():
                    await asyncio.sleep(0.05)  # let the output reader catch the last lines
                    raise InfrastructureError(
                        f"workerd exited with {_how(process.returncode)} before answering hello" + self._output_note()
                    )
                if probe in done:
                    await asyncio.sleep(0.1)
        finally:
            if not exited.done():
                await cancel_and_wait(exited)

    # -- the global scope ----------------------------------------------------------------------

    async def exchange(self, message: dict[str, Any], timeout: float) -> Any:
        if message.get("op") == "connect" and message.get("request") == GLOBAL_SCOPE:
            # The one-off runtime gets the time any runtime gets to start, whatever the op's own deadline.
            timeout = max(timeout, self._startup_timeout + TERM_GRACE_S)
            try:
                async with asyncio.timeout(timeout):
                    return await self._connect_in_global_scope(message)
            except TimeoutError:
                raise AdapterError(f"no answer to a global-scope connect within {timeout:.1f} s") from None
        return await super().exchange(message, timeout)

    async def _connect_in_global_scope(self, message: dict[str, Any]) -> Any:
        """``connect`` at module evaluation: a one-off runtime makes the call and reports it."""
        request = {key: value for key, value in message.items() if key != "request"}
        one_off = WorkerdTransport(self.runtime, self._ca_pem, interpreter=self._interpreter, global_connect=request)
        try:
            await one_off.open()
            reply = await one_off._global_outcome()
        except InfrastructureError as error:
            raise AdapterError(f"the runtime for a global-scope connect failed: {error}") from None
        finally:
            await one_off.close()
        if isinstance(reply, dict) and reply.get("status") == "returned":
            reply["value"] = {"socket": GLOBAL_SOCKET}  # the one-off's handle means nothing here
        return reply

    async def _global_outcome(self) -> Any:
        previous, self.url = self.url, f"ws://127.0.0.1:{self.port}/global-outcome"
        try:
            socket = await self._connect()
        finally:
            self.url = previous
        try:
            async with asyncio.timeout(10):
                raw = await socket.recv()
        except Exception as error:
            raise AdapterError(f"the global-scope runtime did not report: {type(error).__name__}: {error}") from None
        finally:
            with contextlib.suppress(Exception):
                await socket.close()
        try:
            return json.loads(raw)
        except ValueError as error:
            raise AdapterError(f"the global-scope runtime reported something that is not JSON: {error}") from None

    # -- diagnostics -------------------------------------------------------------------------

    def _output_note(self, lines: int = 15) -> str:
        tail = list(self._output)[-lines:]
        if not tail:
            return "; workerd printed nothing"
        return "\nworkerd output (last lines):\n  " + "\n  ".join(tail)

    def diagnostics(self) -> str:
        tail = list(self._output)[-10:]
        note = ""
        process = self._process
        if process is not None and process.returncode is not None:
            note = f"workerd exited with {_how(process.returncode)}\n"
        if not tail:
            return note.rstrip("\n")
        return note + "workerd output (last lines):\n  " + "\n  ".join(tail)

    # -- stop --------------------------------------------------------------------------------

    async def close(self) -> None:
        try:
            await self.close_session()
        finally:
            await self._stop_process()

    async def _stop_process(self) -> None:
        process, self._process = self._process, None
        task, self._output_task = self._output_task, None
        folder, self.directory = self.directory, None
        try:
            if process is not None:
                await _stop(process)
        finally:
            try:
                if task is not None:
                    await cancel_and_wait(task)
            finally:  # also when the caller is cancelled while the output reader ends
                if process is not None:
                    transport = getattr(process, "_transport", None)
                    if transport is not None:
                        transport.close()
                if self._finalizer is not None:
                    self._finalizer.detach()
                    self._finalizer = None
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to workerd's process group, SIGKILL after a grace period; always reaped.

    The group is never signalled after workerd was reaped (its id could be reused).
    """
    try:
        if process.returncode is None:
            _kill_group(process.pid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TERM_GRACE_S):
                    await process.wait()
    finally:
        if process.returncode is None:
            _kill_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await process.wait()


def _how(code: int | None) -> str:
    if code is None:
        return "no exit code"
    return f"signal {-code}" if code < 0 else f"code {code}"
