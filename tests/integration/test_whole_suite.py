"""The README's first command, and the pytest plugin, on the whole spec against the reference."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.cases.loader import load_strict
from tests.helpers import REPO, without_drivers
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow


def test_run_against_the_reference_passes_every_case_and_writes_the_reports(tmp_path: Path) -> None:
    done = run_cli("run", "-n", "2", report_dir=tmp_path, timeout=300)
    assert done.code == 0, done.stdout + done.stderr
    results = done.results()
    not_passing = [
        (c["id"], c["outcome"], c.get("skipped_by"))
        for c in without_drivers(results["cases"])
        if c["outcome"] != "pass"
    ]
    if results["run"]["sandboxed"]:
        # The default where a sandbox can be made: every case passes.
        assert not_passing == []
    else:
        # Elsewhere only the cases that need it are not run here, said in one line.
        assert all(outcome == "skip" and by == "environment" for _, outcome, by in not_passing)
        needs_sandbox = {case.id for case in load_strict([REPO / "spec"]) if "sandbox" in case.requires}
        assert {case_id for case_id, _, _ in not_passing} == needs_sandbox
        assert done.stdout.count("not run here:") == 1
    assert results["summary"]["total"] >= 70
    assert results["run"]["adapter"]["name"] == "reference"
    for name in ("results.json", "junit.xml", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0
    assert not list(tmp_path.glob("*.part"))


def test_the_pytest_plugin_with_two_workers_runs_the_same_cases(tmp_path: Path) -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "conformance", "list"], capture_output=True, text=True, cwd=REPO, timeout=60, check=True
    )
    count = len(listed.stdout.splitlines())
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--adapter",
            "reference",
            "spec/",
            "-n",
            "2",
            "-q",
            "--alluredir",
            str(tmp_path / "allure"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    last = process.stdout.strip().splitlines()[-1]
    counts = {word: int(number) for number, word in re.findall(r"(\d+) (passed|skipped|failed|error)", last)}
    assert counts.get("failed", 0) == counts.get("error", 0) == 0, last
    assert counts.get("passed", 0) + counts.get("skipped", 0) == count, last
    results = list((tmp_path / "allure").glob("*-result.json"))
    assert len(results) == count
    sample = results[0].read_text()
    assert '"case_id"' in sample
    assert '"level"' in sample
    assert '"transcript"' in sample
