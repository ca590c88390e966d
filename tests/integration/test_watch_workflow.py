"""The daily watch workflow (.github/workflows/watch.yml), its steps run here with GitHub's environment."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters import npm_versions
from conformance.report import results
from conformance.versions.watch import pinned_version
from tests.github_steps import load, run_job
from tests.helpers import REPO

WORKFLOW = REPO / ".github" / "workflows" / "watch.yml"
STEADY = "options.high-water-mark-bounds-accepted[zero]"
BROKEN = "lifecycle.close-resolves-and-settles-closed"


def _record(workspace: Path, cache: Path, later: list[str], broken_in: str | None) -> None:
    """A version list with the real pin and ``later`` releases (one withdrawn), and every version's results."""
    pin = pinned_version("workerd")
    listed = cache / "npm" / "registry" / "workerd.json"
    listed.parent.mkdir(parents=True)
    times = {v: "2026-12-01T00:00:00Z" for v in [pin, *later, "1.20991231.1"]}
    listed.write_text(
        json.dumps(
            {"package": "workerd", "fetched": "2026-12-07T00:00:00+00:00", "versions": [pin, *later], "time": times}
        )
    )
    revision = results.current_spec_revision()
    for version in [pin, *later]:
        outcome = (
            "fail" if broken_in and npm_versions.semver_key(version) >= npm_versions.semver_key(broken_in) else "pass"
        )
        cases: list[dict[str, Any]] = [
            {"id": STEADY, "outcome": "pass", "level": "should", "source": ["B15"], "message": ""},
            {"id": BROKEN, "outcome": outcome, "level": "must", "source": ["B36"], "message": "step 3: <b>no</b>"},
        ]
        folder = workspace / "reports" / "history" / "workerd" / version
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps({"run": {"spec_revision": revision}, "cases": cases}))


@pytest.mark.parametrize("broken", [True, False], ids=["a-release-breaks-a-case", "nothing-changed"])
def test_the_watch_job_writes_the_triage_to_the_summary_and_fails_only_on_an_untriaged_change(
    tmp_path: Path, broken: bool
) -> None:
    workspace, cache = tmp_path / "workspace", tmp_path / "cache"
    later = ["1.20990101.1", "1.20990102.1"]
    _record(workspace, cache, later, later[-1] if broken else None)
    workflow = load(WORKFLOW)
    assert workflow["on"]["schedule"], "it runs daily"
    job = run_job(
        workflow,
        "watch",
        workspace,
        {"CONNECT_CONFORMANCE_CACHE": str(cache), "WATCH_ADAPTERS": "workerd", "HOME": str(tmp_path)},
        # The package under test is installed already; the servers and drivers are not what this checks.
        skip={"Install connect-conformance", "Install the drivers area's servers and client libraries"},
    )
    watched = job.step("Watch the releases after each pin")
    assert watched.code == 0, watched.stderr
    assert job.outputs["watch"]["code"] == ("1" if broken else "0")
    assert "## connect-conformance watch: workerd" in job.summary
    assert "Withdrawn" in job.summary
    assert "`1.20991231.1`" in job.summary
    upload = job.step("actions/upload-artifact@v4")
    assert upload.ran
    assert (workspace / upload.inputs["path"] / "workerd" / "triage.json").is_file()
    last = job.step("Fail when a change is not triaged yet")
    if broken:
        assert f"`{BROKEN}`" in job.summary
        assert "report to the runtime" in job.summary
        outside_code = re.sub(r"^```.*?^```$", "", job.summary, flags=re.S | re.M)
        assert "<b>" not in outside_code, "text from the runtime is escaped in the summary (code blocks show it as is)"
        assert "&lt;b&gt;no&lt;/b&gt;" in outside_code
        assert last.ran
        assert last.code == 1
        assert job.failed
    else:
        assert "No case changed outcome" in job.summary
        assert not last.ran
        assert not job.failed
