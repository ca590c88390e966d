"""The run's certificates held in memory only: anonymous memory files, never a path on a disk.

A remote peer gets the certificates (PEM text) over the control channel. `ssl`
loads a certificate chain only from a path, so each PEM goes into a memfd
(`memfd_create(2)`: a file that lives in RAM and has no name in any
filesystem), sealed against changes, and `ssl` reads it through
`/proc/self/fd/N`. Closing the descriptors frees them; nothing is left behind,
even when the process is killed.
"""

import contextlib
import fcntl
import os
from collections.abc import Mapping
from pathlib import Path
from typing import get_args

from ._errors import PeerError
from ._spec import CertificateFiles, CertificateName

_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
MEMFD_PREFIX = "connect-conformance-"
"""The memfds' names start with this (they show as `/memfd:<name> (deleted)` in /proc/PID/fd)."""


class InMemoryCertificates:
    """Certificates as `CertificateFiles` whose paths are memfds of this process. Close it to free them."""

    def __init__(self, pems: Mapping[str, tuple[str, str]]) -> None:
        """`pems`: certificate name -> (chain PEM, private key PEM)."""
        if not hasattr(os, "memfd_create"):
            raise PeerError("certificates held in memory need memfd_create (Linux); this system has none")
        self._fds: list[int] = []
        files: dict[CertificateName, tuple[Path, Path]] = {}
        try:
            for name, (chain, key) in pems.items():
                if name not in get_args(CertificateName):
                    raise PeerError(f"there is no certificate named {name!r}")
                certificate: CertificateName = name  # type: ignore[assignment]  # checked just above
                files[certificate] = (self._memfd(f"{name}.chain.pem", chain), self._memfd(f"{name}.key.pem", key))
        except BaseException:
            self.close()
            raise
        self.files = CertificateFiles(files)

    def _memfd(self, name: str, text: str) -> Path:
        fd = os.memfd_create(MEMFD_PREFIX + name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        self._fds.append(fd)
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)  # nobody can change it now, not even this process
        return Path(f"/proc/self/fd/{fd}")

    def close(self) -> None:
        """Frees the memory files. Idempotent."""
        fds, self._fds = self._fds, []
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
