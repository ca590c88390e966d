"""``junit.xml`` for CI systems that render JUnit reports.

Every string passes through ``output.xml_text``: an adapter's message may hold
characters XML 1.0 cannot represent (NUL, ESC, lone surrogates), which would
make the whole file unreadable.
"""

from __future__ import annotations

import io
from pathlib import Path
from xml.etree import ElementTree as ET

from ..core.outcomes import Outcome
from .model import RunReport
from .output import write_atomically, xml_text


def junit_tree(report: RunReport) -> ET.ElementTree:
    """The suite's time is the run's wall time (lanes overlap: it is not the sum of the cases' times)."""
    results = report.cases
    counts = {outcome: sum(1 for r in results if r.outcome is outcome) for outcome in Outcome}
    suite = ET.Element(
        "testsuite",
        {
            "name": xml_text(f"connect-conformance: {report.header.adapter_spec}"),
            "tests": str(len(results)),
            "failures": str(counts[Outcome.FAIL]),
            "errors": str(counts[Outcome.ERROR] + counts[Outcome.TIMEOUT]),
            "skipped": str(counts[Outcome.SKIP]),
            "time": f"{report.header.duration_s:.3f}",
        },
    )
    for result in results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": xml_text(result.id.split(".", 1)[0]),
                "name": xml_text(result.id),
                # From the milliseconds results.json holds, so a rebuild from the file gives the same text.
                "time": f"{round(result.duration_ms, 3) / 1000:.3f}",
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


def document(report: RunReport) -> bytes:
    """junit.xml of ``report``, as UTF-8."""
    tree = junit_tree(report)
    ET.indent(tree)
    buffer = io.BytesIO()
    tree.write(buffer, encoding="utf-8", xml_declaration=True)
    return buffer.getvalue() + b"\n"


def write(path: Path, report: RunReport) -> None:
    write_atomically(path, document(report))
