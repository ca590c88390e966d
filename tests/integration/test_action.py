"""The composite GitHub Action (action.yml), its steps run here with the environment GitHub sets.

The install step is skipped where the suite runs (the package under test is installed already);
its command line, the version pin, is checked on its own with a stand-in ``python`` that records
what it was asked to install.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.github_steps import Job, load, run_job
from tests.helpers import REPO

ACTION = REPO / "action.yml"
INSTALL = "Install connect-conformance"
RUN = "Run the suite"
GATE = "Fail on unexpected outcomes"
UPLOAD = "actions/upload-artifact@v4"
#: A mutant whose writer.close() sends no FIN: every selected case fails at the peer's expect_eof.
MUTANT = "reference+writer-close-no-fin"
SELECTION = "half-open.writer-close"

pytestmark = pytest.mark.slow


def _environment(tmp_path: Path) -> dict[str, str]:
    # The installed suite's commands, whatever PATH the test run has; GitHub sets GITHUB_ACTION_PATH
    # to the action's checkout for the steps of a composite action.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {"PATH": path, "GITHUB_ACTION_PATH": str(REPO), "HOME": str(tmp_path)}


def _run_action(tmp_path: Path, inputs: dict[str, str]) -> tuple[Job, Path]:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    job = run_job(load(ACTION), "", workspace, _environment(tmp_path), inputs=inputs, skip={INSTALL})
    return job, workspace


def test_an_unexpected_outcome_fails_the_action_after_the_summary_and_the_upload(tmp_path: Path) -> None:
    job, workspace = _run_action(
        tmp_path, {"adapter": MUTANT, "args": f"-k {SELECTION} -n 2", "sandbox": "false", "report-dir": "out/report"}
    )
    assert not job.step(INSTALL).ran
    run = job.step(RUN)
    assert run.ran
    assert run.code == 0, run.stderr  # the step records the code; the last step gates on it
    assert job.outputs["run"]["exit-code"] == "1"
    outputs = job.action_outputs
    assert outputs["exit-code"] == "1"
    assert outputs["results"] == "out/report/results.json"
    results = json.loads((workspace / outputs["results"]).read_text())
    assert results["run"]["adapter_spec"] == MUTANT
    assert results["run"]["sandboxed"] is False, "sandbox: false is --no-sandbox"
    assert results["cases"]
    assert all(SELECTION in case["id"] for case in results["cases"])
    assert {case["outcome"] for case in results["cases"]} == {"fail"}
    assert not results["gate"]["ok"]

    # The job summary is the run's summary.md, what to fix first included.
    assert job.summary == (workspace / outputs["summary"]).read_text()
    assert "# connect-conformance results" in job.summary
    assert "## What to fix first" in job.summary
    assert "`peer.expect_eof: saw nothing, expected EOF (FIN)`" in job.summary

    upload = job.step(UPLOAD)
    assert upload.ran, "the report is uploaded whatever the outcome"
    assert upload.inputs["path"] == "out/report"
    assert upload.inputs["name"] == "connect-conformance-report"
    assert {path.name for path in (workspace / upload.inputs["path"]).iterdir()} >= {
        "results.json",
        "junit.xml",
        "summary.md",
    }
    gate = job.step(GATE)
    assert gate.ran
    assert gate.code == 1
    assert "unexpected outcomes" in gate.stderr
    assert job.failed


def test_a_clean_run_passes_with_the_default_inputs(tmp_path: Path) -> None:
    job, workspace = _run_action(tmp_path, {"args": f"-k '{SELECTION} and not nothing'"})
    assert job.step(RUN).code == 0, job.step(RUN).stderr
    assert job.action_outputs["exit-code"] == "0"
    assert job.action_outputs["report-dir"] == "connect-conformance-report"
    results = json.loads((workspace / job.action_outputs["results"]).read_text())
    assert results["run"]["adapter_spec"] == "reference"
    assert results["cases"]
    assert {case["outcome"] for case in results["cases"]} == {"pass"}
    assert results["run"]["selection"]["keyword"] == f"{SELECTION} and not nothing", "quoted words stay one argument"
    assert "# connect-conformance results" in job.summary
    assert "What to fix first" not in job.summary
    assert job.step(UPLOAD).ran
    assert not job.step(GATE).ran
    assert not job.failed


def _install(tmp_path: Path, version: str) -> tuple[Job, list[str]]:
    """Only the install step, with a ``python`` on PATH that records its arguments instead of installing."""
    bin_dir, record = tmp_path / "bin", tmp_path / "argv"
    bin_dir.mkdir()
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    action = load(ACTION)
    others = {str(step.get("name") or step.get("uses")) for step in action["runs"]["steps"]} - {INSTALL}
    env = {**_environment(tmp_path), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    job = run_job(action, "", workspace, env, inputs={"suite-version": version}, skip=others)
    return job, record.read_text().splitlines() if record.exists() else []


@pytest.mark.parametrize(
    ("version", "requirement"),
    [
        ("0.1.0", "connect-conformance==0.1.0"),
        ("1.2.0rc1", "connect-conformance==1.2.0rc1"),
        (
            "git+https://example.invalid/connect-conformance@0123abc",
            "git+https://example.invalid/connect-conformance@0123abc",
        ),
        ("", str(REPO)),
    ],
    ids=["release", "pre-release", "git-ref", "the-action-itself"],
)
def test_the_install_step_pins_the_suite(tmp_path: Path, version: str, requirement: str) -> None:
    job, argv = _install(tmp_path, version)
    assert job.step(INSTALL).code == 0, job.step(INSTALL).stderr
    assert argv == ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement]


@pytest.mark.parametrize("version", ["latest", ">=0.1", "connect-conformance"])
def test_the_install_step_refuses_an_unpinned_suite(tmp_path: Path, version: str) -> None:
    job, argv = _install(tmp_path, version)
    step = job.step(INSTALL)
    assert step.code == 2
    assert "suite-version: expected a release such as 0.1.0" in step.stderr
    assert argv == [], "nothing was installed"
