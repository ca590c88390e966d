"""After any run, even one interrupted with Ctrl-C, nothing of it is left (issue: harness core, item 6)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.integration.cli import FIXTURES

pytestmark = pytest.mark.slow

STDIO_REFERENCE = f"stdio:{sys.executable} -m conformance.adapters.reference_stdio"


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def listening_ports() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def peer_ports(results: dict) -> set[int]:
    ports = set()
    for case in results["cases"]:
        for entry in case["transcript"][:1]:
            variables = entry.get("variables", {})
            ports.update(v for k, v in variables.items() if k in ("peer.port", "peer.refused_port"))
    return ports


def start(tmp_path: Path, marker: str, *args: str) -> subprocess.Popen[str]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "CONNECT_CONFORMANCE_TEST_MARKER": marker}
    return subprocess.Popen(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(tmp_path / "report"), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_nothing_left(tmp_path: Path, marker: str, results: dict) -> None:
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []
    ports = peer_ports(results)
    assert ports, "the transcripts should name the peer's ports"
    assert ports & listening_ports() == set()
    assert list((tmp_path / "tmp").iterdir()) == []
    assert [p.name for p in (tmp_path / "report").iterdir()] != []
    assert not list((tmp_path / "report").glob("*.part"))


def test_ctrl_c_writes_partial_results_exits_130_and_leaves_nothing(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    process = start(tmp_path, marker, "--adapter", STDIO_REFERENCE, "-v", str(FIXTURES / "slow"))
    assert process.stderr is not None
    seen = 0
    while seen < 2:
        line = process.stderr.readline()
        assert line, "the run ended before it could be interrupted"
        seen += line.startswith("PASS")
    assert len(processes_with(marker)) >= 2, "the run and its stdio adapter should be running"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["run"]["interrupted"] is True
    assert 2 <= results["summary"]["total"] < 8
    assert all(case["outcome"] == "pass" for case in results["cases"])
    assert_nothing_left(tmp_path, marker, results)


def test_a_complete_run_leaves_nothing(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    process = start(
        tmp_path, marker, "--adapter", STDIO_REFERENCE, "-n", "2", "-k", "[a] or [b] or [c]", str(FIXTURES / "slow")
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["summary"]["pass"] == 3
    assert_nothing_left(tmp_path, marker, results)
