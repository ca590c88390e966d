"""`connect-conformance peer serve` started by hand, and `run --peer tcp://HOST:PORT` against it: the whole
suite passes on the reference; a wrong or missing token is refused; the service keeps nothing of a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO
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
    not_passing = [c for c in results["cases"] if c["outcome"] != "pass"]
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
