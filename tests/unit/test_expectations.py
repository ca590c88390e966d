"""Expectations files: dates, info cases (not gated), and the file --update-expectations writes."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from conformance.core.outcomes import CaseResult, Outcome, SkipCause
from conformance.errors import SpecError
from conformance.execution import expectations

TODAY = datetime.date(2026, 12, 7)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "expectations.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("value", ["2025-01-01T00:00:00", "2025-01-01 10:00:00", "2025-01-01T00:00:00Z"])
def test_a_date_time_in_until_is_a_spec_error_with_its_line(tmp_path: Path, value: str) -> None:
    path = write(
        tmp_path,
        f"cases:\n  a.x: {{outcome: fail, reason: r}}\n  a.y:\n    outcome: fail\n    reason: r\n    until: {value}\n",
    )
    with pytest.raises(SpecError) as raised:
        expectations.load(path)
    error = str(raised.value)
    assert f"{path}:6: " in error, "the line of the until field"
    assert "a.y.until" in error
    assert "expected a date like 2027-06-30, got 2025-01-01" in error


def test_values_in_expectation_errors_are_written_as_the_file_writes_them(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r'got "pass"$'):
        expectations.load(write(tmp_path, "cases:\n  a.x: {outcome: pass, reason: r}\n"))
    with pytest.raises(SpecError, match=r"got null$"):
        expectations.load(write(tmp_path, "cases:\n  a.x: {outcome: fail, reason: r, flaky: null}\n"))


def result(case_id: str, outcome: Outcome, level: str = "must", **extra: object) -> CaseResult:
    return CaseResult(id=case_id, outcome=outcome, level=level, **extra)  # type: ignore[arg-type]


def test_info_cases_are_recorded_not_gated() -> None:
    known = expectations.Expectations(
        cases={"a.info-listed": expectations.Expectation("fail", "r", until=datetime.date(2026, 1, 1))}
    )
    verdict = expectations.gate(
        [
            result("a.info-fails", Outcome.FAIL, "info"),
            result("a.info-listed", Outcome.PASS, "info"),
            result("a.info-passes", Outcome.PASS, "info"),
            result("a.should-fails", Outcome.FAIL, "should"),
        ],
        known,
        TODAY,
    )
    assert [r.id for r, _ in verdict.unexpected] == ["a.should-fails"]
    assert [(r.id, e) for r, e in verdict.ungated] == [("a.info-fails", "pass"), ("a.info-listed", "fail")]
    assert verdict.expired == [], "an expired entry of an info case warns, it does not fail the gate"
    only_info = expectations.gate([result("a.info-fails", Outcome.FAIL, "info")], None, TODAY)
    assert only_info.ok
    assert only_info.record().as_dict()["ungated"] == [{"id": "a.info-fails", "outcome": "fail", "expected": "pass"}]
    judged = expectations.judge(Outcome.FAIL, None, TODAY, "info")
    assert judged.verdict is expectations.Verdict.UNGATED
    assert judged.ok
    assert not expectations.judge(Outcome.FAIL, None, TODAY, "must").ok


def test_update_writes_no_entry_for_a_skip_and_drafts_reviewable_reasons() -> None:
    previous = expectations.Expectations(
        implementation=None,
        cases={
            "a.kept-on-skip": expectations.Expectation("fail", "our reason (B3)"),
            "a.known": expectations.Expectation("timeout", "why it times out (B9)"),
        },
    )
    results = [
        result("a.sandbox", Outcome.SKIP, skipped_by=SkipCause.ENVIRONMENT, message="needs the network sandbox"),
        result("a.gap", Outcome.SKIP, skipped_by=SkipCause.ADAPTER, message="the adapter lacks capability: tls"),
        result("a.kept-on-skip", Outcome.SKIP, message="needs the network sandbox"),
        result("a.known", Outcome.FAIL, message="step 2 (await, line 9): expected it to resolve"),
        result(
            "a.new",
            Outcome.FAIL,
            source=("B12", "B13"),
            message='step 3 (write, line 20): expected a rejection {name: "TypeError"}, got undefined\nmore',
        ),
        result("a.passes", Outcome.PASS),
        result("a.info-fails", Outcome.FAIL, "info", message="step 1 (read, line 3): expected it to resolve"),
    ]
    document = expectations.updated(results, previous, "workerd")
    cases = document["cases"]
    assert document["implementation"] == "workerd"
    assert set(cases) == {"a.kept-on-skip", "a.known", "a.new"}, (
        "a skip gets no entry, nor an info case (never gated); an old entry stays"
    )
    assert cases["a.kept-on-skip"] == {"outcome": "fail", "reason": "our reason (B3)"}
    assert cases["a.known"] == {"outcome": "fail", "reason": "why it times out (B9)"}
    new = cases["a.new"]
    assert new["outcome"] == "fail"
    assert new["unreviewed"] is True
    assert new["reason"].startswith('B12, B13: step 3 (write, line 20): expected a rejection {name: "TypeError"}')
    assert "more" not in new["reason"], "only the first line of the message"


def test_unreviewed_entries_load_and_warn_until_edited(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cases:\n  a.x: {outcome: fail, reason: 'B1: drafted', unreviewed: true}\n  a.y: {outcome: fail, reason: ok}\n",
    )
    known = expectations.load(path)
    assert known.cases["a.x"].unreviewed
    assert not known.cases["a.y"].unreviewed
    warnings = expectations.review_warnings(known)
    assert len(warnings) == 1
    assert "a.x: reason not reviewed" in warnings[0]
    with pytest.raises(SpecError, match=r"a\.x\.unreviewed: expected true or false"):
        expectations.load(write(tmp_path, "cases:\n  a.x: {outcome: fail, reason: r, unreviewed: 'yes'}\n"))


def test_an_entry_with_versions_holds_only_for_those_versions_of_the_implementation(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "cases:\n"
        "  a.old: {outcome: fail, reason: 'B15: fixed in 1.20261119.1', versions: ..1.20261117.1}\n"
        "  a.new: {outcome: fail, reason: 'B1: since', versions: '1.20261119.1..'}\n"
        "  a.window: {outcome: fail, reason: 'B2: a while', versions: 1.20260426.1..1.20261014.1}\n"
        "  a.always: {outcome: fail, reason: 'B3'}\n",
    )
    known = expectations.load(path)
    assert set(known.for_version("1.20261117.1").cases) == {"a.old", "a.always"}
    assert set(known.for_version("1.20261123.1").cases) == {"a.new", "a.always"}
    assert set(known.for_version("1.20261014.1").cases) == {"a.old", "a.window", "a.always"}
    assert set(known.for_version(None).cases) == set(known.cases), "an adapter without a version: every entry"
    results = [result("a.old", Outcome.FAIL), result("a.new", Outcome.PASS)]
    assert expectations.gate(results, known.for_version("1.20261117.1"), TODAY).ok
    assert not expectations.gate(results, known.for_version("1.20261123.1"), TODAY).ok
    assert known.cases["a.old"].as_yaml()["versions"] == "..1.20261117.1"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1.20261117.1", "expected a range like"),
        ("..", "at least one end"),
        ("..latest", '"latest" is not a version'),
        ("1.20261123.1..1.20261117.1", "runs backwards"),
        ("[1, 2]", "expected a range like"),
    ],
)
def test_a_bad_versions_range_is_a_spec_error_at_its_line(tmp_path: Path, value: str, problem: str) -> None:
    path = write(tmp_path, f"cases:\n  a.x:\n    outcome: fail\n    reason: r\n    versions: {value}\n")
    with pytest.raises(SpecError, match=problem) as raised:
        expectations.load(path)
    assert f"{path}:5: a.x.versions" in str(raised.value)
