"""Timelines (conformance/report/timeline.py), the bisection (conformance/versions/bisect.py) and history's sizing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.core.outcomes import CaseResult, Outcome
from conformance.errors import InfrastructureError
from conformance.report import html, matrix, timeline
from conformance.report.model import RunReport
from conformance.versions import bisect, history
from tests.helpers import run_report, save_report

OUTCOMES = {
    # case -> outcome per version 1.20230512.0, 1.20240223.1, 1.20261117.1
    "starttls.untrusted": ["fail", "fail", "pass"],
    "starttls.ipv6-literal": ["fail", "pass", "fail"],
    "errors.crash": ["error", "fail", "fail"],
    "streams.echo": ["pass", "pass", "pass"],
}
VERSIONS = ["1.20230512.0", "1.20240223.1", "1.20261117.1"]


def results(version: str, column: int) -> RunReport:
    cases = [
        CaseResult(id=case, outcome=Outcome(outcomes[column]), level="must", title=case)
        for case, outcomes in OUTCOMES.items()
    ]
    adapter = {"name": "workerd", "version": version, "runtime": f"workerd {version[2:6]}"}
    return run_report(cases, adapter=adapter, started="2026-11-30T00:00:00+00:00", duration_s=1.0)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "workerd"
    for column, version in enumerate(VERSIONS):
        (root / version).mkdir(parents=True)
        save_report(root / version, results(version, column))
    (root / timeline.MANIFEST).write_text(
        json.dumps(
            {
                "family": "workerd",
                "commands": ["connect-conformance history --adapter workerd --versions 1.20230512.0..latest"],
                "versions": [
                    {"version": "1.20230404.0", "status": "cannot run", "reason": "it lacks cloudflare:sockets"},
                    *({"version": v, "status": "ran"} for v in VERSIONS),
                ],
            }
        )
    )
    (root / "notes").mkdir()  # not a version: ignored
    return root


def test_load_orders_versions_and_finds_every_change(folder: Path) -> None:
    line = timeline.load(folder)
    assert line.versions == VERSIONS
    assert line.unusable == {"1.20230404.0": "it lacks cloudflare:sockets"}
    found = [(c.case, c.before, c.after, c.previous, c.version) for c in line.changes()]
    assert found == [
        ("errors.crash", "error", "fail", "1.20230512.0", "1.20240223.1"),
        ("starttls.ipv6-literal", "fail", "pass", "1.20230512.0", "1.20240223.1"),
        ("starttls.ipv6-literal", "pass", "fail", "1.20240223.1", "1.20261117.1"),
        ("starttls.untrusted", "fail", "pass", "1.20240223.1", "1.20261117.1"),
    ]
    assert line.changed_cases() == ["errors.crash", "starttls.ipv6-literal", "starttls.untrusted"]


def test_a_bisect_record_inside_an_interval_names_the_exact_first_version(folder: Path) -> None:
    records = [
        {"case": "starttls.ipv6-literal", "last_old": "1.20261013.1", "first_new": "1.20261014.1"},
        # Outside every interval of its case: ignored.
        {"case": "starttls.untrusted", "last_old": "1.20230101.0", "first_new": "1.20230102.0"},
    ]
    (folder / timeline.BISECTS).write_text(json.dumps({"bisects": records}))
    changes = {(c.case, c.version): c for c in timeline.load(folder).changes()}
    exact = changes[("starttls.ipv6-literal", "1.20261117.1")]
    assert (exact.first, exact.last_old) == ("1.20261014.1", "1.20261013.1")
    assert changes[("starttls.ipv6-literal", "1.20240223.1")].first is None
    assert changes[("starttls.untrusted", "1.20261117.1")].first is None


def test_markdown_has_versions_changes_and_every_case(folder: Path) -> None:
    text = timeline.markdown(timeline.load(folder))
    assert "Regenerate with `connect-conformance history --adapter workerd --versions 1.20230512.0..latest`." in text
    assert "| 1.20230404.0 | cannot run | it lacks cloudflare:sockets | |" in text
    assert "### 1.20261117.1 (from 1.20240223.1)" in text
    assert "- `starttls.untrusted`: ❌ fail → ✅ pass" in text
    assert "| `starttls.ipv6-literal` | must | ❌ | ✅ | ❌ |" in text
    assert "- ✅ pass (1): `streams.echo`" in text
    assert "compatibility date" in text


def test_findings_say_which_behaviour_conforms(folder: Path) -> None:
    (folder / timeline.BISECTS).write_text(
        json.dumps(
            {"bisects": [{"case": "starttls.ipv6-literal", "last_old": "1.20261013.1", "first_new": "1.20261014.1"}]}
        )
    )
    lines = timeline.findings(timeline.load(folder), "history/workerd/README.md")
    assert lines[0] == "### workerd ([timeline](history/workerd/README.md), 3 versions)"
    body = [line for line in lines if line.startswith("- ")]
    assert len(body) == 4
    assert (
        "- `starttls.ipv6-literal`: first in 1.20261014.1 (1.20261013.1 has the old behaviour): pass → fail; "
        "the old behaviour conforms (a regression)" in body
    )
    assert (
        "- `starttls.untrusted`: first seen in 1.20261117.1 (1.20240223.1 has the old behaviour; not bisected): "
        "fail → pass; the new behaviour conforms" in body
    )
    assert any(line.endswith("error → fail; neither conforms") for line in body)
    page = matrix.markdown([], "connect-conformance report publish --run", lines)
    assert "## Behaviour changes across versions" in page
    assert body[0] in page


def test_the_html_data_of_a_timeline(folder: Path) -> None:
    data = timeline.html_data(timeline.load(folder), "history/workerd/index.html")
    assert data["page"] == "history/workerd/index.html"
    assert [v["version"] for v in data["versions"]] == VERSIONS
    assert [len(v["changes"]) for v in data["versions"]] == [0, 2, 2]
    assert data["unusable"] == [{"version": "1.20230404.0", "reason": "it lacks cloudflare:sockets"}]
    page = html.report_data([("1.20230512.0", results("1.20230512.0", 0))], history=[data])
    assert page["history"][0]["family"] == "workerd"


# -- the bisection ------------------------------------------------------------------------------

RELEASES = [f"1.{20260100 + day}.0" for day in range(1, 21)]


def result(case: str, outcome: str) -> CaseResult:
    return CaseResult(id=case, outcome=Outcome(outcome), level="must")


def test_cases_that_changed_together_share_their_probes() -> None:
    first_pass = {"a": RELEASES[7], "b": RELEASES[7], "c": RELEASES[15]}
    probes: list[tuple[str, list[str]]] = []

    def probe(version: str, cases: list[str]) -> dict[str, CaseResult]:
        probes.append((version, cases))
        return {
            c: result(c, "pass" if RELEASES.index(version) >= RELEASES.index(first_pass[c]) else "fail") for c in cases
        }

    search = bisect.Search(versions=list(RELEASES), old={"a": "fail", "b": "fail", "c": "fail"})
    found = bisect.bisect(search, probe)
    assert found == {case: (RELEASES[RELEASES.index(v) - 1], v) for case, v in first_pass.items()}
    assert len(probes) <= 8  # about log2(20) per distinct boundary, shared by a and b
    assert all(("a" in cases) == ("b" in cases) for _, cases in probes)


def test_a_version_that_cannot_run_is_left_out() -> None:
    broken = {RELEASES[9], RELEASES[10]}

    def probe(version: str, cases: list[str]) -> dict[str, CaseResult]:
        if version in broken:
            raise InfrastructureError("cannot start")
        return {c: result(c, "pass" if version >= RELEASES[12] else "fail") for c in cases}

    search = bisect.Search(versions=list(RELEASES), old={"x": "fail"})
    assert bisect.bisect(search, probe) == {"x": (RELEASES[11], RELEASES[12])}
    assert set(search.unusable) <= broken
    assert not set(search.versions) & set(search.unusable)


def test_a_third_outcome_counts_as_the_change() -> None:
    def probe(version: str, cases: list[str]) -> dict[str, CaseResult]:
        index = RELEASES.index(version)
        return {c: result(c, "fail" if index < 5 else "timeout" if index < 12 else "pass") for c in cases}

    search = bisect.Search(versions=list(RELEASES), old={"x": "fail"})
    assert bisect.bisect(search, probe) == {"x": (RELEASES[4], RELEASES[5])}


# -- history's sizing ------------------------------------------------------------------------------


def test_versions_at_once_follow_memory() -> None:
    assert history.auto_jobs(lanes=8, lane_mb=75, versions=15, memory_mb=20000) == history.MAX_JOBS
    assert history.auto_jobs(lanes=8, lane_mb=75, versions=15, memory_mb=1500) == 1  # 750 MB: one version of 600
    assert history.auto_jobs(lanes=8, lane_mb=75, versions=15, memory_mb=2500) == 2
    assert history.auto_jobs(lanes=8, lane_mb=75, versions=1, memory_mb=20000) == 1
    assert history.auto_jobs(lanes=8, lane_mb=75, versions=15, memory_mb=None) == history.MAX_JOBS
    assert history.auto_jobs(lanes=64, lane_mb=150, versions=3, memory_mb=100) == 1


def test_the_command_that_regenerates_a_history() -> None:
    options = history.HistoryOptions(
        family="workerd", versions="1.20230512.0..latest", every="3mo", keyword="tls and not ipv6", tags=["starttls"]
    )
    assert history.command_line(options) == (
        "connect-conformance history --adapter workerd --versions 1.20230512.0..latest --every 3mo "
        "-k 'tls and not ipv6' --tag starttls"
    )
