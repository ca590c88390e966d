"""``summary.md`` and the closing table printed after a run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from ..outcomes import CaseResult, Outcome

_ORDER = [Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT, Outcome.SKIP]


def area_table(results: Sequence[CaseResult]) -> list[list[str]]:
    by_area: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        by_area[result.id.split(".", 1)[0]].append(result)
    rows = []
    for area in sorted(by_area):
        group = by_area[area]
        rows.append([area, str(len(group))] + [str(sum(r.outcome is o for r in group)) for o in _ORDER])
    total = ["total", str(len(results))] + [str(sum(r.outcome is o for r in results)) for o in _ORDER]
    return [*rows, total]


def text_table(results: Sequence[CaseResult]) -> str:
    header = ["area", "cases"] + [o.value for o in _ORDER]
    rows = [header, *area_table(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(row[1:], 1)]
        lines.append("  ".join(cells))
        if index == 0 or index == len(rows) - 2:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown(
    title: str, results: Sequence[CaseResult], notes: Sequence[str] = (), links: Mapping[str, str] | None = None
) -> str:
    """The summary; ``links`` (``links.source_links``) turns each cited behaviour into a link to its section."""
    header = ["area", "cases"] + [o.value for o in _ORDER]
    lines = [f"# {title}", ""]
    lines.extend(notes)
    if notes:
        lines.append("")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in area_table(results):
        lines.append("| " + " | ".join(row) + " |")
    not_passing = [r for r in results if r.outcome is not Outcome.PASS]
    if not_passing:
        columns = "| case | outcome | level | behaviours | message |"
        lines += ["", "## Not passing", "", columns, "|---|---|---|---|---|"]
        for result in not_passing:
            message = result.message.splitlines()[0] if result.message else ""
            message = message.replace("|", "\\|")
            cited = ", ".join(_source(source, links or {}) for source in result.source)
            lines.append(f"| `{result.id}` | {result.outcome.value} | {result.level} | {cited} | {message} |")
    return "\n".join(lines) + "\n"


def _source(source: str, links: Mapping[str, str]) -> str:
    """A cited source for a table cell: a link where it resolves, else code; a pipe never ends the cell."""
    cell = source.replace("|", "\\|")
    link = links.get(source)
    if link:
        return "[" + cell.replace("]", "\\]") + "](" + link + ")"
    return "`" + cell.replace("`", "'") + "`"
