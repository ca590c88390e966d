"""What to fix first: the divergence signatures where users read them (the console after the table,
summary.md, ``report compare``); on node-socket, the top three explain half of its failures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conformance.core.outcomes import CaseResult, Outcome
from conformance.execution import expectations
from tests.integration.cli import Completed, run_cli

pytestmark = pytest.mark.slow

MUTANT = "reference+writer-close-no-fin"
SIGNATURE = "peer.expect_eof: saw nothing, expected EOF (FIN)"
_ROW = re.compile(r"^\| (\d+) \| `(.+?)` \| (.*) \|$")


def results_of(done: Completed) -> list[CaseResult]:
    return [CaseResult(id=c["id"], outcome=Outcome(c["outcome"]), level=c["level"]) for c in done.results()["cases"]]


def _fix_first_rows(markdown: str) -> list[tuple[int, str, list[str]]]:
    """The rows of the "What to fix first" table: count, signature, case ids."""
    section = markdown.split("## What to fix first", 1)[1]
    rows = []
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            ids = [cell.strip().strip("`") for cell in match.group(3).split("`, `")]
            rows.append((int(match.group(1)), match.group(2), ids))
    return rows


@pytest.mark.timeout(1200)  # it may wait for another worker's run of node_socket_full_run
def test_node_socket_s_top_three_signatures_explain_half_of_its_failures(node_socket_full_run: Completed) -> None:
    # A full run of today's spec, not the published file: the published run may predate cases. It is
    # gated by node-socket's expectations (conftest.py), which change the exit code, not summary.md.
    done = node_socket_full_run
    assert done.code in (0, 1), done.stderr[-3000:]  # 1: a flaky case may surprise the gate
    assert not expectations.gate(results_of(done), None).ok, "without expectations it fails"
    rows = _fix_first_rows((done.report_dir / "summary.md").read_text())
    failing = {case["id"] for case in done.results()["cases"] if case["outcome"] not in ("pass", "skip")}
    assert {case_id for _, _, ids in rows for case_id in ids} == failing, "every case that did not pass, once"
    assert all(count == len(ids) for count, _, ids in rows), "each row lists the cases behind it"
    assert [count for count, _, _ in rows] == sorted((count for count, _, _ in rows), reverse=True)
    top = sum(count for count, _, _ in rows[:3])
    assert top * 2 >= len(failing), rows[:3]
    assert "await opened: value is undefined, expected SocketInfo" in [signature for _, signature, _ in rows[:3]]


def test_a_run_prints_what_to_fix_first_after_its_table_and_writes_it_to_summary_md(tmp_path: Path) -> None:
    done = run_cli("run", "--adapter", MUTANT, "-k", "half-open.writer-close", "--no-sandbox", report_dir=tmp_path)
    assert done.code == 1, done.stderr
    failing = [case["id"] for case in done.results()["cases"] if case["outcome"] == "fail"]
    assert failing
    lines = done.stdout.splitlines()
    table_end = max(index for index, line in enumerate(lines) if line.startswith("total "))
    heading = next(index for index, line in enumerate(lines) if line.startswith("what to fix first:"))
    assert heading == table_end + 1, "right after the table"
    assert lines[heading + 1].split(maxsplit=1) == [str(len(failing)), SIGNATURE]
    assert lines[heading + 2].strip().startswith(failing[0])
    rows = _fix_first_rows((tmp_path / "summary.md").read_text())
    assert rows == [(len(failing), SIGNATURE, failing)]


def test_compare_groups_the_regressions_by_signature(tmp_path: Path) -> None:
    selection = ("-k", "half-open.writer-close or lifecycle.close-resolves", "--no-sandbox")
    before = run_cli("run", *selection, report_dir=tmp_path / "before")
    after = run_cli("run", "--adapter", MUTANT, *selection, report_dir=tmp_path / "after")
    assert before.code == 0, before.stderr
    assert after.code == 1, after.stderr
    regressed = [case for case, outcome in after.outcomes().items() if outcome == "fail"]
    compared = run_cli(
        "report",
        "compare",
        str(tmp_path / "before" / "results.json"),
        str(tmp_path / "after" / "results.json"),
        "--json",
        str(tmp_path / "compare.json"),
        report_dir=tmp_path,
    )
    assert compared.code == 1, compared.stderr
    grouped = compared.stdout.split("### Regressions by first divergence", 1)[1].split("\n### ", 1)[0]
    assert f"| {len(regressed)} | `{SIGNATURE}` |" in grouped
    document = json.loads((tmp_path / "compare.json").read_text())
    assert document["regressions_by_signature"] == [{"signature": SIGNATURE, "cases": sorted(regressed)}]
    assert "different spec revisions" not in compared.stdout
