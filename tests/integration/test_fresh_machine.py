"""The README's second command on a fresh machine (issue 9, item 19).

Tests that need a program of the machine (chromium for the HTML report,
openssl) skip with the reason and the install command when it is missing,
so ``python3 -m pytest -n 2`` passes; with ``CI=true`` (``.ci/run``) the same
tests fail instead, so CI can never pass without them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.slow


def browser_tests(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PATH"] = str(empty)  # a machine without chromium
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "tests/integration/test_html_report.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_without_chromium_the_browser_tests_skip_with_a_visible_reason(tmp_path: Path) -> None:
    done = browser_tests(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "SKIPPED" in done.stdout
    assert "chromium is not installed (apt-get install -y chromium)" in done.stdout
    assert " passed" not in done.stdout.splitlines()[-1], "every browser test should have skipped"


def test_in_ci_a_missing_chromium_fails(tmp_path: Path) -> None:
    done = browser_tests(tmp_path, ci=True)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "chromium is not installed" in done.stdout
    assert "skipped" not in done.stdout.splitlines()[-1]
