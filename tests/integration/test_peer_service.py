"""`connect-conformance peer serve` started by hand, and `run --peer tcp://HOST:PORT` against it: the whole
suite passes on the reference; a wrong or missing token is refused; the service keeps nothing of a run;
clients without the token cannot make it grow."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, without_drivers
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def service() -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONNECT_CONFORMANCE_PEER_TOKEN")}
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "peer", "serve"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        announced = json.loads(process.stdout.readline())
        yield process, announced
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def memfds(pid: int) -> list[str]:
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return [link for link in links if link.startswith("/memfd:")]


def test_the_whole_suite_passes_through_a_peer_service(
    service: tuple[subprocess.Popen[str], dict[str, Any]], tmp_path: Path
) -> None:
    process, announced = service
    assert announced["host"] == "127.0.0.1", "loopback unless told otherwise"
    assert announced["control"] == f"127.0.0.1:{announced['port']}"
    peer = f"tcp://127.0.0.1:{announced['port']}"
    done = run_cli(
        "run",
        "-n",
        "2",
        "--peer",
        peer,
        report_dir=tmp_path,
        timeout=300,
        env={"CONNECT_CONFORMANCE_PEER_TOKEN": announced["token"]},
    )
    assert done.code == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = done.results()
    assert results["run"]["selection"]["peer"] == peer
    assert results["summary"]["total"] >= 200
    not_passing = [c for c in without_drivers(results["cases"]) if c["outcome"] != "pass"]
    # Only the cases that need the network sandbox (where a remote peer cannot be) are skipped.
    assert all(c["outcome"] == "skip" and "needs the network sandbox" in c["message"] for c in not_passing)
    tls_cases = [c for c in results["cases"] if "tls" in c["id"]]
    assert len(tls_cases) > 50, "the certificates went over the control channel"
    assert process.poll() is None, "the service serves the next run too"
    assert memfds(process.pid) == [], "the run's certificates are freed when its control connection ends"


def test_a_wrong_token_is_refused_and_a_missing_one_is_a_usage_error(
    service: tuple[subprocess.Popen[str], dict[str, Any]], tmp_path: Path
) -> None:
    _, announced = service
    peer = f"tcp://127.0.0.1:{announced['port']}"
    wrong = run_cli(
        "run", "-k", "address", "--peer", peer, report_dir=tmp_path, env={"CONNECT_CONFORMANCE_PEER_TOKEN": "guess"}
    )
    assert wrong.code == 3, wrong.stderr
    assert "refused the run" in wrong.stderr
    assert "wrong token" in wrong.stderr
    assert wrong.results()["run"]["error"].startswith("the peer service at tcp://127.0.0.1:")
    missing = run_cli(
        "run", "-k", "address", "--peer", peer, report_dir=tmp_path, env={"CONNECT_CONFORMANCE_PEER_TOKEN": ""}
    )
    assert missing.code == 2, missing.stderr
    assert "set CONNECT_CONFORMANCE_PEER_TOKEN" in missing.stderr


def test_nothing_listening_is_an_infrastructure_error(tmp_path: Path) -> None:
    done = run_cli(
        "run",
        "-k",
        "address",
        "--peer",
        "tcp://127.0.0.1:1",
        report_dir=tmp_path,
        env={"CONNECT_CONFORMANCE_PEER_TOKEN": "t"},
    )
    assert done.code == 3, done.stderr
    assert "cannot reach the peer service at tcp://127.0.0.1:1" in done.stderr


FLOOD_CLIENTS = 50
FLOOD_BYTES = 250 * 1024 * 1024
RSS_LIMIT_KB = 200 * 1024


def memory_kb(pid: int, field: str) -> int:
    """A VmRSS or VmHWM figure of /proc/PID/status, in kB."""
    for status_line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if status_line.startswith(f"{field}:"):
            return int(status_line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def flood(port: int, stop: threading.Event) -> str:
    """Sends a hello whose token never ends, 250 MiB of it, until the service hangs up; says how it ended."""
    chunk = b"a" * (1024 * 1024)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(b'{"id": 1, "op": "hello", "protocol": 1, "token": "')
            while sent < FLOOD_BYTES and not stop.is_set():
                sock.sendall(chunk)
                sent += len(chunk)
        except TimeoutError:
            return "was left hanging"
        except OSError:
            return "hung up"
        finally:
            # RST: what is still in flight is dropped, not left for the service to read.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return "stopped" if stop.is_set() else "sent it all"


def hello_and_a_session(port: int, token: str) -> list[dict[str, Any]]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock, sock.makefile("rb") as answers:
        out = []
        for request in (
            {"id": 1, "op": "hello", "protocol": 1, "token": token},
            {"id": 2, "op": "open_session", "listener": {"kind": "plain"}},
            {"id": 3, "op": "close_session", "session": "1"},
        ):
            sock.sendall(json.dumps(request).encode() + b"\n")
            out.append(json.loads(answers.readline()))
        return out


def test_fifty_clients_without_the_token_sending_250_mib_each_cost_the_service_little(
    service: tuple[subprocess.Popen[str], dict[str, Any]],
) -> None:
    process, announced = service
    port = announced["port"]
    stop = threading.Event()
    watching = True

    def watch() -> None:
        # A safety valve, not the assertion: a service that buffers what it is sent must not take
        # the machine down with it (it would need 12.5 GB); the test fails on VmHWM anyway.
        while watching:
            rss = memory_kb(process.pid, "VmRSS")
            if rss > RSS_LIMIT_KB:
                stop.set()
            if rss > 3 * RSS_LIMIT_KB:
                process.kill()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(FLOOD_CLIENTS) as pool:
            endings = list(pool.map(lambda _: flood(port, stop), range(FLOOD_CLIENTS)))
    finally:
        watching = False
        watcher.join()
    assert process.poll() is None, "the service is still there"
    peak = memory_kb(process.pid, "VmHWM")
    assert peak < RSS_LIMIT_KB, (
        f"the service's peak RSS was {peak} kB ({endings.count('sent it all')} floods went in whole)"
    )
    assert endings == ["hung up"] * FLOOD_CLIENTS
    hello, opened, closed = hello_and_a_session(port, announced["token"])
    assert hello["ok"] is True
    assert opened["ok"] is True
    assert closed == {"id": 3, "ok": True, "result": None}
    assert memory_kb(process.pid, "VmHWM") < RSS_LIMIT_KB
