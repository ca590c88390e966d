"""The standalone TLS and STARTTLS echo servers, as subprocesses: with the real
`openssl s_client`, with a manual STARTTLS exchange, several kinds at once."""

import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme

SERVERS = Path(__file__).resolve().parents[3] / "servers"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


@contextmanager
def started(*args: str, lines: int = 1) -> Iterator[tuple[subprocess.Popen[bytes], list[Any]]]:
    """Runs `python -m conformance_peer ARGS`, yields it with its first JSON lines.

    Stops it with SIGTERM at the end (it must exit 0), or kills it by PID on failure.
    """
    env = {**os.environ, "PYTHONPATH": str(SERVERS)}
    with subprocess.Popen(
        [sys.executable, "-m", "conformance_peer", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            output = b""
            deadline = time.monotonic() + 10
            while output.count(b"\n") < lines:
                ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
                assert ready, f"the peer printed fewer than {lines} JSON lines within 10 s"
                chunk = os.read(proc.stdout.fileno(), 65536)
                assert chunk, f"the peer exited: {proc.stderr.read() if proc.stderr else ''!r}"
                output += chunk
            yield proc, [json.loads(line) for line in output.splitlines()]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=5) == 0
            assert proc.stderr is not None
            assert proc.stderr.read() == b""  # failed handshakes are results, not log noise
        finally:
            if proc.poll() is None:
                proc.kill()


def tls_args(certs: Any, cert: str = "good") -> list[str]:
    return ["--cert", str(certs.chain_file(cert)), "--key", str(certs.key_file(cert))]


def s_client(port: int, ca_file: Path, *extra: str, line: bytes) -> tuple[int, str]:
    """Runs `openssl s_client`, sends `line`, waits for its echo, then closes its input.

    Returns the exit code and everything it printed (stdout and stderr).
    """
    command = [
        OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(ca_file),
        "-servername", "localhost", *extra, "-verify_return_error",
        "-no_ign_eof",  # after -quiet, which implies -ign_eof: EOF on stdin ends s_client
    ]  # fmt: skip
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        try:
            assert proc.stdin is not None
            assert proc.stdout is not None
            proc.stdin.write(line)
            proc.stdin.flush()
            output = b""
            deadline = time.monotonic() + 10
            while line not in output and proc.poll() is None and time.monotonic() < deadline:
                ready, _, _ = select.select([proc.stdout], [], [], 0.2)
                if ready:
                    output += os.read(proc.stdout.fileno(), 65536)
            rest, _ = proc.communicate(timeout=10)  # closes stdin: s_client sends close_notify, exits
            return proc.returncode, (output + rest).decode(errors="replace")
        finally:
            if proc.poll() is None:
                proc.kill()


needs_openssl = pytest.mark.skipif(not os.path.exists(OPENSSL), reason="no openssl command")


@needs_openssl
def test_tls_echo_with_openssl_s_client_quiet(certs: Any) -> None:
    with started("--kind", "tls", *tls_args(certs)) as (_, [line]):
        assert line["kind"] == "tls"
        code, output = s_client(line["port"], certs.ca_file, "-quiet", line=b"hello tls\n")
        assert code == 0
        assert output.count("hello tls\n") == 1  # the echo; s_client does not print its input


@needs_openssl
def test_tls_echo_with_openssl_s_client_verifies(certs: Any) -> None:
    with started("--kind", "tls", *tls_args(certs)) as (_, [line]):
        code, output = s_client(line["port"], certs.ca_file, line=b"verified echo\n")
        assert code == 0
        assert "Verify return code: 0 (ok)" in output
        assert "verified echo\n" in output.split("Verify return code: 0 (ok)", 1)[1]


@needs_openssl
def test_openssl_s_client_rejects_the_server_without_the_runs_ca(certs: Any) -> None:
    """The control: with another CA file, s_client's verification fails and nothing is echoed."""
    with tempfile.TemporaryDirectory() as scratch:
        other_ca = Path(scratch) / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(other_ca))
        with started("--kind", "tls", *tls_args(certs)) as (_, [line]):
            code, output = s_client(line["port"], other_ca, line=b"not echoed\n")
    assert code != 0
    assert "unable to get local issuer certificate" in output
    assert "not echoed" not in output


def test_starttls_echo_with_a_manual_exchange(certs: Any) -> None:
    payload = bytes(range(256)) * 64
    with started("--kind", "starttls", *tls_args(certs)) as (_, [line]):
        assert line["kind"] == "starttls"
        with socket.create_connection(("127.0.0.1", line["port"]), timeout=5) as raw:
            raw.sendall(b"hello in plain text\r\n")
            assert read_exactly(raw, 21) == b"hello in plain text\r\n"
            raw.sendall(b"STARTTLS\r\n")
            assert read_exactly(raw, 4) == b"OK\r\n"
            context = ssl.create_default_context(cafile=str(certs.ca_file))
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() == "TLSv1.3"
                tls.sendall(payload)
                assert read_exactly(tls, len(payload)) == payload
                tls.sendall(b"STARTTLS\r\n")  # only a line in plaintext: echoed like any bytes
                assert read_exactly(tls, 10) == b"STARTTLS\r\n"


def test_starttls_echo_rejected_by_a_client_that_verifies(certs: Any) -> None:
    with (
        started("--kind", "starttls", *tls_args(certs, "wrong-host")) as (_, [line]),
        socket.create_connection(("127.0.0.1", line["port"]), timeout=5) as raw,
    ):
        raw.sendall(b"STARTTLS\r\n")
        assert read_exactly(raw, 4) == b"OK\r\n"
        context = ssl.create_default_context(cafile=str(certs.ca_file))
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            context.wrap_socket(raw, server_hostname="localhost")


def test_several_kinds_at_once(certs: Any) -> None:
    args = ["--kind", "echo", "--kind", "tls", "--kind", "starttls", *tls_args(certs)]
    with started(*args, lines=3) as (_, lines):
        assert [line["kind"] for line in lines] == ["echo", "tls", "starttls"]
        assert len({line["port"] for line in lines}) == 3
        echo, tls, starttls = (line["port"] for line in lines)
        context = ssl.create_default_context(cafile=str(certs.ca_file))
        with socket.create_connection(("127.0.0.1", echo), timeout=5) as plain:
            plain.sendall(b"plain")
            assert read_exactly(plain, 5) == b"plain"
        with context.wrap_socket(
            socket.create_connection(("127.0.0.1", tls), timeout=5), server_hostname="127.0.0.1"
        ) as secure:
            secure.sendall(b"secure")
            assert read_exactly(secure, 6) == b"secure"
        with socket.create_connection(("127.0.0.1", starttls), timeout=5) as raw:
            raw.sendall(b"STARTTLS\r\n")
            assert read_exactly(raw, 4) == b"OK\r\n"
            with context.wrap_socket(raw, server_hostname="localhost") as upgraded:
                upgraded.sendall(b"upgraded")
                assert read_exactly(upgraded, 8) == b"upgraded"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "tls"], "--kind tls needs --cert FILE and --key FILE"),
        (["--kind", "starttls", "--cert", "x.pem"], "--kind starttls needs --cert FILE"),
        (["--kind", "echo", "--kind", "tls", "--port", "9"], "one --port per --kind"),
    ],
)
def test_contradictory_command_lines_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, str(SERVERS / "peer.py"), *args],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_a_certificate_that_does_not_load_exits_1(certs: Any) -> None:
    missing = str(certs.directory / "missing.pem")
    result = subprocess.run(
        [sys.executable, str(SERVERS / "peer.py"), "--kind", "tls", "--cert", missing,
         "--key", str(certs.key_file("good"))],
        capture_output=True,
        text=True,
        timeout=10,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"cannot load --cert {missing}" in result.stderr
    assert result.stdout == ""


def read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data
