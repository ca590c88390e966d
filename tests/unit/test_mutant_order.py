"""The order a mutant's suite runs in (``mutants`` stops each at its first catching case)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conformance.core.model import Case, Step
from conformance.execution import mutants


def _case(case_id: str, file: str, *steps: Step, source: tuple[str, ...] = ("B1",)) -> Case:
    return Case(case_id, "t", "must", source, tuple(steps), file, 1)


def test_a_case_of_every_file_comes_before_the_second_of_any_and_megabytes_last() -> None:
    big = Step(0, 1, "write", {"data": {"pattern": "x", "size": "16MiB"}})
    cases = [
        _case("a.1", "spec/a.yaml"),
        _case("a.2", "spec/a.yaml"),
        _case("a.big", "spec/a.yaml", big),
        _case("a.3", "spec/a.yaml"),
        _case("b.1", "spec/b.yaml"),
        _case("b.2", "spec/b.yaml"),
        _case("c.1", "spec/c.yaml"),
    ]
    order = [case.id for case in mutants.mutant_order(cases)]
    assert order == ["a.1", "b.1", "c.1", "a.2", "b.2", "a.3", "a.big"]


def test_the_cases_citing_the_mutants_behaviours_come_first() -> None:
    cases = [
        _case("a.1", "spec/a.yaml"),
        _case("a.2", "spec/a.yaml", source=("B7", "docs:x")),
        _case("b.1", "spec/b.yaml"),
        _case("b.2", "spec/b.yaml", source=("B28",)),
    ]
    behaviours = mutants.behaviours_of("a single write larger than 16 MiB is cut (B28), like B7 says")
    assert behaviours == {"B28", "B7"}
    assert [case.id for case in mutants.mutant_order(cases, behaviours)] == ["a.2", "b.2", "a.1", "b.1"]


def test_catchers_round_trip_and_a_broken_file_is_no_catchers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path))
    assert mutants.load_catchers() == {}
    mutants.save_catchers({"old": ["x.1"]}, {"m": [("a.1", "fail", 900.0), ("a.2", "error", 5.0)], "escaped": []})
    assert mutants.load_catchers() == {"old": ["x.1"], "m": ["a.2", "a.1"]}, "the quickest first"
    (tmp_path / "mutants.json").write_text('{"m": "not a list", "n": [1, "b.1"]', encoding="utf-8")
    assert mutants.load_catchers() == {}
    (tmp_path / "mutants.json").write_text('{"m": "not a list", "n": [1, "b.1"]}', encoding="utf-8")
    assert mutants.load_catchers() == {"n": ["b.1"]}


def test_the_quickest_known_catcher_runs_alone_first_and_the_rest_only_when_it_no_longer_catches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = [_case(f"a.{n}", "spec/a.yaml") for n in range(5)]
    runs: list[tuple[list[str], int | None]] = []

    async def fake_run_cases(chosen, adapter, workers, enough, on_result):  # type: ignore[no-untyped-def]
        from conformance.core.outcomes import CaseResult, Outcome

        runs.append(([case.id for case in chosen], workers))
        results = []
        for case in chosen:
            outcome = Outcome.FAIL if case.id == catching else Outcome.PASS
            result = CaseResult(case.id, outcome, "must", duration_ms=7.0)
            on_result(result)
            results.append(result)
            if enough():
                break
        return None, results

    monkeypatch.setattr(mutants, "run_cases", fake_run_cases)
    monkeypatch.setattr(mutants.registry, "resolve", lambda name: name)
    name = "large-write-truncated"
    catching = "a.3"
    found = asyncio.run(mutants._run_all(cases, [name], None, False, {name: ["a.3", "a.4"]}))
    assert found == {name: [("a.3", "fail", 7.0)]}
    assert runs == [(["a.3"], 1)]
    runs.clear()
    catching = "a.1"  # the spec changed: the old catcher passes now, so the whole rest runs
    found = asyncio.run(mutants._run_all(cases, [name], None, False, {name: ["a.3", "a.4"]}))
    assert found == {name: [("a.1", "fail", 7.0)]}
    assert runs == [(["a.3"], 1), (["a.0", "a.1", "a.2", "a.4"], None)]
