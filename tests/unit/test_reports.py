"""results.json, junit.xml and summary.md from a set of results."""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from conformance.adapters import registry
from conformance.core.outcomes import CaseResult, Outcome
from conformance.errors import UsageError
from conformance.report import junit, links, results, summary
from tests.helpers import REPO, run_report

RESULTS = [
    CaseResult(id="address.a", outcome=Outcome.PASS, level="must", duration_ms=3),
    CaseResult(
        id="address.b",
        outcome=Outcome.FAIL,
        level="must",
        message="step 1: expected x | y\nmore",
        source=("B1", "somewhere|else"),
    ),
    CaseResult(id="streams.c", outcome=Outcome.ERROR, level="should", message="adapter failure: silent"),
    CaseResult(id="streams.d", outcome=Outcome.SKIP, level="info", message="lacks capability: ipv6"),
    CaseResult(id="streams.e", outcome=Outcome.TIMEOUT, level="must", message="deadline"),
]


def test_results_json_has_header_summary_and_cases(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    results.write(path, run_report(RESULTS, adapter={"name": "reference"}, workers=2))
    document = json.loads(path.read_text())
    assert document["summary"] == {"pass": 1, "fail": 1, "error": 1, "timeout": 1, "skip": 1, "total": 5}
    assert document["run"]["adapter"]["name"] == "reference"
    assert document["run"]["suite_version"]
    assert [case["outcome"] for case in document["cases"]] == ["pass", "fail", "error", "skip", "timeout"]
    assert not (tmp_path / "results.json.part").exists()


def test_junit_maps_outcomes_to_failure_error_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    junit.write(path, run_report(RESULTS))
    suite = ET.parse(path).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "5",
        "1",
        "2",
        "1",
    )
    kinds = {case.get("name"): [child.tag for child in case] for case in suite}
    assert kinds == {
        "address.a": [],
        "address.b": ["failure"],
        "streams.c": ["error"],
        "streams.d": ["skipped"],
        "streams.e": ["error"],
    }


def test_source_links_point_behaviours_at_their_sections_relative_to_the_page(tmp_path: Path) -> None:
    page = tmp_path / "reports" / "workerd"
    found = links.source_links(
        ["B15", "spec:closed", "workerd#6479", "B999", "javascript:alert(1)"], page, REPO / "spec"
    )
    assert found["B15"] == os.path.relpath(REPO / "spec" / "behaviours.md", page) + "#b15"
    assert found["spec:closed"] == "https://sockets-api.proposal.wintertc.org/#closed-attribute"
    assert found["workerd#6479"] == "https://github.com/cloudflare/workerd/issues/6479"
    assert "B999" not in found
    assert "javascript:alert(1)" not in found
    assert links.source_links(["B15"], page, tmp_path / "no-spec-here") == {}


def test_summary_links_the_behaviours_of_cases_that_did_not_pass() -> None:
    text = summary.markdown("t", RESULTS, links={"B1": "../spec/behaviours.md#b1"})
    failing = [line for line in text.splitlines() if line.startswith("| `")]
    assert failing
    for line in failing:
        case = next(r for r in RESULTS if f"`{r.id}`" in line)
        for source in case.source:
            escaped = source.replace("|", "\\|")  # a pipe would end the table cell
            shown = "[B1](../spec/behaviours.md#b1)" if source == "B1" else f"`{escaped}`"
            assert shown in line


def test_summary_tables_count_by_area_and_escape_pipes() -> None:
    text = summary.markdown("t", RESULTS)
    assert "| address | 2 | 1 | 1 | 0 | 0 | 0 |" in text
    assert "| total | 5 | 1 | 1 | 1 | 1 | 1 |" in text
    assert "expected x \\| y" in text
    table = summary.text_table(RESULTS)
    assert table.splitlines()[0].split() == ["area", "cases", "pass", "fail", "error", "timeout", "skip"]


@pytest.mark.parametrize("value", ["nope", "stdio:", "reference+no-such-mutant", "http://x"])
def test_unknown_adapters_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError):
        registry.resolve(value)


def test_adapter_forms_resolve() -> None:
    assert registry.resolve("reference").name == "reference"
    assert registry.resolve("stdio:node a.js --x 'y z'").name == "stdio:node a.js --x 'y z'"
    assert registry.resolve("ws://127.0.0.1:1/p").name == "ws://127.0.0.1:1/p"
