"""The run's certificate authority: files and modes, cleanup, and that each certificate
verifies (or fails to) as intended. Handshakes run in memory (ssl.MemoryBIO): no sockets."""

import contextlib
import datetime
import gc
import ipaddress
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from conformance_peer import CertificateFiles, CertificateName
from cryptography import x509

from conformance.core.certificates import CERTIFICATE_NAMES, REPOSITORY, RunCertificates


@pytest.fixture(scope="module")
def certs() -> Iterator[RunCertificates]:
    with RunCertificates() as run_certificates:
        yield run_certificates


def handshake(certs: RunCertificates, name: CertificateName, server_hostname: str) -> str | None:
    """A verifying client trusting only the run's CA against certificate `name`.

    Returns None when the handshake succeeds, else the client's verification message.
    """
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certs.chain_file(name), certs.key_file(name))
    client = ssl.create_default_context(cafile=str(certs.ca_file))
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    from_server, from_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_side = server.wrap_bio(to_server, from_server, server_side=True)
    client_side = client.wrap_bio(to_client, from_client, server_hostname=server_hostname)
    for _ in range(10):
        try:
            client_side.do_handshake()
            return None
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLCertVerificationError as failure:
            return str(failure.verify_message)
        to_server.write(from_client.read())
        with contextlib.suppress(ssl.SSLWantReadError):
            server_side.do_handshake()
        to_client.write(from_server.read())
    raise AssertionError("the in-memory handshake did not finish")


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sans(certificate: x509.Certificate) -> set[str]:
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(name.value) for name in names}


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1", "::1"])
def test_good_verifies_for_every_loopback_name(certs: RunCertificates, server_hostname: str) -> None:
    assert handshake(certs, "good", server_hostname) is None


@pytest.mark.parametrize(
    ("name", "server_hostname", "message"),
    [
        ("wrong-host", "localhost", "Hostname mismatch"),
        ("wrong-host", "127.0.0.1", "IP address mismatch"),
        ("untrusted", "localhost", "unable to get local issuer certificate"),
        ("expired", "localhost", "certificate has expired"),
    ],
)
def test_bad_certificates_fail_verification(
    certs: RunCertificates, name: CertificateName, server_hostname: str, message: str
) -> None:
    failure = handshake(certs, name, server_hostname)
    assert failure is not None
    assert message in failure


def test_wrong_host_is_signed_by_the_run_ca_for_its_own_name(certs: RunCertificates) -> None:
    assert handshake(certs, "wrong-host", "wrong-host.invalid") is None
    assert sans(load(certs.chain_file("wrong-host"))) == {"wrong-host.invalid"}


def test_sans_issuers_and_validity(certs: RunCertificates) -> None:
    ca = load(certs.ca_file)
    good = {"localhost", str(ipaddress.ip_address("127.0.0.1")), str(ipaddress.ip_address("::1"))}
    now = datetime.datetime.now(datetime.UTC)
    for name in ("good", "untrusted", "expired"):
        assert sans(load(certs.chain_file(name))) == good, name
    for name in ("good", "wrong-host", "expired"):
        assert load(certs.chain_file(name)).issuer == ca.subject, name
    assert load(certs.chain_file("untrusted")).issuer != ca.subject
    expired = load(certs.chain_file("expired"))
    assert expired.not_valid_after_utc < now
    assert expired.not_valid_before_utc < expired.not_valid_after_utc
    assert load(certs.chain_file("good")).not_valid_after_utc > now


def test_files_and_modes(certs: RunCertificates) -> None:
    directory = certs.directory
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    expected = {"ca.pem"} | {f"{n}.{part}.pem" for n in CERTIFICATE_NAMES for part in ("chain", "key")}
    assert {path.name for path in directory.iterdir()} == expected
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert certs.ca_file == directory / "ca.pem"
    assert certs.ca_file.read_text() == certs.ca_pem
    assert certs.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert not directory.resolve().is_relative_to(REPOSITORY)


def test_peer_files_name_every_certificate_and_its_key(certs: RunCertificates) -> None:
    files = certs.peer_files()
    assert isinstance(files, CertificateFiles)
    assert set(files.files) == set(CERTIFICATE_NAMES) == {"good", "wrong-host", "untrusted", "expired"}
    for name in CERTIFICATE_NAMES:
        chain, key = files.paths(name)
        assert (chain.parent, key.parent) == (certs.directory, certs.directory)
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(chain, key)  # the key fits


def test_every_run_has_its_own_ca_and_removes_it_on_exit() -> None:
    with RunCertificates() as first, RunCertificates() as second:
        assert first.ca_pem != second.ca_pem
        assert first.directory != second.directory
        directory = first.directory
        assert directory.exists()
    assert not directory.exists()
    assert not second.directory.exists()
    assert first.closed
    first.close()  # idempotent


def test_the_directory_goes_when_the_object_is_dropped_without_close() -> None:
    certs = RunCertificates()
    directory = certs.directory
    assert certs._finalizer.atexit  # also removed at interpreter exit
    del certs
    gc.collect()
    assert not directory.exists()


def test_it_refuses_a_temporary_directory_inside_the_repository(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tempfile

    import conformance.core.certificates as module

    made: list[Path] = []
    original = tempfile.mkdtemp

    def mkdtemp(prefix: str) -> str:
        made.append(Path(original(prefix=prefix)))
        return str(made[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    # as if TMPDIR pointed into the repository
    monkeypatch.setattr(module, "REPOSITORY", Path(tempfile.gettempdir()).resolve())
    with pytest.raises(RuntimeError, match="inside the repository"):
        RunCertificates()
    assert len(made) == 1
    assert not made[0].exists()  # nothing left behind
