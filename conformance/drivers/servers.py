"""The servers the drivers area talks to, started once per run and shared by every lane.

    with RunCertificates() as certs, ServerPool(certs) as pool:
        info = pool.get("postgres")             # started on first use, then reused
        info.variables()                         # what a scenario gets as `server`
        pool.get("postgres", "untrusted")        # a second one presenting a certificate nobody trusts

A server is identified by its kind (``KINDS``: ``postgres``, ``redis``, ``mariadb``, ``smtp``,
``mosquitto``) and the certificate it presents (a ``RunCertificates`` name: ``good``,
``wrong-host``, ``untrusted``, ``expired``), so a case about a failing handshake gets a server
whose certificate fails, while the runtime keeps trusting only the run's CA. Cases keep apart by
unique names (a temporary table, a key prefix, a mailbox, a topic), never by a server of their own.

Every server listens on 127.0.0.1 only, on a free port, runs unprivileged with its data in a
private temporary folder (``process``), and is stopped by its process group: ``ServerPool.close``
(also on Ctrl-C / SIGTERM, which the command turns into ``KeyboardInterrupt``), at interpreter
exit for one nobody stopped, and by ``PR_SET_PDEATHSIG`` when the harness is killed (its folder
is then swept by the next run). A run inside the network sandbox starts them inside it.

A kind that cannot run here raises ``ProgramMissing`` (its message names the install command)
or ``ServerFailed``; the pool remembers either, so a kind is tried once per run.

| kind | program (Debian package) | TLS | account when the harness is root | ready when |
|---|---|---|---|---|
| ``postgres`` | ``postgres`` + ``initdb`` (``postgresql``) | SSLRequest on ``port`` | ``postgres`` | ``postmaster.pid`` says ready and an SSLRequest is accepted |
| ``redis`` | ``redis-server`` (``redis-server``) | ``tls_port`` | ``redis`` | PING is answered (``-NOAUTH``) |
| ``mariadb`` | ``mariadbd`` + ``mariadb-install-db`` (``mariadb-server``) | in the handshake on ``port`` | ``mysql`` | the greeting (protocol 10) arrives |
| ``smtp`` | ``aiosmtpd`` (PyPI, extra ``drivers``) | STARTTLS on ``port`` | the harness's own | the ``220`` greeting arrives |
| ``mosquitto`` | ``mosquitto`` + ``mosquitto_passwd`` (``mosquitto``) | ``tls_port`` | ``mosquitto`` | both ports accept |

Starting one takes (measured on 2 cores): PostgreSQL 0.7-1.0 s (``initdb`` most of it),
MariaDB 1.0-1.3 s (``mariadb-install-db`` most of it), SMTP 0.15 s, Redis and Mosquitto 0.05 s.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from ..core.certificates import CERTIFICATE_NAMES, RunCertificates
from .model import HOST, SERVERNAME, RunningServer, ServerInfo
from .process import ProgramMissing, ServerFailed, Unavailable

__all__ = [
    "HOST",
    "SERVERNAME",
    "ProgramMissing",
    "RunningServer",
    "ServerFailed",
    "ServerInfo",
    "ServerPool",
    "Unavailable",
    "kinds",
    "start",
]


class Kind(Protocol):
    """One kind of server (``kinds.py``)."""

    name: str
    install: str
    """The command that installs what it needs, for the message of ``ProgramMissing``."""

    def check(self) -> None:
        """Raises ``ProgramMissing`` unless every program the kind needs is installed."""

    def start(self, certs: RunCertificates, certificate: str) -> RunningServer:
        """Starts one server presenting ``certificate``; raises ``Unavailable`` (nothing left behind)."""


def kinds() -> dict[str, Kind]:
    """Every kind, by name: the registry."""
    from .message_servers import Mosquitto, Redis, Smtp
    from .sql_servers import MariaDB, Postgres

    return {kind.name: kind for kind in (Postgres(), Redis(), MariaDB(), Smtp(), Mosquitto())}


def start(kind: str, certs: RunCertificates, certificate: str = "good") -> RunningServer:
    """One server of ``kind`` presenting ``certificate`` (the caller stops it)."""
    known = kinds()
    if kind not in known:
        raise ValueError(f'unknown server kind "{kind}" (known: {", ".join(sorted(known))})')
    if certificate not in CERTIFICATE_NAMES:
        raise ValueError(f'unknown certificate "{certificate}" (known: {", ".join(CERTIFICATE_NAMES)})')
    server = known[kind]
    server.check()
    return server.start(certs, certificate)


class ServerPool:
    """The run's servers: each (kind, certificate) started on first use, all stopped by ``close``."""

    def __init__(self, certs: RunCertificates) -> None:
        self._certs = certs
        self._running: dict[tuple[str, str], RunningServer] = {}
        self._failed: dict[tuple[str, str], Unavailable] = {}

    def get(self, kind: str, certificate: str = "good") -> ServerInfo:
        return self.running(kind, certificate).info

    def running(self, kind: str, certificate: str = "good") -> RunningServer:
        key = (kind, certificate)
        if key in self._running:
            return self._running[key]
        if key in self._failed:
            raise self._failed[key]
        try:
            server = start(kind, self._certs, certificate)
        except Unavailable as error:
            self._failed[key] = error
            raise
        self._running[key] = server
        return server

    def close(self) -> None:
        """Stops every server (the last started first); a second call does nothing."""
        errors: list[BaseException] = []
        while self._running:
            _, server = self._running.popitem()
            try:
                server.stop()
            except BaseException as error:  # one server's trouble must not leave the others running
                errors.append(error)
        if errors:
            raise errors[0]

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
