"""Strict tooling is part of the tests: ruff (check and format) and mypy --strict must be clean."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.helpers import REPO

LINTED = ["conformance", "servers", "tests", "benchmarks"]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([sys.executable, "-m", "ruff", "check", *LINTED], id="ruff"),
        pytest.param([sys.executable, "-m", "ruff", "format", "--check", *LINTED], id="ruff-format"),
        pytest.param([sys.executable, "-m", "mypy"], id="mypy"),
    ],
)
def test_tool_is_clean(command: list[str]) -> None:
    if shutil.which(command[2]) is None and not _importable(command[2]):
        pytest.fail(f"{command[2]} is not installed: install the project with the [lint] extra")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True
