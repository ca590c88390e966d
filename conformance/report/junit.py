"""``junit.xml`` for CI systems that render JUnit reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from ..outcomes import CaseResult, Outcome


def junit_tree(suite_name: str, results: Sequence[CaseResult]) -> ET.ElementTree:
    counts = {outcome: sum(1 for r in results if r.outcome is outcome) for outcome in Outcome}
    suite = ET.Element(
        "testsuite",
        {
            "name": suite_name,
            "tests": str(len(results)),
            "failures": str(counts[Outcome.FAIL]),
            "errors": str(counts[Outcome.ERROR] + counts[Outcome.TIMEOUT]),
            "skipped": str(counts[Outcome.SKIP]),
            "time": f"{sum(r.duration_ms for r in results) / 1000:.3f}",
        },
    )
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": result.id.split(".", 1)[0],
                "name": result.id,
                "time": f"{result.duration_ms / 1000:.3f}",
                "file": result.file,
                "line": str(result.line),
            },
        )
        message = result.message.splitlines()[0] if result.message else result.outcome.value
        if result.outcome is Outcome.FAIL:
            ET.SubElement(case, "failure", {"message": message, "type": f"fail ({result.level})"}).text = result.message
        elif result.outcome in (Outcome.ERROR, Outcome.TIMEOUT):
            ET.SubElement(case, "error", {"message": message, "type": result.outcome.value}).text = result.message
        elif result.outcome is Outcome.SKIP:
            ET.SubElement(case, "skipped", {"message": message})
    return ET.ElementTree(suite)


def write_junit(path: Path, suite_name: str, results: Sequence[CaseResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = junit_tree(suite_name, results)
    ET.indent(tree)
    temporary = path.with_name(path.name + ".part")
    tree.write(temporary, encoding="utf-8", xml_declaration=True)
    temporary.replace(path)
