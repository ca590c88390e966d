"""``pytest --adapter X --expectations F`` gives the verdict ``run`` gives (one ``expectations.judge``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

ADAPTER = "reference+missing-port-defaults-443"
FAILING = "address.string-missing-port[no-colon]"
SELECTION = "string-missing-port"


def expectations(path: Path, until: str) -> Path:
    path.write_text(
        "implementation: reference\n"
        "cases:\n"
        f"  {FAILING}:\n"
        "    outcome: fail\n"
        "    reason: the mutant defaults the port to 443 (B6)\n"
        f"    until: {until}\n"
        "  address.no-such-case:\n"
        "    outcome: fail\n"
        "    reason: stale entry, reported as unused\n",
        encoding="utf-8",
    )
    return path


def pytest_run(file: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "--adapter", ADAPTER, "spec/address", "-k", "no-colon", "-q"]
    return subprocess.run(
        [*command, "--expectations", str(file)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_an_entry_still_in_date_turns_the_failure_into_an_xfail_and_unused_entries_are_listed(tmp_path: Path) -> None:
    file = expectations(tmp_path / "known.yaml", "2999-01-01")
    done = pytest_run(file)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 xfailed" in done.stdout
    assert "unused expectation: address.no-such-case" in done.stdout
    ran = run_cli("run", "--adapter", ADAPTER, "-k", "no-colon", "--expectations", str(file), report_dir=tmp_path / "r")
    assert ran.code == 0, ran.stdout


def test_an_expired_entry_fails_in_pytest_as_it_fails_the_gate_of_run(tmp_path: Path) -> None:
    file = expectations(tmp_path / "known.yaml", "2020-01-01")
    done = pytest_run(file)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "EXPIRED expectation (until 2020-01-01" in done.stdout
    assert "1 failed" in done.stdout
    ran = run_cli("run", "--adapter", ADAPTER, "-k", "no-colon", "--expectations", str(file), report_dir=tmp_path / "r")
    assert ran.code == 1
    assert f"EXPIRED expectation (until 2020-01-01): {FAILING}" in ran.stdout
    assert ran.results()["gate"]["expired"] == [FAILING]
