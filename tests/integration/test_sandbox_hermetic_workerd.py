"""A sandboxed workerd run is hermetic (issue 10, "what it must show" 3): the whole suite under
``strace -f``, and not one ``connect()``/``sendto()``/``sendmsg()`` goes anywhere but loopback and
the sandbox's own Cloudflare addresses; no DNS query is sent at all. About 33 s on a quiet machine.

Only the run is traced: workerd's npm packages are installed before (on a fresh machine that install
talks to the npm registry and its DNS, which is not the run's traffic).

The unsandboxed counterpart is not run: it would query the machine's resolver, which is the
leak this guards against (the parser's unit tests show such a trace is caught)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.sandbox.description import Description
from conformance.sandbox.trace import strace_command, summarize
from tests.helpers import REPO, require_npm_packages, require_program, require_sandbox

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)  # 33 s on a quiet machine
def test_a_sandboxed_workerd_run_sends_nothing_off_loopback(tmp_path: Path) -> None:
    require_sandbox()
    strace = require_program(("strace",), "apt-get install -y strace")
    require_npm_packages("workerd")
    trace = tmp_path / "strace.log"
    report = tmp_path / "report"
    done = subprocess.run(
        strace_command(
            strace,
            trace,
            [
                sys.executable,
                "-m",
                "conformance",
                "run",
                "--sandbox",
                "--adapter",
                "workerd",
                "-n",
                "2",
                "--expectations",
                str(REPO / "expectations" / "workerd.yaml"),
                "--report-dir",
                str(report),
            ],
        ),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (report / "results.json").is_file()
    described = Description()
    with trace.open(encoding="utf-8", errors="replace") as lines:
        summary = summarize(lines, described.on_lo)
    assert summary.total > 200, "the trace should hold the run's connections"
    assert summary.by_family["inet"] > 0
    assert summary.by_family["inet6"] > 0
    assert summary.outside == [], summary.text()
    assert summary.dns == [], summary.text()
