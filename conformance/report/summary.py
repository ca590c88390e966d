"""``summary.md`` and the closing table printed after a run.

With an expectations file, a non-pass outcome that the file lists is shown as
``xfail`` (expected) and counted in that column instead of its own, as pytest
does; ``results.json`` keeps the plain outcome. A case not run here (skipped
because the run lacked what it needs, such as the network sandbox:
``CaseResult.not_run_here``) is counted in a column of its own, with the
reason below the table: it is not a gap of the implementation, unlike a skip
for a capability the adapter lacks, which stays in ``skip``.

Adapter text goes through ``output.display_text`` on the terminal, and through
``output.markdown_text`` / ``markdown_code`` in the Markdown, so no control
character reaches a terminal and nothing an implementation says becomes HTML,
a link or the end of a table cell.

Both list, after the table, the divergence signatures of the cases that did
not pass (``signatures.py``), the one explaining most cases first, each with
the cases behind it: what to fix first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from ..core.outcomes import CaseResult, Outcome
from ..core.text import plural
from . import links, signatures
from .model import RunReport
from .output import display_text, markdown_code, markdown_text, write_text

_ORDER = [Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT, Outcome.SKIP]
XFAIL = "xfail"
NOT_RUN_HERE = "not run here"


def _column(result: CaseResult, expected: Collection[str]) -> str:
    if result.not_run_here:
        return NOT_RUN_HERE  # before xfail: a case that did not run cannot have failed as expected
    return XFAIL if result.id in expected else result.outcome.value


def _columns(results: Sequence[CaseResult], expected: Collection[str] | None) -> list[str]:
    columns = [o.value for o in _ORDER] + ([XFAIL] if expected is not None else [])
    return columns + ([NOT_RUN_HERE] if any(r.not_run_here for r in results) else [])


def area_table(results: Sequence[CaseResult], expected: Collection[str] | None = None) -> list[list[str]]:
    """Rows of area, cases, and a count per column (``xfail`` with ``expected``, ``not run here`` if any)."""
    columns = _columns(results, expected)
    known = expected or ()
    by_area: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        by_area[result.id.split(".", 1)[0]].append(result)

    def row(name: str, group: Sequence[CaseResult]) -> list[str]:
        shown = [_column(r, known) for r in group]
        return [name, str(len(group))] + [str(shown.count(column)) for column in columns]

    return [*(row(area, by_area[area]) for area in sorted(by_area)), row("total", results)]


def not_run_here_reason(message: str, count: int) -> str:
    """The sentence for ``count`` cases not run here with this message (its first line):
    "needs the network sandbox: run with --sandbox" gives "29 cases need the network sandbox: run with --sandbox".
    """
    if message.startswith("needs "):
        return f"{count} {'case needs' if count == 1 else 'cases need'} {message.removeprefix('needs ')}"
    return f"{plural(count, 'case')} not run here: {message or 'no reason given'}"


def not_run_here(results: Sequence[CaseResult]) -> list[tuple[str, list[str]]]:
    """Why cases were not run here, as sentences, each with the ids of its cases (one per distinct reason)."""
    by_reason: dict[str, list[str]] = defaultdict(list)
    for result in results:
        if result.not_run_here:
            by_reason[result.message.splitlines()[0] if result.message else ""].append(result.id)
    return [(not_run_here_reason(reason, len(ids)), ids) for reason, ids in by_reason.items()]


def text_table(results: Sequence[CaseResult], expected: Collection[str] | None = None) -> str:
    """The table printed after a run, then a line per reason why cases were not run here."""
    header = ["area", "cases", *_columns(results, expected)]
    rows = [header, *([display_text(row[0]), *row[1:]] for row in area_table(results, expected))]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(row[1:], 1)]
        lines.append("  ".join(cells))
        if index == 0 or index == len(rows) - 2:
            lines.append("  ".join("-" * width for width in widths))
    for reason, _ in not_run_here(results):
        lines.append(f"not run here: {display_text(reason)}")
    return "\n".join(lines)


#: Signatures the terminal shows, and cases of each, without -v (summary.md lists them all).
SIGNATURES_SHOWN = 10
CASES_SHOWN = 5
FIX_FIRST = "what to fix first"


def text_signatures(results: Sequence[CaseResult], everything: bool = False) -> str:
    """The signatures of the cases that did not pass, most cases first, each with its cases; "" when none.

    Without ``everything`` (``-v``) the first ``SIGNATURES_SHOWN`` signatures and ``CASES_SHOWN`` cases
    of each, saying how many more there are.
    """
    groups = signatures.grouped(results)
    if not groups:
        return ""
    failing = sum(len(group.cases) for group in groups)
    lines = [
        f"{FIX_FIRST}: {plural(failing, 'case')} that did not pass, by first divergence "
        f"({plural(len(groups), 'signature')}, most cases first):"
    ]
    width = len(str(len(groups[0].cases)))
    shown_groups = groups if everything else groups[:SIGNATURES_SHOWN]
    for group in shown_groups:
        lines.append(f"  {len(group.cases):>{width}}  {display_text(group.signature)}")
        ids = group.cases if everything else group.cases[:CASES_SHOWN]
        more = len(group.cases) - len(ids)
        listed = ", ".join(display_text(case_id) for case_id in ids)
        lines.append(f"  {'':>{width}}  {listed}{f', and {more} more' if more else ''}")
    if len(groups) > len(shown_groups):
        rest = groups[len(shown_groups) :]
        cases = sum(len(group.cases) for group in rest)
        lines.append(
            f"  and {plural(len(rest), 'more signature')} ({plural(cases, 'case')}): -v lists them, "
            "summary.md and the HTML report too"
        )
    return "\n".join(lines)


def markdown_signatures(groups: Sequence[signatures.Group], heading: str = "## What to fix first") -> list[str]:
    """Lines of Markdown: the signatures as a table, most cases first, each with its cases; none when empty."""
    if not groups:
        return []
    failing = sum(len(group.cases) for group in groups)
    return [
        "",
        heading,
        "",
        f"The {plural(failing, 'case')} that did not pass, grouped by where each first diverged (the step, "
        "what it is about, and the class of the difference), the signature that explains most cases first.",
        "",
        "| cases | first divergence | the cases |",
        "|---:|---|---|",
        *(
            f"| {len(group.cases)} | {markdown_code(group.signature)} | "
            + ", ".join(markdown_code(case_id) for case_id in group.cases)
            + " |"
            for group in groups
        ),
    ]


def markdown(
    title: str,
    results: Sequence[CaseResult],
    notes: Sequence[str] = (),
    expected: Collection[str] | None = None,
    links: Mapping[str, str] | None = None,
) -> str:
    """The summary; ``links`` (``links.source_links``) turns each cited behaviour into a link to its section.

    ``notes`` are lines of Markdown written by the caller, who passes any text of the
    implementation in them through ``output.markdown_text`` or ``markdown_code``.
    """
    header = ["area", "cases", *_columns(results, expected)]
    lines = [f"# {markdown_text(title)}", ""]
    lines.extend(display_text(note) for note in notes)
    if notes:
        lines.append("")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    for row in area_table(results, expected):
        lines.append("| " + " | ".join([markdown_text(row[0]), *row[1:]]) + " |")
    away = not_run_here(results)
    if away:
        lines += [
            "",
            "## Not run here",
            "",
            "The run lacked what these cases need: they are neither skips (gaps of the implementation) nor in any "
            "score.",
            "",
        ]
        for reason, ids in away:
            lines.append(f"- {markdown_text(reason)}: " + ", ".join(markdown_code(i, in_table=False) for i in ids))
    not_passing = [r for r in results if r.outcome is not Outcome.PASS and not r.not_run_here]
    if not_passing:
        columns = "| case | outcome | level | behaviours | message |"
        lines += ["", "## Not passing", "", columns, "|---|---|---|---|---|"]
        for result in not_passing:
            message = markdown_text(result.message.splitlines()[0] if result.message else "")
            outcome = result.outcome.value
            if expected is not None and result.id in expected:
                outcome += " (expected)"
            cited = ", ".join(_source(source, links or {}) for source in result.source)
            lines.append(
                f"| {markdown_code(result.id)} | {outcome} | {markdown_text(result.level)} | {cited} | {message} |"
            )
    lines += markdown_signatures(signatures.grouped(results))
    return "\n".join(lines) + "\n"


def _source(source: str, links: Mapping[str, str]) -> str:
    """A cited source for a table cell: a link where it resolves, else code; a pipe never ends the cell."""
    link = links.get(source)
    if link:
        return "[" + markdown_text(source) + "](" + link + ")"
    return markdown_code(source)


def page(report: RunReport, folder: Path) -> str:
    """summary.md of ``report``, for the folder it is written in (cited behaviours link relative to it)."""
    header = report.header
    # The adapter's spec and runtime are the implementation's words: Markdown-escaped.
    runtime = markdown_text(str(header.adapter.get("runtime", "?")))
    notes = [
        f"Adapter {markdown_code(header.adapter_spec, in_table=False)} ({runtime}), suite {header.suite_version}, "
        f"spec revision `{header.spec_revision}`, run on {header.started[:10]}, {header.duration_s:.1f} s."
    ]
    notes.append(
        "Run inside the network sandbox (docs/sandbox.md)."
        if header.sandboxed
        else "Run outside the network sandbox: the cases that need it were not run here."
    )
    if header.shard is not None:
        balance = (
            f"balanced by the durations in {markdown_code(header.shard.durations, in_table=False)}"
            if header.shard.durations
            else "split by a stable hash of the case ids"
        )
        notes.append(
            f"Shard {header.shard}: {plural(len(report.cases), 'case')} of the {header.shard.selected} selected "
            f"({balance}); `report merge` joins the shards."
        )
    if header.shards is not None:
        listed = ", ".join(f"{shard.index}/{shard.total}" for shard in header.shards)
        notes.append(f"Merged from {plural(len(header.shards), 'shard')} ({listed}) with `report merge`.")
    if header.interrupted:
        notes.append("**Interrupted**: partial results.")
    cited = {source for result in report.cases for source in result.source}
    sources = links.source_links(cited, folder)
    return markdown("connect-conformance results", report.cases, notes, report.expected, sources)


def write(path: Path, report: RunReport) -> None:
    write_text(path, page(report, path.parent))
