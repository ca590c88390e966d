"""The run's certificate authority lives only for the run: nothing of it is committed, left in a
temporary folder, or written into the reports (issue: TLS and STARTTLS, item 4)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO

PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----\s*[A-Za-z0-9+/=\s]{40,}-----END [A-Z ]+-----")


def test_no_certificate_or_key_is_committed() -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    found = []
    for name in filter(None, files.decode().split("\0")):
        path = REPO / name
        if name.endswith((".pem", ".key", ".crt", ".p12")) or (
            path.is_file() and path.stat().st_size < 5_000_000 and PEM_BLOCK.search(path.read_text(errors="ignore"))
        ):
            found.append(name)
    assert found == []


def test_a_tls_run_leaves_no_ca_behind_and_writes_none_into_the_reports(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    report = tmp_path / "report"
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--tag", "tls", "--tag", "starttls", "--report-dir", str(report)],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(json.loads((report / "results.json").read_text())["cases"]) >= 60
    assert list(temp.iterdir()) == [], "the run's CA folder must be gone"
    for path in report.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="ignore")
            assert "-----BEGIN" not in text, path
            assert not PEM_BLOCK.search(text), path
    assert not list(report.rglob("*.pem"))
