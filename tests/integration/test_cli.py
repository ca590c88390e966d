"""The command line: exit codes, clear errors for bad input, and nothing lost because of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.integration.cli import run_cli

MIXED = REPO / "tests" / "fixtures" / "broken" / "spec" / "lifecycle" / "mixed.yaml"


def test_validate_names_file_line_field_and_expectation(tmp_path: Path) -> None:
    done = run_cli("validate", str(MIXED), report_dir=tmp_path)
    assert done.code == 2
    lines = done.stderr.splitlines()
    assert f'{MIXED}:17: steps.1: unknown step "teleport": expected one of connect' in done.stderr, lines
    assert f'{MIXED}:21: level: expected one of "must", "should", "info", got "sometimes"' in done.stderr, lines
    assert "2 problems in 1 file" in done.stderr


def test_validate_accepts_the_whole_spec(tmp_path: Path) -> None:
    done = run_cli("validate", report_dir=tmp_path)
    assert done.code == 0, done.stderr
    assert done.stdout.startswith("ok: ")


def test_run_with_broken_cases_still_runs_the_good_ones_and_writes_results(tmp_path: Path) -> None:
    done = run_cli("run", str(MIXED), report_dir=tmp_path)
    assert done.code == 2
    assert done.outcomes() == {"lifecycle.fixture-good": "pass"}
    assert len(done.results()["run"]["spec_errors"]) == 2
    assert 'unknown step "teleport"' in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", "-n", "0"], "0: expected auto or a lane count from 1 to 64"),
        (["run", "-n", "1000"], "1000: expected auto or a lane count from 1 to 64"),
        (["run", "-n", "many"], 'expected auto or a number, got "many"'),
        (["run", "-k", "no-such-case-anywhere"], "no case matches the selection"),
        (["run", "-k", "address and"], "unexpected end of expression"),
        (["run", "--adapter", "teleport"], '--adapter "teleport": expected one of'),
        (["run", "no/such/folder"], "no such spec file or folder"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_cli(*args, report_dir=tmp_path)
    assert done.code == 2
    assert message in done.stderr


def test_list_shows_ids_levels_and_sources(tmp_path: Path) -> None:
    done = run_cli("list", "-k", "lifecycle", report_dir=tmp_path)
    assert done.code == 0
    first = done.stdout.splitlines()[0]
    assert first.startswith("lifecycle.")
    assert any(level in first for level in ("[must]", "[should]", "[info]"))
    assert " B" in first


@pytest.mark.slow
@pytest.mark.timeout(1200)  # about 65 s on a quiet machine: ten times that and more
def test_mutants_are_all_caught(tmp_path: Path) -> None:
    done = run_cli("mutants", report_dir=tmp_path, timeout=900)
    assert done.code == 0, done.stdout[-3000:]
    last = [line for line in done.stdout.splitlines() if "mutants caught" in line][-1]
    caught, total = int(last.split()[0]), int(last.split()[2])
    assert caught == total >= 10
    assert "ESCAPED" not in done.stdout
