"""The compatibility matrix of ``reports/README.md``: cases by implementation, grouped by area.

Scores are pass rates per level (must / should / info) of ``connect()`` itself:
a case counts as passed only with outcome ``pass``; a skip for a capability the
implementation lacks counts against the rate, because that is a compatibility
gap too. A case not run here (the run lacked what it needs, such as the network
sandbox) is left out of the rate and counted apart, with the reason. The
drivers area (real client libraries over ``connect()``) is scored in its own
table, per driver (``drivers.py``): a model of ``connect()`` that runs no
JavaScript, or a runtime without ``node:*`` modules, is not less compatible
with ``connect()`` for it.

The header says, per implementation, the spec revision its run used and the
day it was made on; a run made with another revision than the spec's current
one is marked stale, so an old report never passes for a new one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.model import LEVELS
from . import drivers, model
from .numbers import percent
from .output import markdown_code, markdown_text
from .summary import not_run_here_reason

SYMBOLS = {"pass": "✅", "fail": "❌", "error": "💥", "timeout": "⏱", "skip": "➖"}
NOT_RUN_HERE = "⬜"


@dataclass(frozen=True)
class Implementation:
    name: str
    header: model.RunHeader
    outcomes: dict[str, str]
    levels: dict[str, str]
    expected: set[str]
    """The cases whose outcome the expectations file records (``RunReport.expected``), not run here left out."""
    not_run_here: dict[str, str] = field(default_factory=dict)
    """Each case not run here -> the first line of its message (the reason)."""

    @classmethod
    def load(cls, name: str, path: Path) -> Implementation:
        return cls.of(name, model.load(path))

    @classmethod
    def of(cls, name: str, report: model.RunReport) -> Implementation:
        cases = report.cases
        away = {c.id: c.message.split("\n", 1)[0] for c in cases if c.not_run_here}
        return cls(
            name=name,
            header=report.header,
            outcomes={c.id: c.outcome.value for c in cases},
            levels={c.id: c.level for c in cases},
            expected=set(report.expected or ()) - set(away),
            not_run_here=away,
        )

    def score(self, level: str) -> tuple[int, int]:
        """Passed and scored cases of ``level``; a case not run here is in neither."""
        ids = [
            case for case, case_level in self.levels.items() if case_level == level and not drivers.is_driver_case(case)
        ]
        ids = [case for case in ids if case not in self.not_run_here]
        return sum(self.outcomes[case] == "pass" for case in ids), len(ids)

    def drivers_column(self) -> drivers.Column:
        return drivers.Column(
            self.name, self.outcomes, frozenset(self.not_run_here), frozenset(self.expected), self.header.as_dict()
        )

    @property
    def spec_revision(self) -> str:
        return self.header.spec_revision

    @property
    def run_on(self) -> str:
        """The day the run was made (the date of its ``started`` timestamp)."""
        return self.header.started[:10]


def _percent(passed: int, total: int) -> str:
    return f"{percent(passed, total)} ({passed}/{total})" if total else "–"


def _reasons(impl: Implementation) -> list[str]:
    by_reason: dict[str, int] = defaultdict(int)
    for reason in impl.not_run_here.values():
        by_reason[reason] += 1
    return [markdown_text(not_run_here_reason(reason, count)) for reason, count in by_reason.items()]


def _header_lines(implementations: list[Implementation], current_revision: str | None, command: str) -> list[str]:
    away = any(impl.not_run_here for impl in implementations)
    columns = ["implementation", "version", "runtime", "spec revision", "run on", *LEVELS]
    columns += ["not run here"] if away else []
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for impl in implementations:
        revision = markdown_code(impl.spec_revision or "?")
        if current_revision and impl.spec_revision != current_revision:
            revision += " (stale)"
        cells = [
            markdown_text(impl.name),
            markdown_text(str(impl.header.adapter.get("version", "?"))),
            markdown_text(str(impl.header.adapter.get("runtime", "?"))),
            revision,
            markdown_text(impl.run_on or "?"),
            *(_percent(*impl.score(level)) for level in LEVELS),
        ]
        cells += [str(len(impl.not_run_here))] if away else []
        lines.append("| " + " | ".join(cells) + " |")
    stale = [impl.name for impl in implementations if current_revision and impl.spec_revision != current_revision]
    if stale:
        lines += [
            "",
            f"**Stale**: {', '.join(markdown_text(name) for name in stale)} ran another spec revision than the "
            f"current `{current_revision}`: not the results of today's cases. Regenerate with `{command}`.",
        ]
    for impl in implementations:
        if impl.not_run_here:
            lines += [
                "",
                f"Not run here for {markdown_text(impl.name)} (left out of its scores): " + "; ".join(_reasons(impl)),
            ]
    return lines


def markdown(
    implementations: list[Implementation],
    command: str,
    findings: Sequence[str] = (),
    current_revision: str | None = None,
) -> str:
    """The matrix; ``findings`` are the timelines' lines (``timeline.findings``), one per behaviour change;
    ``current_revision`` is the spec's revision now (``results.current_spec_revision``): a run of another is stale.
    """
    names = [impl.name for impl in implementations]
    lines = [
        "# Compatibility report: `connect()` of `cloudflare:sockets`",
        "",
        f"Regenerate with `{command}`.",
        "Each implementation's full results (with transcripts) are in `reports/<implementation>/results.json`.",
    ]
    if current_revision:
        lines.append(
            f"The spec's current revision is `{current_revision}`; each run below says which revision it ran "
            "and the day it was made on."
        )
    lines += [
        "",
        "## Scores (pass rate per level of connect() itself; the drivers below)",
        "",
        *_header_lines(implementations, current_revision, command),
    ]
    lines += [
        "",
        "Legend: "
        + ", ".join(f"{symbol} {outcome}" for outcome, symbol in SYMBOLS.items())
        + f", {NOT_RUN_HERE} not run here (the run lacked what the case needs; not scored)"
        + "; `*` marks an outcome recorded in the implementation's expectations file (with its reason).",
        "",
        *drivers.markdown([impl.drivers_column() for impl in implementations]),
    ]
    by_area: dict[str, list[str]] = defaultdict(list)
    all_ids = sorted({case for impl in implementations for case in impl.outcomes})
    for case in all_ids:
        by_area[case.split(".", 1)[0]].append(case)
    levels = {case: level for impl in implementations for case, level in impl.levels.items()}
    header = " | ".join(markdown_text(name) for name in names)
    for area in sorted(by_area):
        lines += [
            f"## {markdown_text(area)}",
            "",
            "| case | level | " + header + " |",
            "|---|---|" + "---|" * len(names),
        ]
        for case in by_area[area]:
            cells = []
            for impl in implementations:
                outcome = impl.outcomes.get(case)
                if outcome is None:
                    cells.append("")
                elif case in impl.not_run_here:
                    cells.append(NOT_RUN_HERE)
                else:
                    cells.append(SYMBOLS.get(outcome, markdown_text(outcome)) + ("*" if case in impl.expected else ""))
            lines.append(
                f"| {markdown_code(case)} | {markdown_text(levels.get(case, ''))} | " + " | ".join(cells) + " |"
            )
        lines.append("")
    if findings:
        lines += [
            "## Behaviour changes across versions",
            "",
            "From the timelines under `history/` (`connect-conformance history`, then `bisect --all-changes` for the "
            "exact first version): per case, the first version with the new behaviour and which behaviour conforms.",
            "",
            *findings,
            "",
        ]
    return "\n".join(lines)


def write(
    reports: Path,
    implementations: list[Implementation],
    command: str,
    findings: Sequence[str] = (),
    current_revision: str | None = None,
) -> Path:
    target = reports / "README.md"
    target.write_text(markdown(implementations, command, findings, current_revision), encoding="utf-8")
    return target
