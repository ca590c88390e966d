"""docs/coverage.md stays true: its counts match its rows, and every case and behaviour it names exists."""

from __future__ import annotations

import re

from conformance.cases import catalogue, loader
from tests.helpers import REPO

DOC = REPO / "docs" / "coverage.md"
ROW = re.compile(
    r"^\| (?P<n>\d+) \| \[(?P<test>.+?)\]\((?P<url>\S+?)\) \| (?P<checks>.*?) \| (?P<behaviour>.*?) \| (?P<mapping>.*) \|$"
)
SUMMARY = re.compile(
    r"\*\*(?P<total>\d+)\*\* external checks, \*\*(?P<portable>\d+)\*\* of them portable; "
    r"\*\*(?P<covered>\d+)\*\* of the portable checks \((?P<share>[0-9.]+) %\) map to a case, "
    r"\*\*(?P<missing>\d+)\*\* are missing"
)


def rows() -> list[dict[str, str]]:
    return [match.groupdict() for line in DOC.read_text(encoding="utf-8").splitlines() if (match := ROW.match(line))]


def kind(mapping: str) -> str:
    if mapping.startswith("**missing**"):
        return "missing"
    if mapping.startswith("*out of scope*"):
        return "out"
    return "covered"


def test_rows_are_numbered_and_pinned() -> None:
    found = rows()
    assert [int(row["n"]) for row in found] == list(range(1, len(found) + 1))
    unpinned = [row["n"] for row in found if not re.search(r"/blob/[0-9a-f]{40}/\S+#L[0-9]+$", row["url"])]
    assert unpinned == [], "every external test links to a line at a pinned commit"


def test_the_summary_counts_the_rows() -> None:
    kinds = [kind(row["mapping"]) for row in rows()]
    summary = SUMMARY.search(DOC.read_text(encoding="utf-8"))
    assert summary is not None, "the summary line is missing or reworded"
    covered, missing = kinds.count("covered"), kinds.count("missing")
    assert int(summary["total"]) == len(kinds)
    assert int(summary["portable"]) == covered + missing
    assert int(summary["covered"]) == covered
    assert int(summary["missing"]) == missing
    assert summary["share"] == f"{100 * covered / (covered + missing):.1f}"


def test_named_cases_behaviours_and_gaps_exist() -> None:
    cases = loader.load_strict([REPO / "spec"])
    case_ids = {case.id for case in cases} | {case.id.split("[", 1)[0] for case in cases}
    known = catalogue.load()
    text = DOC.read_text(encoding="utf-8")
    for row in rows():
        where = f"row {row['n']} ({row['test']})"
        named = re.findall(r"`([^`\s]+\.[^`\s]+)`", row["mapping"])
        assert set(named) <= case_ids, f"{where} names unknown cases {sorted(set(named) - case_ids)}"
        if kind(row["mapping"]) == "covered":
            assert named, f"{where} is covered but names no case"
        if kind(row["mapping"]) == "missing":
            gap = re.search(r"\((G[0-9]+)\)", row["mapping"])
            assert gap is not None, f"{where} is missing but names no gap"
            assert f"### {gap[1]}." in text, f"{where} names {gap[1]}, which has no section"
        behaviours = [] if row["behaviour"] == "—" else row["behaviour"].split(", ")
        assert all(b in known for b in behaviours), f"{where} cites {behaviours}"


def test_every_gap_says_what_closed_it_and_those_cases_exist() -> None:
    cases = loader.load_strict([REPO / "spec"])
    case_ids = {case.id for case in cases} | {case.id.split("[", 1)[0] for case in cases}
    text = DOC.read_text(encoding="utf-8")
    sections = re.split(r"^### (G\d+)\. ", text.split("## Gaps", 1)[1], flags=re.MULTILINE)[1:]
    for gap, body in zip(sections[::2], sections[1::2], strict=True):
        closing = re.search(r"^\*\*(Closed by|Still open):\*\* (.*)$", body, re.MULTILINE)
        assert closing is not None, f"{gap} says neither what closed it nor that it is still open"
        named = {name for name in re.findall(r"`([a-z-]+\.[a-z0-9.\[\]-]+)`", closing[2]) if not name.startswith("-")}
        assert named <= case_ids, f"{gap} names unknown cases {sorted(named - case_ids)}"
        if closing[1] == "Closed by":
            assert named, f"{gap} is closed but names no case"
