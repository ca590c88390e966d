"""Reading a results.json one case at a time (report/stream.py) and validating it that way (report/validate.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.core.outcomes import CaseResult, Outcome
from conformance.core.transcript import ClientStepEntry
from conformance.report import stream, validate
from tests.helpers import REPO, run_report


def _document(count: int = 5) -> dict[str, Any]:
    cases = [
        CaseResult(
            id=f"area.case-{n}",
            outcome=Outcome.PASS if n % 2 else Outcome.FAIL,
            level="must",
            message="é ✓ \U0001f600 " * n,  # multi-byte UTF-8 split across reads
            transcript=[ClientStepEntry(1, 2, "read", observed={"value": 10**n, "text": "x" * 50 * n})],
        )
        for n in range(count)
    ]
    return run_report(cases).as_dict()


def _write(tmp_path: Path, document: Any, indent: int | None = 1) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document, indent=indent, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("chunk", [1, 7, 64, stream.CHUNK])
@pytest.mark.parametrize("indent", [None, 1])
def test_every_case_arrives_once_in_order_whatever_the_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int, indent: int | None
) -> None:
    # Reads of 1 or 7 bytes split every number, string, escape and UTF-8 sequence somewhere.
    monkeypatch.setattr(stream, "CHUNK", chunk)
    document = _document()
    path = _write(tmp_path, document, indent)
    seen: list[tuple[int, Any]] = []
    read = stream.read(path, lambda index, case: seen.append((index, case)))
    assert seen == list(enumerate(document["cases"]))
    assert read.header == {key: value for key, value in document.items() if key != "cases"}
    assert (read.cases_streamed, read.case_count, read.duplicate_keys) == (True, len(seen), [])


def test_a_number_cut_by_a_read_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "CHUNK", 12)
    path = tmp_path / "r.json"
    path.write_text('{"format": 1234567, "cases": []}')  # the first read ends inside the number
    assert stream.read(path, lambda i, c: None).header == {"format": 1234567}


def test_the_header_alone_stops_at_the_cases(tmp_path: Path) -> None:
    path = _write(tmp_path, _document())
    seen: list[Any] = []
    read = stream.read(path, lambda i, c: seen.append(c), header_only=True)
    assert seen == []
    assert read.header["run"]["spec_revision"] == "abcdef12"


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        ('{"cases": [\n{"id": 1},\n{"id": 2}\n', "not JSON: Expecting ',' delimiter", 4),
        ('{"cases": [\n{"id": "unterminated}]}', "not JSON: Unterminated string starting at", 2),
        ('{"cases": []}\n{"more": 1}', "not JSON: Extra data", 2),
        ('{"format": 1\n"cases": []}', "not JSON: Expecting ',' delimiter", 2),
        ('{"format" 1}', "not JSON: Expecting ':' delimiter", 1),
        ("{1: 2}", "not JSON: Expecting property name enclosed in double quotes", 1),
        ("", "not JSON: Expecting value", 1),
        ('{"run": {"duration_s": NaN}, "cases": []}', "bare NaN is not JSON", 1),
        ('{"cases": [\n{"d": -Infinity}]}', "bare -Infinity is not JSON", 2),
    ],
)
def test_a_file_that_is_not_json_names_the_line(tmp_path: Path, text: str, problem: str, line: int) -> None:
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(stream.ReadError) as raised:
        stream.read(path, lambda i, c: None)
    assert raised.value.problem.startswith(problem), raised.value.problem
    assert raised.value.line == line


def test_bytes_that_are_not_utf8_are_named_by_offset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "CHUNK", 4)
    path = tmp_path / "r.json"
    path.write_bytes(b'{"cases": ["\xc3\xa9", "\xff"]}')
    with pytest.raises(stream.ReadError, match=r"^not UTF-8: invalid start byte at byte 18$"):
        stream.read(path, lambda i, c: None)


@pytest.mark.parametrize(("text", "kind"), [("[1, 2]", "an array"), ('"x"', "a string"), ("42", "a number")])
def test_a_top_level_value_that_is_no_object_is_said_in_js_words(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    assert stream.read(path, lambda i, c: None).not_an_object == kind
    assert validate.validate_file(path) == [f"(top level): expected a JSON object, got {kind}"]


def test_the_published_reports_validate_as_the_whole_document_did() -> None:
    for path in sorted((REPO / "reports").glob("*/results.json")):
        assert validate.validate_file(path) == [], path


def _duplicate_first_case(document: dict[str, Any]) -> None:
    document["cases"].append(dict(document["cases"][0]))
    document["summary"].update(fail=document["summary"]["fail"] + 1, total=document["summary"]["total"] + 1)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda d: d.update(format=999), "format: 1 was expected"),
        (lambda d: d.pop("run"), "(top level): 'run' is a required property"),
        (lambda d: d.pop("cases"), "(top level): 'cases' is a required property"),
        (lambda d: d.update(cases={}), "cases: {} is not of type 'array'"),
        (lambda d: d["cases"][3].update(outcome="passed"), "cases/3/outcome: 'passed' is not one of"),
        (lambda d: d["cases"][2].pop("transcript"), "cases/2: 'transcript' is a required property"),
        (lambda d: d["summary"].update(fail=9), "summary/fail: says 9, but the cases hold 3"),
        (_duplicate_first_case, 'cases: id "area.case-0" appears more than once'),
    ],
)
def test_each_part_is_checked_against_the_schema(tmp_path: Path, corrupt: Any, message: str) -> None:
    document = copy.deepcopy(_document())
    corrupt(document)
    (problem,) = validate.validate_file(_write(tmp_path, document))
    assert problem.startswith(message), problem


def test_a_top_level_key_twice_is_a_problem(tmp_path: Path) -> None:
    text = json.dumps(_document())
    path = tmp_path / "r.json"
    path.write_text(text[:-1] + ', "format": 1}')
    assert validate.validate_file(path) == ['(top level): key "format" appears more than once']


def test_the_problems_of_a_huge_broken_file_are_counted_not_all_listed(tmp_path: Path) -> None:
    document = _document(300)
    for case in document["cases"]:
        case["outcome"] = "passed"
    verdict = validate.check_file(_write(tmp_path, document))
    assert len(verdict.problems) == validate.SHOWN
    assert verdict.more == 300 - validate.SHOWN
    assert verdict.lines(Path("r.json"))[-1] == f"r.json: and {300 - validate.SHOWN} more problems"


def test_a_problem_with_a_line_is_written_file_colon_line(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("{\n  nope")
    verdict = validate.check_file(path)
    assert verdict.lines(path) == [f"{path}:2: not JSON: Expecting property name enclosed in double quotes"]
    assert validate.validate_file(path) == ["line 2: not JSON: Expecting property name enclosed in double quotes"]


def test_a_problem_quoting_a_huge_value_stays_one_short_line(tmp_path: Path) -> None:
    document = _document()
    document["cases"][0]["outcome"] = "x" * 100_000
    (problem,) = validate.validate_file(_write(tmp_path, document))
    assert problem.startswith("cases/0/outcome: 'xxx")
    assert len(problem) <= len("cases/0/outcome: ") + validate.MESSAGE_CHARS
    assert problem.endswith("…")
