"""The runner's start order: longest last time first, cases never timed by the waits they plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.core.model import Case, Step
from conformance.core.outcomes import CaseResult, Outcome
from conformance.execution import durations


def _case(case_id: str, *steps: Step) -> Case:
    return Case(case_id, "t", "must", ("B1",), tuple(steps), "spec/x.yaml", 1)


def test_planned_wait_adds_for_durations_and_sleeps() -> None:
    case = _case(
        "x.a",
        Step(0, 1, "await", "opened", expect={"pending": {"for": "100ms"}}),
        Step(1, 2, "peer.expect_no_connection", None, expect={"no_connection": {"for": "0.5s"}}),
        Step(2, 3, "sleep", "2s"),
    )
    assert durations.planned_wait(case) == pytest.approx(2.6)
    assert durations.planned_wait(_case("x.b", Step(0, 1, "await", "opened"))) == 0.0


def test_known_durations_come_first_then_planned_waits() -> None:
    quick = _case("x.quick")
    sleepy = _case("x.sleepy", Step(0, 1, "sleep", "1s"))
    slow = _case("x.slow")
    order = durations.longest_first([quick, sleepy, slow], {"x.slow": 3.0, "x.quick": 0.01})
    assert order == [2, 1, 0]


def test_durations_round_trip_per_implementation_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path))
    assert durations.load("workerd") == {}
    result = CaseResult("x.a", Outcome.PASS, "must", duration_ms=1500.0)
    durations.save("workerd@1.20261123.1", [result], {"x.old": 0.5})
    assert durations.load("workerd") == {"x.a": 1.5, "x.old": 0.5}
    (tmp_path / durations.FOLDER / "workerd.json").write_text("[not json", encoding="utf-8")
    assert durations.load("workerd") == {}


def test_a_run_that_stops_at_its_first_finding_keeps_the_specs_order() -> None:
    cases = [_case("x.quick"), _case("x.slow")]
    assert durations.start_order(cases, {"x.slow": 3.0}, stops_early=False) == [1, 0]
    assert durations.start_order(cases, {"x.slow": 3.0}, stops_early=True) == [0, 1]


def test_only_a_whole_run_records_durations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A mutant's run stops at its finding, and the case that caught it often ran into its timeout:
    # such times would put that case first in the next ordinary run.
    import asyncio

    from conformance.adapters import registry
    from conformance.execution.runner import run_cases

    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path))
    cases = [_case("x.a", Step(0, 1, "sleep", "10ms")), _case("x.b", Step(0, 1, "sleep", "10ms"))]
    seen: list[object] = []
    asyncio.run(
        run_cases(
            cases,
            registry.resolve("reference+reset-as-eof"),
            workers=1,
            enough=lambda: bool(seen),
            on_result=seen.append,
        )
    )
    assert len(seen) == 1
    assert durations.load("reference") == {}
    asyncio.run(run_cases(cases, registry.resolve("reference"), workers=1))
    assert set(durations.load("reference")) == {"x.a", "x.b"}
