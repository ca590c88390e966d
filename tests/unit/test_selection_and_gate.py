"""Case selection (-k, --tag) and the expectations gate."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.cases.selection import select
from conformance.core.outcomes import CaseResult, Outcome
from conformance.errors import SpecError, UsageError
from conformance.execution import expectations
from tests.helpers import case_from_yaml


def make(case_id: str, tags: str = "[]") -> object:
    return case_from_yaml(f"""\
    - id: {case_id}
      title: t
      level: must
      source: [B4]
      tags: {tags}
      steps:
        - sleep: 1ms
    """)


CASES = [make("address.ipv6-accepted", "[ipv6]"), make("address.port-missing"), make("streams.big-transfer", "[slow]")]


@pytest.mark.parametrize(
    ("expression", "chosen"),
    [
        ("address", ["address.ipv6-accepted", "address.port-missing"]),
        ("address and not ipv6", ["address.port-missing"]),
        ("ipv6 or streams", ["address.ipv6-accepted", "streams.big-transfer"]),
        ("not (address or big)", []),
    ],
)
def test_keyword_expressions(expression: str, chosen: list[str]) -> None:
    assert [c.id for c in select(CASES, expression)] == chosen  # type: ignore[arg-type]


def test_tags_select_by_tag_or_area() -> None:
    assert [c.id for c in select(CASES, tags=["slow"])] == ["streams.big-transfer"]  # type: ignore[arg-type]
    assert len(select(CASES, tags=["address"])) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("expression", ["and", "a and", "(a", "a b"])
def test_bad_keyword_expressions_are_usage_errors(expression: str) -> None:
    with pytest.raises(UsageError, match="-k"):
        select(CASES, expression)  # type: ignore[arg-type]


def result(case_id: str, outcome: Outcome) -> CaseResult:
    return CaseResult(id=case_id, outcome=outcome, level="must")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "expectations.yaml"
    path.write_text(text)
    return path


def test_without_expectations_only_pass_and_skip_are_expected() -> None:
    verdict = expectations.gate([result("a.x", Outcome.PASS), result("a.y", Outcome.SKIP)], None)
    assert verdict.ok
    verdict = expectations.gate([result("a.x", Outcome.TIMEOUT)], None)
    assert [(r.id, e) for r, e in verdict.unexpected] == [("a.x", "pass")]


def test_unexpected_failures_and_unexpected_passes_both_fail_the_gate(tmp_path: Path) -> None:
    known = expectations.load(
        write(
            tmp_path,
            """\
implementation: x
cases:
  a.fails: {outcome: fail, reason: "B31: differs"}
  a.fixed: {outcome: fail, reason: "was broken"}
  a.gone: {outcome: error, reason: "case removed"}
  a.flaky: {outcome: timeout, reason: "slow", flaky: true}
""",
        )
    )
    verdict = expectations.gate(
        [
            result("a.fails", Outcome.FAIL),
            result("a.fixed", Outcome.PASS),
            result("a.flaky", Outcome.PASS),
            result("a.new", Outcome.FAIL),
        ],
        known,
    )
    assert sorted(r.id for r, _ in verdict.unexpected) == ["a.fixed", "a.new"]
    assert verdict.unused == ["a.gone"]
    assert verdict.expected_failures == 1
    assert verdict.flaky == 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cases:\n  a.x: {outcome: pass, reason: r}\n", "expected one of fail, error, timeout, skip"),
        ("cases:\n  a.x: {outcome: fail}\n", "every expectation needs a reason"),
        ("cases:\n  a.x: {outcome: fail, reason: r, why: no}\n", "unknown field"),
        ("cases: [1, 2]\n", "expected a mapping"),
    ],
)
def test_bad_expectation_files_are_rejected_with_their_line(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(SpecError, match=problem):
        expectations.load(write(tmp_path, text))
