"""What a running server is, for the harness and for a case: shared by the pool and every kind."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .process import ServerFolder, ServerProcess

HOST = "127.0.0.1"
#: The name a good certificate is valid for that is not an IP address (for a driver's ``servername``).
SERVERNAME = "localhost"


@dataclass(frozen=True)
class ServerInfo:
    """What a case gets of a running server (``variables()``: the scenario's ``server``)."""

    kind: str
    certificate: str
    """The ``RunCertificates`` name of the certificate the server presents."""
    host: str
    port: int
    """The plain port. TLS on it is negotiated in the protocol (SSLRequest, STARTTLS) unless ``tls_port``."""
    tls_port: int | None
    """A second listener that speaks TLS from the first byte (Redis, MQTT); ``None``: none."""
    user: str | None
    password: str | None
    database: str | None
    ca_pem: str
    """The run's CA: what the runtime trusts."""
    version: str
    """The server's own version line."""
    startup_s: float
    """Seconds from the first set-up step to the first answer."""
    steps_s: Mapping[str, float] = field(default_factory=dict)
    """The same, per step (``initdb``, ``start``, ...)."""

    def variables(self) -> dict[str, Any]:
        """The JSON object a scenario gets as ``server`` (``adapters/js/drivers/README.md``)."""
        return {
            "kind": self.kind,
            "certificate": self.certificate,
            "host": self.host,
            "servername": SERVERNAME,
            "port": self.port,
            "tls_port": self.tls_port,
            "user": self.user,
            "password": self.password,
            "database": self.database,
            "ca": self.ca_pem,
            "version": self.version,
        }


class RunningServer:
    """A started server: its description, its processes and its folder; ``stop()`` ends them all."""

    def __init__(self, info: ServerInfo, processes: list[ServerProcess], folder: ServerFolder) -> None:
        self.info = info
        self.processes = processes
        self.folder = folder

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def stop(self) -> None:
        """Idempotent: every process stopped and reaped, then the folder removed."""
        try:
            while self.processes:
                self.processes[-1].stop()
                self.processes.pop()
        finally:
            self.folder.remove()


def elapsed(since: float) -> float:
    return round(time.perf_counter() - since, 3)
