"""What `run` prints and decides: -q and -v, expected outcomes as one count line, info cases not gated,
results written on an internal error, the sandbox by default, plurals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conformance import sandbox
from tests.helpers import REPO
from tests.integration.cli import FIXTURES, run_cli

GATING = str(FIXTURES / "gating")


def test_an_info_case_failing_warns_but_does_not_fail_the_gate(tmp_path: Path) -> None:
    done = run_cli("run", GATING, "-k", "not should", report_dir=tmp_path)
    assert done.code == 0, done.stdout + done.stderr
    assert "warning: info case gating.info-case-fails was fail (expected pass)" in done.stdout
    gate = done.results()["gate"]
    assert gate["ok"] is True
    assert gate["ungated"] == [{"id": "gating.info-case-fails", "outcome": "fail", "expected": "pass"}]
    assert re.search(r"^FAIL    gating\.info-case-fails \(\d+ ms\) \(info, not gated", done.stderr, re.M), done.stderr
    failing = run_cli("run", GATING, report_dir=tmp_path / "all")
    assert failing.code == 1, "a should case failing still fails the gate"
    assert "UNEXPECTED fail (expected pass): gating.should-case-fails" in failing.stdout


def test_a_gated_run_counts_expected_outcomes_in_one_line_unless_verbose(tmp_path: Path) -> None:
    known = tmp_path / "known.yaml"
    known.write_text(
        "implementation: reference\ncases:\n"
        "  gating.should-case-fails: {outcome: fail, reason: 'B4: fixture'}\n"
        "  gating.info-case-fails: {outcome: fail, reason: 'B4: fixture'}\n"
    )
    done = run_cli("run", GATING, "--expectations", str(known), report_dir=tmp_path / "r")
    assert done.code == 0, done.stdout + done.stderr
    assert "XFAIL" not in done.stderr.replace("(XFAIL, in the expectations file", "")
    assert "2 expected non-pass outcomes (XFAIL, in the expectations file; -v lists them)" in done.stderr
    assert done.stderr.startswith("running 3 cases against reference on 3 lanes")
    verbose = run_cli("run", GATING, "-v", "--expectations", str(known), report_dir=tmp_path / "v")
    assert "XFAIL   gating.should-case-fails" in verbose.stderr
    assert "PASS    gating.must-case-passes" in verbose.stderr


def test_quiet_prints_only_the_summary_and_the_unexpected_outcomes(tmp_path: Path) -> None:
    done = run_cli("run", GATING, "-q", report_dir=tmp_path)
    assert done.code == 1
    assert done.stderr.strip() == "" or "sandbox" in done.stderr, done.stderr
    assert "running" not in done.stderr
    assert "FAIL    " not in done.stderr
    assert "UNEXPECTED fail (expected pass): gating.should-case-fails" in done.stdout
    assert "total" in done.stdout
    assert "reports written" not in done.stdout
    one = run_cli("run", GATING, "-k", "must", report_dir=tmp_path / "one")
    assert one.stderr.startswith("running 1 case against reference on 1 lane,"), one.stderr


def test_results_are_written_even_when_the_harness_breaks_after_the_run(tmp_path: Path) -> None:
    # An expectations entry the gate cannot judge (a stand-in for any bug of ours after the cases ran).
    code = (
        "import sys\n"
        "from conformance import cli\n"
        "from conformance.execution import expectations\n"
        "def broken(*args, **kwargs):\n"
        "    raise TypeError('a bug of the gate')\n"
        "expectations.gate = broken\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    report = tmp_path / "r"
    done = subprocess.run(
        [sys.executable, "-c", code, "run", "--no-sandbox", GATING, "-k", "must", "--report-dir", str(report)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 4, done.stderr
    assert "a bug of the gate" in done.stderr
    for name in ("results.json", "junit.xml", "summary.md"):
        assert (report / name).is_file(), f"{name} is written on exit 4 too"
    assert "internal error" in (report / "results.json").read_text()


def test_the_reference_runs_in_the_sandbox_by_default_where_one_can_be_made(tmp_path: Path) -> None:
    done = run_cli("run", "-k", "policy.port-25-not-dialled", report_dir=tmp_path)
    results = done.results()
    available = sandbox.availability()
    if available.ok:
        assert results["run"]["sandboxed"] is True
        assert {c["outcome"] for c in results["cases"]} == {"pass"}
        assert done.code == 0
    else:
        assert results["run"]["sandboxed"] is False
        assert {c.get("skipped_by") for c in results["cases"]} == {"environment"}
        assert f"no network sandbox here ({available.reason})" in done.stderr
        assert done.stdout.count("not run here:") == 1, "one summary line, not a line per case"


def test_quiet_and_verbose_exclude_each_other(tmp_path: Path) -> None:
    done = run_cli("run", "-q", "-v", report_dir=tmp_path)
    assert done.code == 2
    assert "not allowed with argument" in done.stderr
    assert not (tmp_path / "results.json").exists()
