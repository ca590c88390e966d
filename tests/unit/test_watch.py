"""``watch`` from a recorded version list and recorded results: no registry, no runtime, no run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters import npm_versions
from conformance.errors import InfrastructureError
from conformance.exitcodes import ExitCode
from conformance.report import results
from conformance.versions import watch

PIN = "1.20261117.1"
RELEASES = ["1.20261119.1", "1.20261121.1", "1.20261123.1"]
WITHDRAWN = "1.20261129.1"
#: A case the releases fixed (listed in expectations/workerd.yaml up to the pin), one they broke, one left alone.
FIXED = "options.high-water-mark-out-of-range-throws[two-to-the-64]"
BROKEN = "lifecycle.close-resolves-and-settles-closed"
STEADY = "options.high-water-mark-bounds-accepted[zero]"
OUTCOMES = {
    PIN: {FIXED: "fail", BROKEN: "pass", STEADY: "pass"},
    "1.20261119.1": {FIXED: "pass", BROKEN: "pass", STEADY: "pass"},
    "1.20261121.1": {FIXED: "pass", BROKEN: "pass", STEADY: "pass"},  # changes nothing
    "1.20261123.1": {FIXED: "pass", BROKEN: "fail", STEADY: "pass"},
}


def _case(case_id: str, outcome: str, level: str = "should") -> dict[str, Any]:
    message = "" if outcome == "pass" else f"step 2 (await, line 9): expected it to resolve, but it {case_id} broke"
    return {
        "id": case_id,
        "outcome": outcome,
        "level": "must" if case_id == BROKEN else level,
        "source": ["B36"] if case_id == BROKEN else ["B15"],
        "location": "spec/x.yaml:1",
        "message": message,
        "transcript": [],
    }


@pytest.fixture
def recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    listed = npm_versions.cache_file("workerd")
    listed.parent.mkdir(parents=True)
    versions = ["1.20260426.1", PIN, *RELEASES]
    listed.write_text(
        json.dumps(
            {
                "package": "workerd",
                "fetched": "2026-12-07T00:00:00+00:00",
                "versions": versions,
                "time": {**{v: "2026-11-20T00:00:00Z" for v in versions}, WITHDRAWN: "2026-11-29T01:22:45Z"},
                "dist-tags": {"latest": RELEASES[-1]},
            }
        )
    )

    def no_registry(package: str) -> dict[str, Any]:
        raise InfrastructureError("the test has no registry")

    monkeypatch.setattr(npm_versions, "_ask_npm", no_registry)
    monkeypatch.setattr(watch, "pinned_version", lambda family: PIN)

    def no_runs(*args: object, **kwargs: object) -> object:
        raise AssertionError("every result is recorded: nothing may run")

    monkeypatch.setattr(watch, "run_version", no_runs)
    revision = results.current_spec_revision()
    for version, outcomes in OUTCOMES.items():
        folder = tmp_path / "history" / "workerd" / version
        folder.mkdir(parents=True)
        document = {"run": {"spec_revision": revision}, "cases": [_case(c, o) for c, o in outcomes.items()]}
        (folder / "results.json").write_text(json.dumps(document))
    return tmp_path


def test_watch_lists_bisects_and_triages_every_change_from_recorded_results(recorded: Path) -> None:
    options = watch.WatchOptions(families=["workerd"], out=recorded / "watch", history=recorded / "history")
    code = watch.run_watch(options)
    assert code == ExitCode.UNEXPECTED, "the broken must case is not in the expectations file"
    triage = json.loads((recorded / "watch" / "workerd" / "triage.json").read_text())
    assert triage["pin"] == PIN
    assert triage["releases"] == RELEASES
    assert triage["newest"] == RELEASES[-1]
    assert triage["withdrawn"] == [WITHDRAWN]
    assert triage["per_release"] == {"1.20261119.1": [FIXED], "1.20261121.1": [], "1.20261123.1": [BROKEN]}
    assert set(triage["runs"].values()) == {"reused"}
    changes = {change["case"]: change for change in triage["changes"]}
    assert set(changes) == {FIXED, BROKEN}, "the steady case did not change"
    fixed, broken = changes[FIXED], changes[BROKEN]
    assert (fixed["last_old"], fixed["first_new"]) == (PIN, "1.20261119.1")
    assert fixed["gate_on_newest"] == "ok"
    assert fixed["action"].startswith("none: the expectations file already says so")
    assert (broken["last_old"], broken["first_new"]) == ("1.20261121.1", "1.20261123.1")
    assert broken["gate_on_newest"] == "unexpected"
    assert broken["action"].startswith("report to the runtime")
    assert "workerd 1.20261123.1 changed how connect() behaves" in broken["proposal"]
    assert f"  {BROKEN}:\n    outcome: fail\n    versions: 1.20261123.1..\n" in broken["proposal"]
    bisects = json.loads((recorded / "history" / "workerd" / "bisect.json").read_text())["bisects"]
    assert {(b["case"], b["first_new"]) for b in bisects} == {(FIXED, "1.20261119.1"), (BROKEN, "1.20261123.1")}
    page = (recorded / "watch" / "workerd" / "triage.md").read_text()
    assert "Withdrawn" in page
    assert "`1.20261121.1`: changes nothing" in page
    assert f"| `{BROKEN}` | must | B36 | pass (up to `1.20261121.1`) | fail | `1.20261123.1` | unexpected |" in page


def test_a_pin_with_no_release_after_it_has_nothing_to_triage(recorded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "pinned_version", lambda family: RELEASES[-1])
    options = watch.WatchOptions(families=["workerd"], out=recorded / "watch", history=recorded / "history")
    assert watch.run_watch(options) == ExitCode.OK
    triage = json.loads((recorded / "watch" / "workerd" / "triage.json").read_text())
    assert triage["releases"] == []
    assert triage["withdrawn"] == [WITHDRAWN]
    assert "No release after the pin" in (recorded / "watch" / "workerd" / "triage.md").read_text()


def test_results_made_with_another_spec_are_not_reused(recorded: Path) -> None:
    stale = recorded / "history" / "workerd" / RELEASES[-1] / "results.json"
    document = json.loads(stale.read_text())
    document["run"]["spec_revision"] = "0000000000000000"
    stale.write_text(json.dumps(document))
    options = watch.WatchOptions(families=["workerd"], out=recorded / "watch", history=recorded / "history")
    with pytest.raises(AssertionError, match="nothing may run"):
        watch.run_watch(options)


def test_moving_a_pin_rewrites_the_compatibility_date_and_the_names_of_the_pin() -> None:
    from conformance.versions import pin

    config = (
        '#: The date (the pinned workerd 1.20261117.1 supports up to it).\nCOMPATIBILITY_DATE = "2026-11-17"\nX = 1\n'
    )
    moved = pin.config_text(config, "1.20261117.1", "1.20261123.1")
    assert (
        moved
        == '#: The date (the pinned workerd 1.20261123.1 supports up to it).\nCOMPATIBILITY_DATE = "2026-11-23"\nX = 1\n'
    )
    known = "# Known non-pass outcomes of workerd 1.20261117.1.\ncases:\n  a.x: {reason: 'up to 1.20261117.1'}\n"
    assert pin.header_moved(known, "1.20261117.1", "1.20261123.1") == (
        "# Known non-pass outcomes of workerd 1.20261123.1.\ncases:\n  a.x: {reason: 'up to 1.20261117.1'}\n"
    ), "reasons keep naming the versions they are about"
