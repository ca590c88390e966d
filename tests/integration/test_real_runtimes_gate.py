"""The whole suite against the real runtimes: with their expectations files the gate passes (exit 0);
without them it would fail, because each has known non-pass outcomes (issue: real implementations, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.core.outcomes import CaseResult, Outcome
from conformance.execution import expectations
from conformance.sandbox import availability
from tests.helpers import REPO, require_npm_packages
from tests.integration.cli import Completed, run_cli

pytestmark = pytest.mark.slow


# On a quiet machine: workerd 21 s (33 s under strace, as conftest.py makes it where it can), node-socket 77 s,
# Miniflare 30 s; the bounds are ten times that and more.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize(("adapter", "workers"), [("workerd", "2"), ("node-socket", "4"), ("miniflare", "2")])
def test_full_suite_passes_the_gate_only_with_its_expectations(
    tmp_path: Path, request: pytest.FixtureRequest, adapter: str, workers: str
) -> None:
    if adapter in ("node-socket", "workerd"):  # conftest.py's runs, made once a session, other tests read them
        done: Completed = request.getfixturevalue(f"{adapter.replace('-', '_')}_full_run")
    else:
        require_npm_packages(adapter)  # an install must not eat the run's timeout
        known = REPO / "expectations" / f"{adapter}.yaml"
        done = run_cli(
            "run", "--adapter", adapter, "-n", workers, "--expectations", str(known), report_dir=tmp_path, timeout=900
        )
    assert done.code == 0, done.stdout[-3000:]
    document = done.results()
    assert document["summary"]["total"] >= 200
    assert document["summary"]["error"] == 0
    results = [CaseResult(id=c["id"], outcome=Outcome(c["outcome"]), level=c["level"]) for c in document["cases"]]
    assert not expectations.gate(results, None).ok, "without the expectations file the gate must fail"
    assert document["gate"]["unused"] == []
    # A real runtime runs in the network sandbox by default wherever one can be made (docs/sandbox.md).
    assert document["run"]["sandboxed"] is availability().ok
