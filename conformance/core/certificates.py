"""The run's certificate authority: the certificates the peer's TLS listeners present.

Made fresh for every run with trustme and kept in a private temporary directory
(mode 0700, files 0600), never in the repository or the report folder; the
directory is removed on exit, or at interpreter exit if nobody closed it, or by
the next run if this process was killed (SIGKILL) before either.

    with RunCertificates() as certs:
        certs.ca_file          # the run's CA, for the implementation under test to trust
        certs.peer_files()     # conformance_peer.CertificateFiles, for open_session()
"""

from __future__ import annotations

import datetime
import os
import shutil
import weakref
from pathlib import Path
from types import TracebackType
from typing import get_args

import trustme
from conformance_peer import CertificateFiles, CertificateName

from . import tempdirs

#: Folders are named ``<prefix><harness pid>-<random>`` (``tempdirs``).
FOLDER_PREFIX = "connect-conformance-ca-"
GOOD_IDENTITIES = ("localhost", "127.0.0.1", "::1")
"""The names a good certificate is valid for: whatever a case dials on loopback."""
WRONG_HOST = "wrong-host.invalid"
"""The only name of the `wrong-host` certificate (`.invalid` never resolves)."""

CERTIFICATE_NAMES: tuple[CertificateName, ...] = get_args(CertificateName)

REPOSITORY = Path(__file__).resolve().parents[2]


class RunCertificates:
    """A CA for this run and one server certificate per `CertificateName`.

    | name | SANs | signed by | valid |
    |---|---|---|---|
    | good | localhost, 127.0.0.1, ::1 | the run's CA | now |
    | wrong-host | wrong-host.invalid | the run's CA | now |
    | untrusted | localhost, 127.0.0.1, ::1 | a second CA nobody trusts | now |
    | expired | localhost, 127.0.0.1, ::1 | the run's CA | ended yesterday |
    """

    def __init__(self) -> None:
        self.directory = tempdirs.make_private(FOLDER_PREFIX)
        """The private directory (0700) holding every file; swept by the next run if this process is killed."""
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.directory, True)
        if self.directory.resolve().is_relative_to(REPOSITORY):
            self.close()
            raise RuntimeError(
                f"the temporary directory {self.directory} is inside the repository"
                f" ({REPOSITORY}); set TMPDIR elsewhere: the run's keys never go there"
            )
        self._files: dict[CertificateName, tuple[Path, Path]] = {}
        try:
            self._generate()
        except BaseException:
            self.close()
            raise

    def _generate(self) -> None:
        ca = trustme.CA()
        self.ca_pem: str = ca.cert_pem.bytes().decode("ascii")
        """The run's CA certificate (PEM text): the one trust anchor of the run."""
        self.ca_file: Path = self._write("ca.pem", ca.cert_pem.bytes())
        """The same, as a file."""
        untrusted_ca = trustme.CA()
        now = datetime.datetime.now(datetime.UTC)
        leaves = {
            "good": ca.issue_cert(*GOOD_IDENTITIES),
            "wrong-host": ca.issue_cert(WRONG_HOST),
            "untrusted": untrusted_ca.issue_cert(*GOOD_IDENTITIES),
            "expired": ca.issue_cert(
                *GOOD_IDENTITIES,
                not_before=now - datetime.timedelta(days=30),
                not_after=now - datetime.timedelta(days=1),
            ),
        }
        for name in CERTIFICATE_NAMES:
            leaf = leaves[name]
            chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
            self._files[name] = (
                self._write(f"{name}.chain.pem", chain),
                self._write(f"{name}.key.pem", leaf.private_key_pem.bytes()),
            )

    def peer_files(self) -> CertificateFiles:
        """The certificates as the peer takes them (`open_session(spec, certificates=...)`)."""
        return CertificateFiles(dict(self._files))

    def chain_file(self, name: CertificateName) -> Path:
        return self._files[name][0]

    def key_file(self, name: CertificateName) -> Path:
        return self._files[name][1]

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        """Removes the directory and every file in it. Idempotent."""
        self._finalizer()

    def __enter__(self) -> RunCertificates:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        return path
