"""Long runs that several tests read, made once per pytest session, across xdist workers.

A full run of a real runtime takes one to two minutes; tests that each only read its results.json
share one. The first test to ask runs it while holding a file lock in the session's temporary
folder (shared by the xdist workers of one session, never by two sessions); a test that asks later,
in any worker, waits for that lock and gets the same completed run. A run that did not complete
(a timeout) is not recorded: the next test to ask runs it again and fails on its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.sandbox.trace import strace_command
from tests.helpers import REPO
from tests.integration.cli import Completed, run_cli


def _session_folder(factory: pytest.TempPathFactory) -> Path:
    """The folder that all workers of this session share: under xdist, each worker's base
    temporary folder is a subfolder (``popen-gwN``) of the session's."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def trace_of(done: Completed) -> Path:
    """Where ``shared_run(..., strace=...)`` wrote the run's ``strace -f`` log."""
    return done.report_dir.parent / f"{done.report_dir.name}.strace.log"


def _traced(strace: str, trace: Path, args: tuple[str, ...], folder: Path, timeout: float) -> Completed:
    """``run_cli`` under ``strace -f`` (conformance/sandbox/trace.py: what is traced)."""
    command = [sys.executable, "-m", "conformance", *args, "--report-dir", str(folder)]
    started = time.monotonic()
    process = subprocess.run(
        strace_command(strace, trace, command), capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False
    )
    return Completed(process.returncode, process.stdout, process.stderr, folder, time.monotonic() - started)


def shared_run(
    factory: pytest.TempPathFactory, name: str, *args: str, timeout: float, strace: str | None = None
) -> Completed:
    """``connect-conformance ARGS`` (a ``run``) once per session under ``name``, traced by ``strace``
    when given (the log: ``trace_of``); its report folder is shared, so a test reads it and never
    writes into it."""
    root = _session_folder(factory) / "shared-runs"
    root.mkdir(exist_ok=True)
    folder = root / name
    record = root / f"{name}.json"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if record.exists():
            saved = json.loads(record.read_text())
            return Completed(saved["code"], saved["stdout"], saved["stderr"], folder, saved["seconds"])
        if strace:
            done = _traced(strace, trace_of(Completed(0, "", "", folder)), args, folder, timeout)
        else:
            done = run_cli(*args, report_dir=folder, timeout=timeout)
        fields = {"code": done.code, "stdout": done.stdout, "stderr": done.stderr, "seconds": done.seconds}
        record.write_text(json.dumps(fields))
        return done
