"""What a session is opened with: the listener a case asks for, and where the run's certificates are.

Plain values, apart from the sockets and TLS that use them, so that the
control protocol's table (`_requests`) and the harness read them without
loading the server.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ListenerKind = Literal["plain", "none", "tls", "starttls"]
"""`plain` TCP; `tls` from the first byte; `starttls` plaintext first, upgraded later by
`start_tls`; `none` opens no listener (only the refused port)."""
LoopbackHost = Literal["127.0.0.1", "::1"]

CertificateName = Literal["good", "wrong-host", "untrusted", "expired"]
"""The run's server certificates: `good` (SANs localhost, 127.0.0.1, ::1, signed by
the run's CA), `wrong-host` (SAN wrong-host.invalid only), `untrusted` (good SANs,
a CA nobody trusts), `expired` (good SANs, validity in the past)."""


@dataclass(frozen=True)
class ListenerSpec:
    """The listener a case asks for (its `peer:` field): `none` opens no listener."""

    kind: ListenerKind = "plain"
    host: str = "127.0.0.1"
    """An IP address literal: loopback, or an address the caller's network namespace has on `lo`
    (the harness's sandbox puts Cloudflare addresses there)."""
    cert: CertificateName = "good"
    """The certificate a `tls` or `starttls` listener presents."""
    port: int = 0
    """0 for a free port; a fixed one (25) where the case is about the port itself."""


@dataclass(frozen=True)
class CertificateFiles:
    """Where the run's certificates are: name -> (chain PEM, private key PEM).

    The harness makes them (`conformance.core.certificates.RunCertificates.peer_files()`);
    the peer only reads them, when a `tls` or `starttls` session opens.
    """

    files: Mapping[CertificateName, tuple[Path, Path]]

    def paths(self, name: CertificateName) -> tuple[Path, Path]:
        """The chain and key files of `name`; KeyError when the run has no such certificate."""
        return self.files[name]
