"""Markdown made from what an implementation said renders as that text (issue 19, item 5).

``summary.md`` and ``report compare``'s output are read rendered (a forge, a CI
comment): an error message like ``<img src=x onerror=...>`` must not become an
element, ``[x](javascript:...)`` not a link, a pipe not the end of a cell and a
backtick not the end of a code span. No Markdown renderer is installed, so the
tests check the source: outside code spans no ``<`` or ``>`` at all (our own
Markdown never uses them) and no ``[`` or backtick that is not escaped, and
every table row with as many cells as its header.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conformance.core import text
from conformance.core.outcomes import CaseResult, Outcome
from conformance.report import compare, output, run_files
from conformance.report.model import Gate, RunReport
from tests.helpers import run_report, save_report

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "<!-- the rest of the page is a comment",
    "</details></summary></table>",
    "[click](javascript:alert(1)) ![pixel](https://tracker.invalid/p.png)",
    "a | b || c \\| d",
    "`code` and ``` fences ```",
    "&lt;b&gt; stays &amp; literal",
    "ends with a backslash \\",
    "two\nlines # heading",
]
MARK = " ".join(HOSTILE)
# A pipe that ends a cell: one preceded by an even number of backslashes (none, or escaped backslashes).
CELL_BREAK = re.compile(r"(?<!\\)(?:\\\\)*\|")


def cells(row: str) -> int:
    """How many cells a GFM table row has (its leading and trailing pipes are not cells)."""
    return len(CELL_BREAK.findall(row)) - 1


def outside_code(text: str) -> str:
    """``text`` without its code spans (each opened and closed by a run of backticks of one length)."""
    return re.sub(r"(?<![`\\])(`+)(?!`).*?(?<!`)\1(?!`)", "", text)


def assert_inert(text: str) -> None:
    loose = outside_code(text)  # a code span shows < and > as they are
    assert re.search("[<>]", loose) is None, "an implementation's text became markup"
    assert re.search(r"(?<!\\)(?:\\\\)*[\[\]]", loose) is None, "an unescaped [ or ] can make a link or an image"
    assert re.search(r"(?<!\\)(?:\\\\)*`", loose) is None, "an unescaped backtick opens a code span"


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_text_is_inert_and_one_line(text: str) -> None:
    shown = output.markdown_text(text)
    assert_inert(shown)
    assert "\n" not in shown
    assert cells(f"| {shown} |") == 1


@pytest.mark.parametrize("text", ["plain", "a`b", "``x``", "`", "a | b", "<img src=x>", " ", ""])
def test_markdown_code_is_one_span_that_its_text_cannot_close(text: str) -> None:
    span = output.markdown_code(text)
    fence = re.match("`+", span)
    assert fence is not None
    inner = span[len(fence.group()) : -len(fence.group())]
    assert span.endswith(fence.group())
    assert fence.group() not in re.findall("`+", inner), "a run as long as the fence would close the span early"
    assert cells(f"| {span} |") == 1


def _run(cases: list[CaseResult], gate: Gate | None = None, runtime: str = "rt", spec: str = "stdio:impl") -> RunReport:
    adapter = {"name": "impl", "version": "1", "runtime": runtime}
    return run_report(cases, gate, adapter=adapter, adapter_spec=spec, started="2026-12-01T10:00:00+00:00")


def test_summary_shows_what_the_implementation_said_as_text(tmp_path: Path) -> None:
    done = [
        CaseResult(id="area.one", outcome=Outcome.FAIL, level="must", message=MARK, source=(HOSTILE[0], HOSTILE[4])),
        CaseResult(id="area.two", outcome=Outcome.ERROR, level="must", message=HOSTILE[3]),
        CaseResult(id="area.three", outcome=Outcome.PASS, level="must"),
    ]
    run_files.write_reports(tmp_path, _run(done, Gate(ok=False), runtime=MARK, spec="stdio:" + HOSTILE[1]))
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert_inert(text)
    rows = [line for line in text.splitlines() if line.startswith("| `area.")]
    assert [cells(row) for row in rows] == [5, 5]
    assert "onerror=alert(1)" in text, "the text itself is kept"
    assert "run on 2026-12-01" in text


def test_compare_markdown_shows_what_the_files_said_as_text() -> None:
    before = {
        "a.x": compare.Seen("pass", "must", ""),
        "a.y": compare.Seen("fail", "must", ""),
    }
    after = {
        "a.x": compare.seen(CaseResult(id="a.x", outcome=Outcome.FAIL, level="must", message=MARK)),
        "a.y": compare.Seen("error", HOSTILE[2], HOSTILE[3]),
        "a.z": compare.Seen("fail", "must", HOSTILE[4]),
    }
    text = compare.markdown(compare.compare(before, after, "old " + HOSTILE[0], "new " + HOSTILE[1]))
    assert_inert(text)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [cells(row) for row in rows] == [5, 5, 5]


def test_compare_names_old_then_new() -> None:
    text = compare.markdown(compare.compare({}, {}, "first (old.json)", "second (new.json)"))
    assert text.splitlines()[0] == "## connect-conformance: first (old.json) → second (new.json)"


@pytest.mark.parametrize(
    ("regressions", "fixes", "counts"),
    [(1, 1, "1 regression, 1 fix,"), (2, 2, "2 regressions, 2 fixes,"), (0, 0, "0 regressions, 0 fixes,")],
)
def test_compare_counts_in_the_right_number(regressions: int, fixes: int, counts: str) -> None:
    before = {f"a.r{n}": compare.Seen("pass", "must", "") for n in range(regressions)}
    before |= {f"a.f{n}": compare.Seen("fail", "must", "") for n in range(fixes)}
    after = {case: compare.Seen("pass" if case.startswith("a.f") else "fail", "must", "") for case in before}
    assert counts in compare.markdown(compare.compare(before, after))


def test_plural() -> None:
    assert [text.plural(n, "case") for n in (0, 1, 2)] == ["0 cases", "1 case", "2 cases"]
    assert text.plural(2, "fix", "fixes") == "2 fixes"


def test_a_timeline_shows_what_its_runs_said_as_text(tmp_path: Path) -> None:
    from conformance.report import timeline

    folder = tmp_path / "toy"
    for version, outcome in (("1.0.0", Outcome.PASS), ("1.1.0", Outcome.FAIL)):
        report = _run([CaseResult(id="area.one", outcome=outcome, level="must")], runtime=HOSTILE[0])
        report.header.error = HOSTILE[3] if version == "1.1.0" else None
        save_report(folder / version, report)
    (folder / "history.json").write_text(
        json.dumps({"versions": [{"version": "0.9.0", "status": "cannot run", "reason": HOSTILE[1]}]})
    )
    line = timeline.load(folder)
    page = timeline.markdown(line)
    assert_inert(page)
    assert all(cells(row) == 4 for row in page.splitlines() if row.startswith("| 1."))
    heading, *rest = timeline.findings(line, "history/toy/README.md")
    assert heading == "### toy ([timeline](history/toy/README.md), 2 versions)"  # our own link
    assert_inert("\n".join(rest))
