"""One typed model of a run (conformance/report/model.py, conformance/core/transcript.py): results.json read
back as typed data, checked once, exactly as the run wrote it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conformance import schema
from conformance.core.outcomes import CaseResult, Outcome, SkipCause
from conformance.core.transcript import (
    ClientStepEntry,
    PeerStepEntry,
    SessionEndEntry,
    SkippedStepEntry,
    VariablesEntry,
    entry_from_dict,
    is_peer_action,
)
from conformance.engine.actions import ACTIONS, Kind
from conformance.report import model
from conformance.report.model import Gate, GateEntry
from tests.helpers import REPO, run_report, save_report

PUBLISHED = sorted((REPO / "reports").glob("*/results.json"))

STEP = {"step": 2, "line": 7, "action": "read", "request": {"op": "read"}, "observed": {"status": "resolved"}}
ENTRIES: list[tuple[Any, bool]] = [
    ({"variables": {"peer.port": 4000}}, True),
    (STEP, True),
    ({**STEP, "action": "peer.recv", "expected": {"size": 3}, "problem": "p", "note": "n"}, True),
    ({"step": 1, "line": 3, "action": "await", "observed": {"skipped": "no socket exists yet"}}, True),
    ({"step": "end", "line": None, "reply": {"status": "returned"}, "judged": True}, True),
    ({"step": "end", "line": 9, "reply": {}, "judged": False}, True),
    ({"variables": {}, "step": 1}, False),
    ({"variables": []}, False),
    ({**STEP, "extra": 1}, False),
    ({**STEP, "step": 0}, False),
    ({**STEP, "step": True}, False),
    ({**STEP, "line": "7"}, False),
    ({**STEP, "action": None}, False),
    ({**STEP, "request": "op"}, False),
    ({**STEP, "observed": [1]}, False),
    ({**STEP, "expected": None}, False),
    ({**STEP, "problem": 3}, False),
    ({**STEP, "note": None}, False),
    ({"step": "end", "line": None, "reply": {}}, False),
    ({"step": "end", "line": "x", "reply": {}, "judged": True}, False),
    ({"step": "end", "line": None, "reply": [], "judged": True}, False),
    ({"step": "end", "line": None, "reply": {}, "judged": 1}, False),
    ({"step": "end", "line": None, "reply": {}, "judged": True, "more": 1}, False),
    ({"sent": {"op": "x"}}, False),
    ({}, False),
]


def _schema_accepts(entry: Any) -> bool:
    root = schema.load("results.schema.json")
    checker = jsonschema.validators.validator_for(root)({"$defs": root["$defs"], "$ref": "#/$defs/transcript_entry"})
    return bool(checker.is_valid(entry))


def _reader_accepts(entry: Any) -> bool:
    try:
        entry_from_dict(entry)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("entry", "valid"), ENTRIES)
def test_the_schema_and_the_reader_of_a_transcript_entry_agree(entry: Any, valid: bool) -> None:
    """``report validate`` checks entries with the reader (fast); the schema documents them: the same rule."""
    assert (_schema_accepts(entry), _reader_accepts(entry)) == (valid, valid)


def test_each_entry_reads_back_as_its_kind_and_writes_the_same_json() -> None:
    kinds = [type(entry_from_dict(entry)) for entry, valid in ENTRIES if valid]
    assert kinds == [VariablesEntry, ClientStepEntry, PeerStepEntry, SkippedStepEntry, SessionEndEntry, SessionEndEntry]
    for entry, valid in ENTRIES:
        if valid:
            assert entry_from_dict(entry).as_dict() == entry


def test_peer_actions_are_the_ones_named_peer() -> None:
    """A transcript entry says its kind by its action's name, for files whose actions the table lacks."""
    assert {name for name, spec in ACTIONS.items() if spec.kind is Kind.PEER} == {
        name for name in ACTIONS if is_peer_action(name)
    }


@pytest.mark.parametrize("path", PUBLISHED, ids=[path.parent.name for path in PUBLISHED])
def test_a_published_results_json_reads_back_exactly(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    report = model.load(path)
    written = report.as_dict()
    # A file made before gate.xfail existed gets it derived (what the matrix took for expected then).
    if "xfail" not in document.get("gate", {}):
        written["gate"].pop("xfail")
    assert written == document
    assert all(isinstance(case.transcript[0], VariablesEntry) for case in report.cases if case.transcript)


def test_a_file_validate_rejects_is_a_typed_error_naming_the_file_and_the_problem(tmp_path: Path) -> None:
    document = run_report([CaseResult(id="a.one", outcome=Outcome.PASS, level="must")]).as_dict()
    document["cases"][0]["transcript"] = [{"sent": "x"}]
    path = save_report(tmp_path, document)
    with pytest.raises(model.ResultsFileError) as raised:
        model.load(tmp_path)
    assert raised.value.path == path
    assert raised.value.problems == [f"{path}: cases/0/transcript/0: " + _reader_problem({"sent": "x"})]
    assert str(raised.value).endswith(f"{path} is not a results.json that `report validate` accepts")
    with pytest.raises(model.ResultsFileError, match=r"missing\.json: cannot read: No such file"):
        model.load(tmp_path / "missing.json")


def _reader_problem(entry: Any) -> str:
    try:
        entry_from_dict(entry)
    except ValueError as error:
        return str(error)
    raise AssertionError("valid")


def test_scan_hands_over_typed_cases_one_at_a_time_then_the_header(tmp_path: Path) -> None:
    cases = [CaseResult(id=f"a.c{n}", outcome=Outcome.PASS, level="must") for n in range(3)]
    path = save_report(tmp_path, run_report(cases, adapter={"name": "impl", "version": "2"}))
    seen: list[str] = []
    header = model.scan(path, lambda case: seen.append(case.id))
    assert seen == ["a.c0", "a.c1", "a.c2"]
    assert (header.adapter_name, header.adapter_version, header.duration_s) == ("impl", "2", 1.5)


def test_the_expected_outcomes_are_the_gates_and_derived_for_older_files(tmp_path: Path) -> None:
    cases = [
        CaseResult(id="a.known", outcome=Outcome.FAIL, level="must"),
        CaseResult(id="a.new", outcome=Outcome.FAIL, level="must"),
        CaseResult(id="a.gap", outcome=Outcome.SKIP, level="must", skipped_by=SkipCause.ADAPTER),
        CaseResult(id="a.ok", outcome=Outcome.PASS, level="must"),
    ]
    gate = Gate(ok=False, unexpected=(GateEntry("a.new", "fail", "pass"),), xfail=("a.known",))
    selection = {"expectations": "expectations/x.yaml"}
    report = run_report(cases, gate, selection=selection)
    assert report.expected == {"a.known"}
    older = report.as_dict()
    del older["gate"]["xfail"]
    assert model.load(save_report(tmp_path / "older", older)).expected == {"a.known", "a.gap"}
    without = run_report(cases, Gate(ok=False, unexpected=gate.unexpected)).as_dict()
    assert without["gate"]["xfail"] is None
    del without["gate"]["xfail"]
    assert model.load(save_report(tmp_path / "none", without)).expected is None, "no expectations file, no xfail"


def test_a_skip_of_a_file_made_before_skipped_by_is_read_by_its_message(tmp_path: Path) -> None:
    document = run_report(
        [
            CaseResult(id="a.away", outcome=Outcome.SKIP, level="must", message="needs the network sandbox: run"),
            CaseResult(id="a.gap", outcome=Outcome.SKIP, level="must", message="the adapter lacks capability: x"),
        ]
    ).as_dict()
    away, gap = model.load(save_report(tmp_path, document)).cases
    assert (away.skipped_by, away.not_run_here) == (SkipCause.ENVIRONMENT, True)
    assert (gap.skipped_by, gap.not_run_here) == (None, False)
