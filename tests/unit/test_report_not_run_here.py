"""A case not run here is counted apart, with its reason, and is in no score (issue 19).

A skip with ``skipped_by: environment`` (the run lacked the network sandbox)
says nothing about the implementation; a skip with ``skipped_by: adapter`` (a
capability it lacks) is a real gap. Tables, the matrix, the badges' scores,
the HTML report and ``report compare`` keep them apart; results files made
before ``skipped_by`` existed are read by their message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.core.outcomes import CaseResult, Outcome, SkipCause
from conformance.report import compare, html, matrix, model, summary
from conformance.report.model import RunReport
from tests.helpers import run_report, save_report

SANDBOX = "needs the network sandbox: run with --sandbox (docs/sandbox.md); nothing was dialled"
LACKS = "the adapter lacks capability: ipv6"


def _run(passed: int = 84, away: int = 16, lacking: int = 0) -> list[CaseResult]:
    """A run that passes everything it ran: ``away`` cases not run here, ``lacking`` skipped for a capability."""
    done = [CaseResult(id=f"area.pass-{n}", outcome=Outcome.PASS, level="must") for n in range(passed)]
    done += [
        CaseResult(
            id=f"policy.away-{n}",
            outcome=Outcome.SKIP,
            level="must",
            message=SANDBOX,
            skipped_by=SkipCause.ENVIRONMENT,
        )
        for n in range(away)
    ]
    done += [
        CaseResult(id=f"area.ipv6-{n}", outcome=Outcome.SKIP, level="must", message=LACKS, skipped_by=SkipCause.ADAPTER)
        for n in range(lacking)
    ]
    return done


def _document(done: list[CaseResult]) -> RunReport:
    adapter = {"name": "reference", "version": "0.1.0", "runtime": "CPython"}
    return run_report(done, adapter=adapter, started="2026-12-01T10:00:00+00:00", duration_s=1.0)


def test_the_console_table_counts_not_run_here_apart_with_the_reason() -> None:
    table = summary.text_table(_run(passed=3, away=2, lacking=1)).splitlines()
    assert table[0].split("  ")[-1].strip() == "not run here"
    total = next(line for line in table if line.startswith("total")).split()
    # area, cases, pass, fail, error, timeout, skip (the real gap), not run here
    assert total == ["total", "6", "3", "0", "0", "0", "1", "2"]
    assert table[-1] == (
        "not run here: 2 cases need the network sandbox: run with --sandbox (docs/sandbox.md); nothing was dialled"
    )


def test_one_case_not_run_here_reads_in_the_singular() -> None:
    assert (
        summary.text_table(_run(passed=1, away=1))
        .splitlines()[-1]
        .startswith("not run here: 1 case needs the network sandbox")
    )


def test_without_such_cases_the_table_has_no_such_column() -> None:
    assert "not run here" not in summary.text_table(_run(away=0, lacking=1))


def test_summary_md_lists_them_apart_from_the_cases_that_did_not_pass() -> None:
    text = summary.markdown("t", _run(passed=2, away=2, lacking=1))
    assert "| area | cases | pass | fail | error | timeout | skip | not run here |" in text
    assert "| total | 5 | 2 | 0 | 0 | 0 | 1 | 2 |" in text
    away = text.split("## Not run here")[1].split("## Not passing")[0]
    assert "- 2 cases need the network sandbox: run with --sandbox (docs/sandbox.md); nothing was dialled: " in away
    assert "`policy.away-0`, `policy.away-1`" in away
    not_passing = text.split("## Not passing")[1]
    assert "`area.ipv6-0`" in not_passing, "a capability the implementation lacks is a gap"
    assert "policy.away" not in not_passing


def test_an_expected_outcome_does_not_make_a_case_not_run_here_an_xfail() -> None:
    done = _run(passed=1, away=1)
    table = summary.text_table(done, expected={"policy.away-0"}).splitlines()
    assert table[0].split() == [
        "area",
        "cases",
        "pass",
        "fail",
        "error",
        "timeout",
        "skip",
        "xfail",
        "not",
        "run",
        "here",
    ]
    assert next(line for line in table if line.startswith("total")).split() == [
        "total", "2", "1", "0", "0", "0", "0", "0", "1",
    ]  # fmt: skip


def test_the_matrix_scores_what_ran_and_counts_the_rest_apart(tmp_path: Path) -> None:
    path = save_report(tmp_path / "reference", _document(_run(passed=84, away=16)))
    impl = matrix.Implementation.load("reference", path)
    assert impl.score("must") == (84, 84), "it passes everything it ran: 100 %, not 84 %"
    page = matrix.markdown([impl], "publish")
    assert "| reference | 0.1.0 | CPython | `abcdef12` | 2026-12-01 | 100% (84/84) | – | – | 16 |" in page
    assert "16 cases need the network sandbox" in page
    assert "| `policy.away-0` | must | ⬜ |" in page


def test_a_capability_the_implementation_lacks_stays_a_gap(tmp_path: Path) -> None:
    path = save_report(tmp_path / "impl", _document(_run(passed=9, away=0, lacking=1)))
    assert matrix.Implementation.load("impl", path).score("must") == (9, 10)
    (data,) = html.report_data([("impl", _document(_run(passed=9, away=0, lacking=1)))])["implementations"]
    assert data["scores"]["must"] == [9, 10]


def test_the_html_scores_leave_them_out_and_say_why() -> None:
    data = html.report_data([("reference", _document(_run(passed=84, away=16)))])
    (impl,) = data["implementations"]
    assert impl["scores"]["must"] == [84, 84]
    assert impl["scores"]["text"]["must"] == "100%"
    assert impl["scores"]["per_case_text"] == "100.0%"
    assert impl["scores"]["not_run_here"] == 16
    assert impl["not_run_here"] == [
        "16 cases need the network sandbox: run with --sandbox (docs/sandbox.md); nothing was dialled"
    ]
    cells = {row["id"]: row["results"][0] for row in data["cases"]}
    assert cells["policy.away-0"]["not_run_here"] is True
    assert cells["policy.away-0"]["outcome"] == "skip"
    assert cells["area.pass-0"]["not_run_here"] is False


def test_files_made_before_skipped_by_are_read_by_their_message(tmp_path: Path) -> None:
    document: Any = _document(_run(passed=8, away=2, lacking=1)).as_dict()
    for case in document["cases"]:
        case.pop("skipped_by", None)
    path = save_report(tmp_path / "old", document)
    impl = matrix.Implementation.load("old", path)
    assert set(impl.not_run_here) == {"policy.away-0", "policy.away-1"}
    assert impl.score("must") == (8, 9), "an old skip for a capability is still a gap"
    (data,) = html.report_data([("old", model.load(path))])["implementations"]
    assert data["scores"]["must"] == [8, 9]


def test_compare_does_not_call_a_case_not_run_here_a_regression(tmp_path: Path) -> None:
    ran = _document(_run(passed=3, away=0))
    away = _document(
        [
            *_run(passed=2, away=0),
            CaseResult(
                id="area.pass-2", outcome=Outcome.SKIP, level="must", message=SANDBOX, skipped_by=SkipCause.ENVIRONMENT
            ),
        ]
    )
    comparison = compare.compare_files(save_report(tmp_path / "old", ran), save_report(tmp_path / "new", away))
    assert comparison.regressions == []
    assert [change.id for change in comparison.not_run_here] == ["area.pass-2"]
    text = compare.markdown(comparison)
    assert text.splitlines()[2].startswith("No regression.")
    assert "| `area.pass-2` | must | pass | skip (not run here) |" in text
    back = compare.compare_files(save_report(tmp_path / "old2", away), save_report(tmp_path / "new2", ran))
    assert back.fixes == [], "a case that ran again was not fixed"
