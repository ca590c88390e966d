"""Cases and steps as loaded from spec files (see spec/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

LEVELS = ("must", "should", "info")

#: Step modifiers (spec/README.md, section 3); the actions are the table in ``actions.py``.
MODIFIERS = ("expect", "within", "socket", "conn", "as", "background", "request", "note")


@dataclass(frozen=True)
class PeerSpec:
    kind: Literal["plain", "none", "tls", "starttls"] = "plain"
    #: A loopback address, one of ``SANDBOX_HOSTS`` (a Cloudflare address the sandbox puts on ``lo``, by
    #: role), or another address the sandbox puts on ``lo``, written out (a range edge: docs/sandbox.md).
    host: str = "127.0.0.1"
    cert: Literal["good", "wrong-host", "untrusted", "expired"] = "good"
    #: 0 for a free port; a fixed one (25) when the case is about the port.
    port: int = 0

    @property
    def needs_sandbox(self) -> bool:
        """A Cloudflare address, a loopback address of its own or a privileged port exist only in the sandbox."""
        return self.host not in LOOPBACK_HOSTS or 0 < self.port < 1024


#: The kinds of real server a case of the drivers area can ask for (``conformance/drivers/servers.py``).
SERVER_KINDS = ("postgres", "redis", "mariadb", "smtp", "mosquitto")


#: ``${server.<field>}``: what a case may write of its server (``ServerInfo.variables()`` without the
#: password and the CA, which only the scenario gets).
SERVER_VARIABLES = (
    "server.kind",
    "server.certificate",
    "server.host",
    "server.servername",
    "server.port",
    "server.tls_port",
    "server.user",
    "server.database",
    "server.version",
)


@dataclass(frozen=True)
class ServerSpec:
    """The real server a case talks to through a driver (``server:``), started once per run by the harness."""

    kind: str
    #: The certificate it presents (a ``RunCertificates`` name); the runtime keeps trusting only the run's CA.
    certificate: Literal["good", "wrong-host", "untrusted", "expired"] = "good"


#: The listener hosts that exist outside the sandbox too.
LOOPBACK_HOSTS = ("127.0.0.1", "::1")

#: A listener host: an address of 127.0.0.0/8 of the listener's own (cases on a fixed port need no turns).
LOOPBACK_OF_ITS_OWN = "sandbox-loopback"

#: Listener hosts that name the sandbox's Cloudflare addresses (``conformance.sandbox``), by role.
SANDBOX_HOSTS = {
    "sandbox-cloudflare-v4": "sandbox.cloudflare_v4",
    "sandbox-cloudflare-v4-b": "sandbox.cloudflare_v4_b",
    "sandbox-cloudflare-v6": "sandbox.cloudflare_v6",
    "sandbox-cloudflare-v6-b": "sandbox.cloudflare_v6_b",
}


@dataclass(frozen=True)
class Step:
    index: int
    line: int
    action: str
    arg: Any
    expect: dict[str, Any] | None = None
    within: float | None = None
    socket: str | None = None
    conn: str | None = None  # the peer connection a peer op acts on (a `peer.accept`'s `as`)
    name: str | None = None  # the `as` modifier
    background: str | None = None
    #: The request whose handler performs a client op (``global``: module evaluation); None: the case's own.
    request: str | None = None
    note: str | None = None

    def describe(self) -> str:
        return f"step {self.index + 1} ({self.action}, line {self.line})"


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    level: str
    source: tuple[str, ...]
    steps: tuple[Step, ...]
    file: str
    line: int
    tags: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    peer: PeerSpec = field(default_factory=PeerSpec)
    timeout: float = 15.0
    variables: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    #: A profile the adapter sets up for this case's session (``outbound-worker``); None: the default.
    environment: str | None = None
    #: The real server the case's ``driver`` steps talk to (the drivers area); None: none.
    server: ServerSpec | None = None

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"
