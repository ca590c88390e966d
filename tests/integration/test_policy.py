"""The environment rules (issue 10): blocked destinations and port 25 in the sandbox, skipped outside it.

Every run is traced with ``strace -f``: whatever an implementation does, nothing may go anywhere but
loopback and the sandbox's own Cloudflare addresses (which exist only on the sandbox's ``lo``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.cases.loader import load_strict
from conformance.sandbox.description import Description
from conformance.sandbox.trace import strace_command, summarize
from tests.helpers import REPO, require_program, require_sandbox

pytestmark = pytest.mark.slow

SANDBOX_ADDRESSES = Description().on_lo


def traced_run(
    tmp_path: Path, *args: str, allowed: tuple[str, ...] = SANDBOX_ADDRESSES
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], Any]:
    strace = require_program(("strace",), "apt-get install -y strace")
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
                "--report-dir",
                str(report),
                *args,
            ],
        ),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    with trace.open(encoding="utf-8", errors="replace") as lines:
        summary = summarize(lines, allowed)
    return done, results, summary


def test_in_the_sandbox_every_policy_case_passes_on_the_reference(tmp_path: Path) -> None:
    require_sandbox()
    done, results, summary = traced_run(tmp_path, "--sandbox", "spec/policy")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert results["run"]["sandboxed"] is True
    outcomes = {case["id"]: case["outcome"] for case in results["cases"]}
    assert len(outcomes) >= 25
    assert set(outcomes.values()) == {"pass"}
    assert summary.outside == [], summary.text()
    assert summary.dns == [], summary.text()


def test_outside_the_sandbox_its_cases_are_skipped_and_nothing_is_dialled(tmp_path: Path) -> None:
    # No address is allowed here: outside the sandbox a Cloudflare address would leave the machine.
    done, results, summary = traced_run(tmp_path, "--no-sandbox", "spec/policy", allowed=())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert results["run"]["sandboxed"] is False
    skipped = [case for case in results["cases"] if case["outcome"] == "skip"]
    assert len(skipped) >= 20
    assert all("needs the network sandbox" in case["message"] for case in skipped)
    ran = {case["id"] for case in results["cases"] if case["outcome"] != "skip"}
    # What runs is what needs no sandbox: the connection limit and request scopes (loopback only).
    needs_sandbox = {case.id for case in load_strict([REPO / "spec" / "policy"]) if "sandbox" in case.requires}
    assert ran == {case["id"] for case in results["cases"]} - needs_sandbox
    assert any(case_id.startswith("policy.connection-limit") for case_id in ran), ran
    assert summary.outside == [], summary.text()


@pytest.mark.parametrize("mutant", ["block-after-dial", "port-25-allowed-with-tls"])
def test_an_implementation_that_dials_forbidden_destinations_fails_because_the_peer_saw_it(
    tmp_path: Path, mutant: str
) -> None:
    require_sandbox()
    done, results, summary = traced_run(tmp_path, "--sandbox", "--adapter", f"reference+{mutant}", "spec/policy")
    assert done.returncode == 1, done.stdout[-3000:]
    failed = {case["id"]: case["message"] for case in results["cases"] if case["outcome"] == "fail"}
    assert failed, "the mutant must be caught"
    seen = [case_id for case_id, message in failed.items() if "a connection arrived, but none was expected" in message]
    assert seen, failed
    # The mutant did dial: the attempts went to the sandbox's own addresses or loopback, and nowhere else.
    assert summary.outside == [], summary.text()
    assert summary.dns == [], summary.text()


def test_the_mutants_only_the_sandbox_can_show_are_each_caught_there(tmp_path: Path) -> None:
    from tests.unit.reference.test_mutants import SANDBOX_ONLY

    require_sandbox()
    only = [argument for name in sorted(SANDBOX_ONLY) for argument in ("--only", name)]
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "mutants", "--sandbox", *only, "spec/policy"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"{len(SANDBOX_ONLY)} of {len(SANDBOX_ONLY)} mutants caught" in done.stdout
