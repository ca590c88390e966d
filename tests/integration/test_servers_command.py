"""`connect-conformance servers`: the standalone echo, TLS echo and STARTTLS echo servers, with
`openssl s_client` and a manual STARTTLS exchange; the run's CA is gone when they stop."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, require_program

pytestmark = pytest.mark.slow


def read_lines(process: subprocess.Popen[bytes], count: int) -> list[dict[str, Any]]:
    assert process.stdout is not None
    output = b""
    deadline = time.monotonic() + 15
    while output.count(b"\n") < count:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"fewer than {count} lines within 15 s: {output!r}"
        chunk = os.read(process.stdout.fileno(), 65536)
        assert chunk, "the servers exited early"
        output += chunk
    return [json.loads(line) for line in output.splitlines()]


def test_tls_and_starttls_echo_servers_work_with_real_clients() -> None:
    command = [sys.executable, "-m", "conformance", "servers", "--kind", "echo", "--kind", "tls", "--kind", "starttls"]
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            ca, *listeners = read_lines(process, 4)
            assert ca["kind"] == "ca"
            ca_file = Path(ca["file"])
            assert ca_file.is_file()
            ports = {line["kind"]: line["port"] for line in listeners}
            assert set(ports) == {"echo", "tls", "starttls"}
            context = ssl.create_default_context(cafile=str(ca_file))

            with socket.create_connection(("127.0.0.1", ports["echo"]), timeout=5) as plain:
                plain.sendall(b"plain\n")
                assert plain.recv(100) == b"plain\n"

            with (
                socket.create_connection(("127.0.0.1", ports["tls"]), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname="localhost") as tls,
            ):
                tls.sendall(b"over tls\n")
                assert tls.recv(100) == b"over tls\n"

            with socket.create_connection(("127.0.0.1", ports["starttls"]), timeout=5) as raw:
                raw.sendall(b"hello before\r\n")
                assert raw.recv(100) == b"hello before\r\n"
                raw.sendall(b"STARTTLS\r\n")
                assert raw.recv(100) == b"OK\r\n"
                with context.wrap_socket(raw, server_hostname="localhost") as upgraded:
                    assert upgraded.version() in ("TLSv1.2", "TLSv1.3")
                    upgraded.sendall(b"after upgrade\n")
                    assert upgraded.recv(100) == b"after upgrade\n"

            openssl = require_program(("openssl",), "apt-get install -y openssl")
            # -verify_return_error: s_client gives up unless the chain verifies against the run's CA.
            with subprocess.Popen(
                [
                    openssl,
                    "s_client",
                    "-connect",
                    f"127.0.0.1:{ports['tls']}",
                    "-CAfile",
                    str(ca_file),
                    "-servername",
                    "localhost",
                    "-verify_return_error",
                    "-quiet",
                    "-no_ign_eof",
                ],  # -quiet implies -ign_eof; without this s_client never exits
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            ) as client:
                assert client.stdin is not None
                assert client.stdout is not None
                client.stdin.write(b"from s_client\n")
                client.stdin.flush()
                echoed = b""
                deadline = time.monotonic() + 15
                while b"from s_client\n" not in echoed and time.monotonic() < deadline:
                    ready, _, _ = select.select([client.stdout], [], [], 1)
                    if ready:
                        chunk = os.read(client.stdout.fileno(), 4096)
                        if not chunk:
                            break
                        echoed += chunk
                client.stdin.close()
                try:
                    client.wait(timeout=10)
                finally:
                    if client.poll() is None:
                        client.kill()
                assert echoed == b"from s_client\n", (echoed, client.stderr.read() if client.stderr else b"")
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(timeout=10)
            finally:
                if process.poll() is None:
                    process.kill()
    assert code == 0
    assert not ca_file.exists(), "the run's CA must not outlive the servers"
    assert not ca_file.parent.exists()
