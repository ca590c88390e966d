"""Fixtures of the reference's tests: the run's certificates, made once for the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.core.certificates import RunCertificates


@pytest.fixture(scope="session")
def certs() -> Iterator[RunCertificates]:
    """A CA and the four server certificates (good, wrong-host, untrusted, expired)."""
    with RunCertificates() as run_certificates:
        yield run_certificates
