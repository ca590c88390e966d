"""A broken adapter costs one case, never the run (issue: harness core, item 3)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.cli import FIXTURES, MISBEHAVING, run_cli

pytestmark = pytest.mark.slow


def test_each_misbehaviour_errors_its_own_case_and_the_others_still_pass(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run_cli("run", "--adapter", MISBEHAVING, str(FIXTURES / "harness"), report_dir=tmp_path, timeout=240)
    elapsed = time.monotonic() - started
    outcomes = done.outcomes()
    assert done.code == 1, done.stderr
    broken = {case: outcome for case, outcome in outcomes.items() if "-on-" in case and "noise" not in case}
    assert broken == {
        "harness.crash-on-connect": "error",
        "harness.hang-on-connect": "timeout",
        "harness.garbage-on-connect": "error",
        "harness.wrong-seq-on-connect": "error",
        "harness.bad-response-on-connect": "error",
        "harness.wrong-shape-on-connect": "error",
        "harness.bad-base64-on-read": "error",
    }
    healthy = {case: outcome for case, outcome in outcomes.items() if case not in broken}
    assert set(healthy.values()) == {"pass"}, healthy
    assert len(healthy) == 9
    messages = {case["id"]: case["message"] for case in done.results()["cases"]}
    assert "exited with code 3" in messages["harness.crash-on-connect"]
    assert "not JSON" in messages["harness.garbage-on-connect"]
    assert "seq" in messages["harness.wrong-seq-on-connect"]
    assert "status" in messages["harness.bad-response-on-connect"]
    assert "deadline of 4 s" in messages["harness.hang-on-connect"]
    # A reply that validates but makes no sense for its op names the op and the field; never a harness error.
    assert "invalid response to connect" in messages["harness.wrong-shape-on-connect"]
    assert "value" in messages["harness.wrong-shape-on-connect"]
    assert "invalid response to read: value.value.b64: invalid base64" in messages["harness.bad-base64-on-read"]
    assert not any("harness error" in message for message in messages.values()), messages
    faults = {case["id"]: case.get("fault") for case in done.results()["cases"] if case["outcome"] == "error"}
    assert set(faults.values()) == {"adapter"}, faults
    # The fake refuses new sessions once it misbehaved: the passes after each broken case
    # (echo-2..echo-8) show that the harness restarted it every time.
    # The hang costs its case deadline (4 s), not the run: every other case is quick. 7.5 s in all on a
    # quiet machine; the bound is ten times that, and far below waiting out a hello (30 s) at each restart.
    assert elapsed < 80, elapsed


def test_an_adapter_that_never_says_hello_is_an_infrastructure_error(tmp_path: Path) -> None:
    done = run_cli("run", "--adapter", MISBEHAVING + " --broken-hello", str(FIXTURES / "harness"), report_dir=tmp_path)
    assert done.code == 3, done.stderr
    assert "did not answer hello" in done.stderr
    assert done.results()["run"]["error"]


def test_a_command_that_does_not_exist_is_an_infrastructure_error(tmp_path: Path) -> None:
    done = run_cli(
        "run", "--adapter", "stdio:/nonexistent/adapter --flag", str(FIXTURES / "harness"), report_dir=tmp_path
    )
    assert done.code == 3
    assert "cannot start adapter" in done.stderr
