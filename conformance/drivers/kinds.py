"""What every kind of server shares: finding its programs, its certificate files, starting it on free
ports with a readiness probe (retried when a port was taken meanwhile), and the ``ServerInfo`` it yields.

The kinds themselves: ``sql_servers`` (PostgreSQL, MariaDB) and ``message_servers`` (Redis, SMTP,
Mosquitto); ``servers.kinds()`` is the registry.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..core.certificates import CERTIFICATE_NAMES, RunCertificates
from .model import HOST, RunningServer, ServerInfo, elapsed
from .process import (
    Account,
    ProgramMissing,
    ServerExited,
    ServerFailed,
    ServerFolder,
    ServerProcess,
    free_port,
    wait_ready,
)

APT = "apt-get install -y --no-install-recommends"
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
READY_TIMEOUT_S = 60.0
PORT_ATTEMPTS = 3
PROBE_TIMEOUT_S = 2.0
USER = "conformance"
DATABASE = "conformance"


#: Where to look for the servers' programs instead (folders, ``os.pathsep`` apart): a server built
#: elsewhere (``/opt/pg17/bin``), or none at all (an empty folder: every server is "not installed").
SERVER_PATH = "CONNECT_CONFORMANCE_SERVER_PATH"


def server_path() -> list[str] | None:
    """The folders ``CONNECT_CONFORMANCE_SERVER_PATH`` names, or ``None`` when it is not set."""
    given = os.environ.get(SERVER_PATH)
    return None if given is None else [folder for folder in given.split(os.pathsep) if folder]


def find(name: str, folders: Sequence[str] = SBIN) -> str | None:
    """``name`` on PATH, else in one of ``folders`` (daemons live in sbin, which a user's PATH may lack);
    only in ``CONNECT_CONFORMANCE_SERVER_PATH`` when that is set."""
    only = server_path()
    if only is not None:
        return shutil.which(name, path=os.pathsep.join(only)) if only else None
    found = shutil.which(name)
    if found:
        return found
    for folder in folders:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def version_of(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def current_account() -> Account:
    import pwd

    return Account(pwd.getpwuid(os.geteuid()).pw_name, os.geteuid(), os.getegid(), switch=False)


def certificate_files(folder: ServerFolder, certs: RunCertificates, certificate: str) -> tuple[Path, Path, Path]:
    """The server's copies, owned by its account: certificate chain, key (0600), the run's CA."""
    if certificate not in CERTIFICATE_NAMES:
        raise ValueError(f'unknown certificate "{certificate}" (known: {", ".join(CERTIFICATE_NAMES)})')
    return (
        folder.write("server.crt", certs.chain_file(certificate).read_bytes(), 0o644),
        folder.write("server.key", certs.key_file(certificate).read_bytes(), 0o600),
        folder.write("ca.pem", certs.ca_pem, 0o644),
    )


def probe_connection(port: int) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=PROBE_TIMEOUT_S)


def serve(
    what: str,
    folder: ServerFolder,
    argv_for: Callable[[tuple[int, ...]], Sequence[str]],
    ports: int,
    probe: Callable[[tuple[int, ...]], object],
    stop_signal: int = signal.SIGTERM,
    env: dict[str, str] | None = None,
) -> tuple[ServerProcess, tuple[int, ...]]:
    """Starts the server on ``ports`` free ports and waits for ``probe``; a port taken meanwhile is retried."""
    for attempt in range(PORT_ATTEMPTS):
        chosen = tuple(free_port() for _ in range(ports))
        process = ServerProcess(argv_for(chosen), folder, f"{what.lower()}.log", stop_signal, env)
        try:
            wait_ready(process, functools.partial(probe, chosen), what, READY_TIMEOUT_S)
        except ServerExited as error:
            process.stop(1.0)
            if error.port_taken and attempt + 1 < PORT_ATTEMPTS:
                continue
            raise
        except BaseException:
            process.stop(1.0)
            raise
        return process, chosen
    raise AssertionError("unreachable")


class BaseKind:
    name = ""
    install = ""
    label = ""
    programs: tuple[str, ...] = ()

    def paths(self) -> dict[str, str]:
        found = {program: find(program) for program in self.programs}
        missing = [program for program, path in found.items() if path is None]
        if missing:
            raise ProgramMissing(f"{self.label} ({', '.join(missing)})", self.install)
        return {program: path for program, path in found.items() if path is not None}

    def check(self) -> None:
        self.paths()

    def start(self, certs: RunCertificates, certificate: str) -> RunningServer:
        paths = self.paths()
        account = self.account()
        folder = ServerFolder(f"connect-conformance-{self.name}-", account)
        try:
            began = time.perf_counter()
            steps: dict[str, float] = {}
            processes, info = self._start(paths, folder, certs, certificate, steps)
            info = ServerInfo(**{**info.__dict__, "startup_s": elapsed(began), "steps_s": steps})
            return RunningServer(info, processes, folder)
        except BaseException:
            folder.remove()
            raise

    def account(self) -> Account:
        raise NotImplementedError

    def _start(
        self,
        paths: dict[str, str],
        folder: ServerFolder,
        certs: RunCertificates,
        certificate: str,
        steps: dict[str, float],
    ) -> tuple[list[ServerProcess], ServerInfo]:
        raise NotImplementedError


def refuse_root(account: Account, label: str) -> Account:
    if account.is_root:
        raise ServerFailed(
            f"{label} refuses to run as root, and no other user exists here (a user namespace that maps only"
            " root, such as the sandbox of a run by a non-root user): run the harness as root or outside the sandbox"
        )
    return account
