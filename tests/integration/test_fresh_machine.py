"""The README's second command on a fresh machine (issue 9, item 19; issue 19).

Tests that need a program of the machine (chromium for the HTML report,
openssl) or a published runtime release (test_versions) skip with the reason
and the install command when it is missing, so ``python3 -m pytest -n 2``
passes; with ``CI=true`` (``.ci/run``) the same tests fail instead, so CI can
never pass without them. A missing release is never downloaded by a test.
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, require_library

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


def version_tests(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["CONNECT_CONFORMANCE_CACHE"] = str(tmp_path / "empty-cache")  # a machine where nothing is installed
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:randomly", "tests/integration/test_versions.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_without_its_releases_the_versions_tests_skip_naming_the_install_and_download_nothing(tmp_path: Path) -> None:
    done = version_tests(tmp_path, ci=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "(connect-conformance install workerd@1.20230512.0)" in done.stdout
    assert "(connect-conformance install workerd@1.20261013.1 workerd@1.20261014.1 workerd@1.20261015.1)" in done.stdout
    assert not list((tmp_path / "empty-cache").glob("npm/workerd@*")), "a test installed a release"


def test_in_ci_a_missing_release_fails(tmp_path: Path) -> None:
    done = version_tests(tmp_path, ci=True)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "workerd@1.20230512.0 is not installed" in done.stdout
    assert "skipped" not in done.stdout.splitlines()[-1]


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


def test_a_missing_library_skips_or_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"libnothing-here\.so\.7 is not installed \(apt-get install x\)"):
        require_library("libnothing-here.so.7", "apt-get install x")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="libnothing-here"):
        require_library("libnothing-here.so.7", "apt-get install x")


def test_a_library_the_loader_knows_is_found() -> None:
    soname = ctypes.util.find_library("c")
    assert soname is not None, "the C library itself"
    require_library(soname, "unused")
