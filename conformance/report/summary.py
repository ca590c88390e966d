"""``summary.md`` and the closing table printed after a run.

With an expectations file, a non-pass outcome that the file lists is shown as
``xfail`` (expected) and counted in that column instead of its own, as pytest
does; ``results.json`` keeps the plain outcome. Adapter text goes through
``output.display_text``, so no control character reaches a terminal or the
Markdown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from ..outcomes import CaseResult, Outcome
from .output import display_text

_ORDER = [Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT, Outcome.SKIP]
XFAIL = "xfail"


def _column(result: CaseResult, expected: Collection[str]) -> str:
    return XFAIL if result.id in expected else result.outcome.value


def _columns(expected: Collection[str] | None) -> list[str]:
    return [o.value for o in _ORDER] + ([XFAIL] if expected is not None else [])


def area_table(results: Sequence[CaseResult], expected: Collection[str] | None = None) -> list[list[str]]:
    """Rows of area, cases, and a count per outcome column (``xfail`` too when ``expected`` is given)."""
    columns = _columns(expected)
    known = expected or ()
    by_area: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        by_area[result.id.split(".", 1)[0]].append(result)

    def row(name: str, group: Sequence[CaseResult]) -> list[str]:
        shown = [_column(r, known) for r in group]
        return [display_text(name), str(len(group))] + [str(shown.count(column)) for column in columns]

    return [*(row(area, by_area[area]) for area in sorted(by_area)), row("total", results)]


def text_table(results: Sequence[CaseResult], expected: Collection[str] | None = None) -> str:
    header = ["area", "cases", *_columns(expected)]
    rows = [header, *area_table(results, expected)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(row[1:], 1)]
        lines.append("  ".join(cells))
        if index == 0 or index == len(rows) - 2:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(
    title: str,
    results: Sequence[CaseResult],
    notes: Sequence[str] = (),
    expected: Collection[str] | None = None,
    links: Mapping[str, str] | None = None,
) -> str:
    """The summary; ``links`` (``links.source_links``) turns each cited behaviour into a link to its section."""
    header = ["area", "cases", *_columns(expected)]
    lines = [f"# {display_text(title)}", ""]
    lines.extend(display_text(note) for note in notes)
    if notes:
        lines.append("")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in area_table(results, expected):
        lines.append("| " + " | ".join(row) + " |")
    not_passing = [r for r in results if r.outcome is not Outcome.PASS]
    if not_passing:
        columns = "| case | outcome | level | behaviours | message |"
        lines += ["", "## Not passing", "", columns, "|---|---|---|---|---|"]
        for result in not_passing:
            text = display_text(result.message)
            message = text.splitlines()[0] if text else ""
            message = message.replace("|", "\\|")
            outcome = result.outcome.value
            if expected is not None and result.id in expected:
                outcome += " (expected)"
            cited = ", ".join(_source(source, links or {}) for source in result.source)
            lines.append(
                f"| `{display_text(result.id)}` | {outcome} | {display_text(result.level)} | {cited} | {message} |"
            )
    return "\n".join(lines) + "\n"


def _source(source: str, links: Mapping[str, str]) -> str:
    """A cited source for a table cell: a link where it resolves, else code; a pipe never ends the cell."""
    cell = display_text(source).replace("|", "\\|")
    link = links.get(source)
    if link:
        return "[" + cell.replace("]", "\\]") + "](" + link + ")"
    return "`" + cell.replace("`", "'") + "`"
