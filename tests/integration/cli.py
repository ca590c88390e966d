"""Running the ``connect-conformance`` command as users do: a subprocess, with a timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import REPO

FIXTURES = REPO / "tests" / "fixtures" / "spec"
MISBEHAVING = f"stdio:{sys.executable} {REPO / 'tests' / 'fakes' / 'misbehaving_adapter.py'}"


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str
    report_dir: Path

    def results(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.report_dir / "results.json").read_text())
        return loaded

    def outcomes(self) -> dict[str, str]:
        return {case["id"]: case["outcome"] for case in self.results()["cases"]}


def run_cli(*args: str, report_dir: Path, timeout: float = 120, env: dict[str, str] | None = None) -> Completed:
    command = [sys.executable, "-m", "conformance", *args]
    if args and args[0] == "run":
        command += ["--report-dir", str(report_dir)]
    process = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Completed(process.returncode, process.stdout, process.stderr, report_dir)
