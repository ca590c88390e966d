"""``junit.xml`` for CI systems that render JUnit reports.

Every string passes through ``output.xml_text``: an adapter's message may hold
characters XML 1.0 cannot represent (NUL, ESC, lone surrogates), which would
make the whole file unreadable.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from ..core.outcomes import CaseResult, Outcome
from .output import write_atomically, xml_text


def junit_tree(suite_name: str, results: Sequence[CaseResult], duration_s: float | None = None) -> ET.ElementTree:
    """``duration_s`` is the run's wall time; without it, the sum of the cases' times (lanes overlap)."""
    counts = {outcome: sum(1 for r in results if r.outcome is outcome) for outcome in Outcome}
    total_s = duration_s if duration_s is not None else sum(r.duration_ms for r in results) / 1000
    suite = ET.Element(
        "testsuite",
        {
            "name": xml_text(suite_name),
            "tests": str(len(results)),
            "failures": str(counts[Outcome.FAIL]),
            "errors": str(counts[Outcome.ERROR] + counts[Outcome.TIMEOUT]),
            "skipped": str(counts[Outcome.SKIP]),
            "time": f"{total_s:.3f}",
        },
    )
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": xml_text(result.id.split(".", 1)[0]),
                "name": xml_text(result.id),
                "time": f"{result.duration_ms / 1000:.3f}",
                "file": xml_text(result.file),
                "line": str(result.line),
            },
        )
        full = xml_text(result.message)
        message = full.splitlines()[0] if full else result.outcome.value
        if result.outcome is Outcome.FAIL:
            ET.SubElement(case, "failure", {"message": message, "type": f"fail ({result.level})"}).text = full
        elif result.outcome in (Outcome.ERROR, Outcome.TIMEOUT):
            ET.SubElement(case, "error", {"message": message, "type": result.outcome.value}).text = full
        elif result.outcome is Outcome.SKIP:
            ET.SubElement(case, "skipped", {"message": message})
    return ET.ElementTree(suite)


def write_junit(path: Path, suite_name: str, results: Sequence[CaseResult], duration_s: float | None = None) -> None:
    tree = junit_tree(suite_name, results, duration_s)
    ET.indent(tree)
    buffer = io.BytesIO()
    tree.write(buffer, encoding="utf-8", xml_declaration=True)
    write_atomically(path, buffer.getvalue() + b"\n")
