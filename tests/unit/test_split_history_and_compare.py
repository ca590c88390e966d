"""A history split over jobs (``history --shard``, ``--merge``), and ``report compare`` across spec revisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cases.shards import Shard, pick
from conformance.core.outcomes import CaseResult, Outcome
from conformance.errors import UsageError
from conformance.report import compare, timeline
from conformance.versions import history
from tests.helpers import run_report, save_report

VERSIONS = ["1.20230512.0", "1.20240223.1", "1.20250101.1", "1.20261117.1"]
#: The outcome of the one case that changes, per version.
CHANGING = {"1.20230512.0": "fail", "1.20240223.1": "fail", "1.20250101.1": "pass", "1.20261117.1": "pass"}


def _job(out: Path, shard: Shard) -> list[str]:
    """What a job of ``history --shard`` leaves in its --out folder: its versions and its history.json."""
    mine, _ = pick(VERSIONS, VERSIONS, shard)
    folder = out / "workerd"
    for version in mine:
        cases = [
            CaseResult("starttls.untrusted", Outcome(CHANGING[version]), "must"),
            CaseResult("streams.echo", Outcome.PASS, "must"),
        ]
        adapter = {"name": "workerd", "version": version, "runtime": "workerd"}
        save_report(folder / version, run_report(cases, adapter=adapter))
    command = f"connect-conformance history --adapter workerd --versions {','.join(VERSIONS)} --shard {shard}"
    manifest = {
        "family": "workerd",
        "commands": [command],
        "versions": [{"version": version, "status": "ran"} for version in mine],
    }
    (folder / timeline.MANIFEST).write_text(json.dumps(manifest))
    return mine


def test_the_jobs_of_a_split_history_merge_into_one_timeline(tmp_path: Path) -> None:
    jobs = [tmp_path / f"job{index}" for index in (1, 2)]
    parts = [_job(job, Shard(index, 2)) for index, job in enumerate(jobs, 1)]
    assert sorted(parts[0] + parts[1]) == sorted(VERSIONS)
    assert parts[0]
    assert parts[1]
    out = tmp_path / "history"
    # A job's --out folder, or its <family>/ folder: both are taken.
    assert history.merge_history("workerd", [jobs[0], jobs[1] / "workerd"], out) == 0
    line = timeline.load(out / "workerd")
    assert line.versions == VERSIONS
    assert [(c.case, c.before, c.after, c.version) for c in line.changes()] == [
        ("starttls.untrusted", "fail", "pass", "1.20250101.1")
    ]
    assert [item["version"] for item in json.loads((out / "workerd" / timeline.MANIFEST).read_text())["versions"]] == (
        VERSIONS
    )
    assert len(line.commands) == 2
    assert all("--shard" in command for command in line.commands)
    assert "### 1.20250101.1 (from 1.20240223.1)" in (out / "workerd" / "README.md").read_text()
    assert (out / "workerd" / "index.html").is_file()


def test_overlapping_jobs_are_refused(tmp_path: Path) -> None:
    _job(tmp_path / "job1", Shard(1, 2))
    _job(tmp_path / "again", Shard(1, 2))
    with pytest.raises(UsageError, match=r"is in both .*: the jobs' versions overlap"):
        history.merge_history("workerd", [tmp_path / "job1", tmp_path / "again"], tmp_path / "out")
    with pytest.raises(UsageError, match="no such folder"):
        history.merge_history("workerd", [tmp_path / "nothing"], tmp_path / "out")


def test_compare_warns_about_different_spec_revisions_and_names_the_added_and_removed_cases(tmp_path: Path) -> None:
    old = run_report([CaseResult("a.kept", Outcome.PASS, "must"), CaseResult("a.gone", Outcome.PASS, "must")])
    new = run_report(
        [CaseResult("a.kept", Outcome.PASS, "must"), CaseResult("a.new", Outcome.FAIL, "must")],
        spec_revision="fedcba98",
    )
    comparison = compare.compare_files(save_report(tmp_path / "old", old), save_report(tmp_path / "new", new))
    text = compare.markdown(comparison)
    assert (
        "**Warning: the runs used different spec revisions** (`abcdef12` → `fedcba98`): 1 case added and 1 removed"
        in text
    )
    assert "### New cases" in text
    assert "`a.new`" in text
    assert "### Removed cases" in text
    assert "`a.gone`" in text
    assert comparison.as_dict()["spec_revisions"] == {"old": "abcdef12", "new": "fedcba98"}
    same = compare.markdown(compare.compare_files(tmp_path / "old" / "results.json", tmp_path / "old" / "results.json"))
    assert "Warning" not in same
    assert "No difference: the same 2 cases, each with the same outcome." in same


def test_more_history_jobs_than_versions_is_a_usage_error_in_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history.npm_versions, "published", lambda package: None)
    monkeypatch.setattr(history.npm_versions, "select", lambda published, spec, every: VERSIONS[:2])
    options = history.HistoryOptions(family="workerd", versions="whatever", shard=Shard(3, 3))
    with pytest.raises(UsageError, match=r"^--shard 3/3: only 2 versions chosen; split them into 2 jobs at most$"):
        history.run_history(options)
