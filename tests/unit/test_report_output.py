"""The report files survive any string or number an adapter can send (issue 9, items 1-3, 20).

A JS runtime produces lone surrogates, control characters and NaN
legitimately; each writer has one rule for them (``conformance/report/output.py``).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from conformance.core.outcomes import CaseResult, Outcome, SkipCause
from conformance.core.transcript import ClientStepEntry, PeerStepEntry, VariablesEntry
from conformance.execution.progress import Label, Progress, Verbosity, plain_label
from conformance.report import html, junit, output, results, summary
from conformance.report.model import RunReport
from conformance.report.numbers import percent
from conformance.report.validate import validate_file
from tests.helpers import run_report

SURROGATES = "lone \ud800 high, \udfff low, pair \U0001f600"
CONTROLS = "nul\x00 esc\x1b[2J bell\x07 cr\r del\x7f csi\x9b \ufffe\uffff"
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def strict_loads(text: str) -> Any:
    """json.loads as strict JSON readers (Node's JSON.parse) read: no NaN, no Infinity."""

    def reject(name: str) -> Any:
        raise ValueError(f"bare {name}")

    return json.loads(text, parse_constant=reject)


def hostile_results() -> list[CaseResult]:
    transcript = [
        ClientStepEntry(1, 3, "connect", observed={"error": {"name": SURROGATES, "message": CONTROLS}}),
        ClientStepEntry(2, 4, "read", observed={"value": math.nan, "list": [math.inf, -math.inf, 1.5]}),
        VariablesEntry({SURROGATES: CONTROLS}),
        PeerStepEntry(3, 5, "peer.send", request={"data": SURROGATES}, note=CONTROLS),
    ]
    return [
        CaseResult(id="a.surrogates", outcome=Outcome.FAIL, level="must", message=SURROGATES, transcript=transcript),
        CaseResult(id="a.controls", outcome=Outcome.ERROR, level="must", message=CONTROLS + "\nsecond line"),
        CaseResult(id="a.skip", outcome=Outcome.SKIP, level="info", message=CONTROLS),
        CaseResult(id="a.pass", outcome=Outcome.PASS, level="must", duration_ms=2),
    ]


def hostile_run(cases: list[CaseResult], **fields: Any) -> RunReport:
    values: dict[str, Any] = {
        "adapter": {"name": "hostile" + SURROGATES, "version": CONTROLS, "runtime": CONTROLS},
        "adapter_spec": "stdio:hostile",
        "duration_s": 1.25,
        "workers": 2,
    }
    return run_report(cases, **{**values, **fields})


def test_results_json_is_strict_json_that_keeps_every_string(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    results.write(path, hostile_run(hostile_results()))
    assert os.listdir(tmp_path) == ["results.json"]
    raw = path.read_bytes()
    raw.decode("utf-8")  # valid UTF-8: lone surrogates are \uXXXX escapes, not bytes
    document = strict_loads(raw.decode("utf-8"))
    first = document["cases"][0]
    assert first["message"] == SURROGATES
    assert first["transcript"][0]["observed"]["error"] == {"name": SURROGATES, "message": CONTROLS}
    assert first["transcript"][2] == {"variables": {SURROGATES: CONTROLS}}
    assert first["transcript"][3]["note"] == CONTROLS
    # NaN and the infinities as the adapter protocol tags them.
    assert first["transcript"][1]["observed"] == {
        "value": {"$type": "number", "value": "NaN"},
        "list": [{"$type": "number", "value": "Infinity"}, {"$type": "number", "value": "-Infinity"}, 1.5],
    }
    assert document["run"]["adapter"]["name"] == "hostile" + SURROGATES
    assert "é" in output.json_text({"text": "é"}), "other non-ASCII text stays readable"
    assert validate_file(path) == []


def test_validate_rejects_bare_nan(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    results.write(path, hostile_run([]))
    document = json.loads(path.read_text(encoding="utf-8"))
    document["run"]["duration_s"] = math.nan
    path.write_text(json.dumps(document), encoding="utf-8")  # Python's json writes a bare NaN
    assert "NaN" in path.read_text(encoding="utf-8")
    (problem,) = validate_file(path)
    assert "bare NaN is not JSON" in problem


def test_a_failed_write_leaves_neither_the_file_nor_a_part_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(source: Any, target: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        results.write(tmp_path / "results.json", hostile_run(hostile_results()))
    assert os.listdir(tmp_path) == []


def test_junit_is_valid_xml_with_control_characters_and_surrogates_escaped(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    junit.write(path, hostile_run(hostile_results(), adapter_spec=CONTROLS, duration_s=7.5))
    assert os.listdir(tmp_path) == ["junit.xml"]
    suite = ET.parse(path).getroot()
    assert suite.get("name") == "connect-conformance: " + output.xml_text(CONTROLS)
    cases = {case.get("name"): case for case in suite}
    failure = cases["a.surrogates"].find("failure")
    assert failure is not None
    assert failure.text == "lone \\ud800 high, \\udfff low, pair \U0001f600"
    error = cases["a.controls"].find("error")
    assert error is not None
    assert error.text is not None
    # XML keeps CR, DEL and C1 (they are XML characters); a parser reads CR as a newline.
    assert error.text.startswith("nul\\x00 esc\\x1b[2J bell\\x07 cr\n del\x7f csi\x9b \\ufffe\\uffff")
    assert error.get("message") == output.xml_text(CONTROLS).splitlines()[0]


def test_junit_time_is_the_runs_wall_time_not_the_sum_of_lanes(tmp_path: Path) -> None:
    lanes = [CaseResult(id=f"a.{n}", outcome=Outcome.PASS, level="must", duration_ms=1000) for n in range(4)]
    path = tmp_path / "junit.xml"
    junit.write(path, run_report(lanes, duration_s=2.0))  # 4 cases of 1 s on 2 lanes
    assert ET.parse(path).getroot().get("time") == "2.000"


def test_summary_markdown_has_no_raw_control_character(tmp_path: Path) -> None:
    text = summary.markdown("title", hostile_results(), [f"Adapter ({CONTROLS})"])
    assert RAW_CONTROL.search(text) is None, repr(RAW_CONTROL.search(text))
    assert "nul\\x00 esc\\x1b[2J" in text  # in a note, which the caller writes as Markdown
    # In a message cell the escape's own backslash is Markdown-escaped: it renders as the text \ud800.
    assert "lone \\\\ud800 high" in text
    output.write_text(tmp_path / "summary.md", text)  # encodable as UTF-8
    assert RAW_CONTROL.search(summary.text_table(hostile_results())) is None


def test_expected_failures_show_as_xfail_in_the_tables() -> None:
    done = [
        CaseResult(id="a.known", outcome=Outcome.FAIL, level="must", message="known"),
        CaseResult(id="a.new", outcome=Outcome.FAIL, level="must", message="new"),
        CaseResult(id="a.ok", outcome=Outcome.PASS, level="must"),
    ]
    table = summary.text_table(done, expected={"a.known"})
    assert table.splitlines()[0].split() == ["area", "cases", "pass", "fail", "error", "timeout", "skip", "xfail"]
    assert table.splitlines()[-1].split() == ["total", "3", "1", "1", "0", "0", "0", "1"]
    markdown = summary.markdown("t", done, expected={"a.known"})
    assert "| `a.known` | fail (expected) |" in markdown
    assert "| `a.new` | fail |" in markdown
    assert "xfail" not in summary.text_table(done), "without an expectations file there is no xfail column"


def _known_label(result: CaseResult) -> Label:
    if result.id == "a.known":
        return Label("xfail", listed=False)
    return plain_label(result)


def test_progress_lists_only_unexpected_outcomes_and_counts_the_rest_when_piped() -> None:
    stream = io.StringIO()  # not a terminal: as in CI logs and `| tee`
    progress = Progress(5, stream=stream, label=_known_label)
    progress(CaseResult(id="a.ok", outcome=Outcome.PASS, level="must"))
    progress(CaseResult(id="a.known", outcome=Outcome.FAIL, level="must", message="seen"))
    progress(CaseResult(id="a.new", outcome=Outcome.FAIL, level="must", message="esc\x1b[2J"))
    sandbox = "needs the network sandbox: run with --sandbox"  # the closing table says it, once
    for case_id in ("a.s1", "a.s2"):
        progress(
            CaseResult(
                id=case_id, outcome=Outcome.SKIP, level="must", message=sandbox, skipped_by=SkipCause.ENVIRONMENT
            )
        )
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert not any("a.ok" in line or "a.known" in line or "a.s1" in line for line in lines), lines
    assert lines[0].startswith("FAIL    a.new")
    assert lines[1] == "        esc\\x1b[2J"
    assert lines[2].startswith("[5/5] 1 pass, 1 fail, 1 xfail, 2 not run here")
    assert lines[3:] == ["1 expected non-pass outcome (XFAIL, in the expectations file; -v lists them)"]


def test_a_piped_run_writes_its_last_count_once_and_a_failure_names_its_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    progress = Progress(2, stream=stream)
    monkeypatch.setattr(progress, "last_status", float("-inf"))  # as if the last count was long ago
    progress(CaseResult(id="a.ok", outcome=Outcome.PASS, level="must"))
    monkeypatch.setattr(progress, "last_status", float("-inf"))
    progress(CaseResult(id="a.bad", outcome=Outcome.FAIL, level="must", message="no", source=("B23", "B24")))
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert [line for line in lines if line.startswith("[2/2]")] == [lines[-1]], lines
    assert any(line.startswith("FAIL    a.bad") and line.endswith("cites B23, B24") for line in lines), lines


def test_progress_verbose_lists_every_case_and_quiet_none() -> None:
    verbose = io.StringIO()
    Progress(1, stream=verbose, verbosity=Verbosity.VERBOSE)(CaseResult(id="a.ok", outcome=Outcome.PASS, level="must"))
    assert verbose.getvalue().startswith("PASS    a.ok")
    quiet = io.StringIO()
    progress = Progress(1, stream=quiet, verbosity=Verbosity.QUIET)
    progress(CaseResult(id="a.bad", outcome=Outcome.FAIL, level="must", message="no"))
    progress.finish()
    assert quiet.getvalue() == "", "-q: the closing summary says it all"


def test_progress_of_a_run_that_ended_before_any_case_prints_no_count() -> None:
    stream = io.StringIO()
    Progress(28, stream=stream).finish()
    assert stream.getvalue() == "", "no '[0/28]' before the error that says why nothing ran"


@pytest.mark.parametrize(
    ("part", "whole", "decimals", "shown"),
    [
        (241, 242, 0, "99%"),
        (242, 242, 0, "100%"),
        (1, 1000, 0, "1%"),
        (0, 5, 0, "0%"),
        (1, 3, 0, "33%"),
        (0.99996, 1, 1, "99.9%"),
        (2, 3, 1, "66.7%"),
    ],
)
def test_percentages_never_round_to_a_complete_pass_or_failure(
    part: float, whole: float, decimals: int, shown: str
) -> None:
    assert percent(part, whole, decimals) == shown


def test_html_scores_of_241_of_242_read_99_percent() -> None:
    cases = [CaseResult(id=f"a.c{n}", outcome=Outcome.PASS, level="must") for n in range(241)]
    cases.append(CaseResult(id="a.last", outcome=Outcome.FAIL, level="must"))
    data = html.report_data([("impl", hostile_run(cases))])
    scores = data["implementations"][0]["scores"]
    assert scores["must"] == [241, 242]
    assert scores["text"]["must"] == "99%"
    assert scores["per_case_text"] == "99.6%"
