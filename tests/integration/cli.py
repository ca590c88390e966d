"""Running the ``connect-conformance`` command as users do: a subprocess, with a timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import REPO

FIXTURES = REPO / "tests" / "fixtures" / "spec"
MISBEHAVING = f"stdio:{sys.executable} {REPO / 'tests' / 'fakes' / 'misbehaving_adapter.py'}"
HOSTILE = f"stdio:{sys.executable} {REPO / 'tests' / 'fakes' / 'hostile_adapter.py'}"

# Runs a command and then reports the peak RSS of its process tree (every waited-for descendant's
# maximum, as getrusage(RUSAGE_CHILDREN) sees it) and the CPU seconds it used, on its last stderr line.
_MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "used = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "sys.stderr.write(f'\\nPEAK_RSS_KB={used.ru_maxrss} CPU_S={used.ru_utime + used.ru_stime}\\n')\n"
    "sys.exit(code)\n"
)


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str
    report_dir: Path
    seconds: float = 0.0
    peak_rss_mb: float | None = None
    #: CPU seconds of the process tree (``measure=True``): unlike ``seconds``, barely inflated by a busy machine.
    cpu_s: float | None = None

    def results(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.report_dir / "results.json").read_text())
        return loaded

    def outcomes(self) -> dict[str, str]:
        return {case["id"]: case["outcome"] for case in self.results()["cases"]}


def run_cli(
    *args: str, report_dir: Path, timeout: float = 120, env: dict[str, str] | None = None, measure: bool = False
) -> Completed:
    """``connect-conformance ARGS`` (``run`` gets ``--report-dir``); ``measure`` also records its peak RSS
    and CPU time."""
    command = [sys.executable, "-m", "conformance", *args]
    if args and args[0] == "run":
        command += ["--report-dir", str(report_dir)]
    if measure:
        command = [sys.executable, "-c", _MEASURE, *command]
    started = time.monotonic()
    process = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
    )
    seconds = time.monotonic() - started
    stderr, peak, cpu = process.stderr, None, None
    if measure:
        stderr, _, last = stderr.rstrip("\n").rpartition("\n")
        figures = dict(item.split("=") for item in last.split())
        peak, cpu = int(figures["PEAK_RSS_KB"]) / 1024, float(figures["CPU_S"])
    return Completed(process.returncode, process.stdout, stderr, report_dir, seconds, peak, cpu)
