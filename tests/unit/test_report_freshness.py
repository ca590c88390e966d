"""Every published page says which spec revision each run used and the day it was made on, and marks
a run of another revision than the spec's current one as stale (issue 19)."""

from __future__ import annotations

from pathlib import Path

from conformance.cases import loader
from conformance.core.outcomes import CaseResult, Outcome
from conformance.report import html, matrix, results, timeline
from conformance.report.model import RunReport
from tests.helpers import REPO, run_report, save_report

CURRENT = "0123456789abcdef"


def _document(revision: str, started: str, outcome: Outcome = Outcome.PASS) -> RunReport:
    adapter = {"name": "impl", "version": "2.0", "runtime": "rt"}
    cases = [CaseResult(id="area.one", outcome=outcome, level="must")]
    return run_report(cases, adapter=adapter, adapter_spec="impl", started=started, spec_revision=revision)


def _load(tmp_path: Path, name: str, revision: str, started: str) -> matrix.Implementation:
    return matrix.Implementation.load(name, save_report(tmp_path / name, _document(revision, started)))


def test_the_matrix_says_each_runs_revision_and_day_and_marks_a_stale_one(tmp_path: Path) -> None:
    fresh = _load(tmp_path, "fresh", CURRENT, "2026-12-02T08:00:00+00:00")
    old = _load(tmp_path, "old", "fedcba9876543210", "2026-11-30T21:55:18+00:00")
    page = matrix.markdown([fresh, old], "publish", current_revision=CURRENT)
    assert "| implementation | version | runtime | spec revision | run on | must | should | info |" in page
    assert f"| fresh | 2.0 | rt | `{CURRENT}` | 2026-12-02 | 100% (1/1) |" in page
    assert "| old | 2.0 | rt | `fedcba9876543210` (stale) | 2026-11-30 | 100% (1/1) |" in page
    assert f"**Stale**: old ran another spec revision than the current `{CURRENT}`" in page
    assert f"The spec's current revision is `{CURRENT}`" in page


def test_a_matrix_of_fresh_runs_has_no_stale_mark(tmp_path: Path) -> None:
    page = matrix.markdown([_load(tmp_path, "fresh", CURRENT, "2026-12-02T08:00:00+00:00")], "p", (), CURRENT)
    assert "stale" not in page.lower()


def test_the_html_data_marks_a_stale_run() -> None:
    data = html.report_data(
        [("fresh", _document(CURRENT, "2026-12-02T08:00:00")), ("old", _document("fedcba98", "2026-11-30T00:00:00"))],
        current_revision=CURRENT,
    )
    assert data["current_spec_revision"] == CURRENT
    assert [impl["stale"] for impl in data["implementations"]] == [False, True]
    assert [impl["run"]["started"][:10] for impl in data["implementations"]] == ["2026-12-02", "2026-11-30"]
    assert [impl["stale"] for impl in html.report_data([("x", _document("fedcba98", ""))])["implementations"]] == [
        False
    ], "without the current revision nothing is called stale"


def test_a_timelines_findings_say_its_revision_and_days(tmp_path: Path) -> None:
    folder = tmp_path / "toy"
    for version, outcome, started in (
        ("1.0.0", Outcome.PASS, "2026-12-01T05:00:00+00:00"),
        ("1.1.0", Outcome.FAIL, "2026-12-02T05:00:00+00:00"),
    ):
        save_report(folder / version, _document("fedcba98", started, outcome))
    line = timeline.load(folder)
    lines = timeline.findings(line, "history/toy/README.md", CURRENT)
    assert lines[0] == "### toy ([timeline](history/toy/README.md), 2 versions)"
    assert lines[2] == (
        f"Runs of spec revision `fedcba98`, run on 2026-12-01 to 2026-12-02 "
        f"(stale: the spec's current revision is `{CURRENT}`)."
    )
    view = timeline.html_data(line, "history/toy/index.html")
    assert (view["spec_revisions"], view["run_dates"]) == (["fedcba98"], ["2026-12-01", "2026-12-02"])


def test_the_current_revision_is_the_one_a_run_of_the_whole_spec_records(tmp_path: Path) -> None:
    spec = tmp_path / "spec"
    sources = [REPO / "spec" / "behaviours.yaml", *sorted((REPO / "spec" / "lifecycle").glob("*.yaml"))[:2]]
    (spec / "lifecycle").mkdir(parents=True)
    for source in sources:
        target = spec / source.relative_to(REPO / "spec")
        target.write_bytes(source.read_bytes())
    cases = loader.load_strict([spec])
    assert cases
    assert results.current_spec_revision(spec) == results.spec_revision([case.file for case in cases])
