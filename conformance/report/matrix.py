"""The compatibility matrix of ``reports/README.md``: cases by implementation, grouped by area.

Scores are pass rates per level (must / should / info): a case counts as
passed only with outcome ``pass``; skips count against the rate, because a
capability an implementation lacks is a compatibility gap too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import LEVELS
from .numbers import percent
from .reading import load_results

SYMBOLS = {"pass": "✅", "fail": "❌", "error": "💥", "timeout": "⏱", "skip": "➖"}


@dataclass(frozen=True)
class Implementation:
    name: str
    header: dict[str, Any]
    outcomes: dict[str, str]
    levels: dict[str, str]
    expected: set[str]

    @classmethod
    def load(cls, name: str, path: Path) -> Implementation:
        document = load_results(path)
        cases = document["cases"]
        gate: dict[str, Any] = document["gate"] if isinstance(document.get("gate"), dict) else {}
        unexpected = {entry.get("id") for entry in gate.get("unexpected", []) if isinstance(entry, dict)}
        expected = {c["id"] for c in cases if c["outcome"] != "pass" and c["id"] not in unexpected}
        return cls(
            name=name,
            header=document.get("run", {}),
            outcomes={c["id"]: c["outcome"] for c in cases},
            levels={c["id"]: str(c.get("level", "")) for c in cases},
            expected=expected,
        )

    def score(self, level: str) -> tuple[int, int]:
        ids = [case for case, case_level in self.levels.items() if case_level == level]
        return sum(self.outcomes[case] == "pass" for case in ids), len(ids)


def _percent(passed: int, total: int) -> str:
    return f"{percent(passed, total)} ({passed}/{total})" if total else "–"


def markdown(implementations: list[Implementation], command: str, findings: Sequence[str] = ()) -> str:
    """The matrix; ``findings`` are the timelines' lines (``timeline.findings``), one per behaviour change."""
    names = [impl.name for impl in implementations]
    lines = [
        "# Compatibility report: `connect()` of `cloudflare:sockets`",
        "",
        f"Regenerate with `{command}`.",
        "Each implementation's full results (with transcripts) are in `reports/<implementation>/results.json`.",
        "",
        "## Scores (pass rate per level)",
        "",
        "| implementation | version | runtime | " + " | ".join(LEVELS) + " |",
        "|---|---|---|" + "---|" * len(LEVELS),
    ]
    for impl in implementations:
        adapter = impl.header.get("adapter", {})
        scores = " | ".join(_percent(*impl.score(level)) for level in LEVELS)
        lines.append(f"| {impl.name} | {adapter.get('version', '?')} | {adapter.get('runtime', '?')} | {scores} |")
    lines += [
        "",
        "Legend: "
        + ", ".join(f"{symbol} {outcome}" for outcome, symbol in SYMBOLS.items())
        + "; `*` marks an outcome recorded in the implementation's expectations file (with its reason).",
        "",
    ]
    by_area: dict[str, list[str]] = defaultdict(list)
    all_ids = sorted({case for impl in implementations for case in impl.outcomes})
    for case in all_ids:
        by_area[case.split(".", 1)[0]].append(case)
    levels = {case: level for impl in implementations for case, level in impl.levels.items()}
    for area in sorted(by_area):
        lines += [f"## {area}", "", "| case | level | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for case in by_area[area]:
            cells = []
            for impl in implementations:
                outcome = impl.outcomes.get(case)
                if outcome is None:
                    cells.append("")
                    continue
                cells.append(SYMBOLS[outcome] + ("*" if case in impl.expected else ""))
            lines.append(f"| `{case}` | {levels.get(case, '')} | " + " | ".join(cells) + " |")
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


def write(reports: Path, names: list[str], command: str, findings: Sequence[str] = ()) -> Path:
    implementations = [
        Implementation.load(name, reports / name / "results.json")
        for name in names
        if (reports / name / "results.json").is_file()
    ]
    target = reports / "README.md"
    target.write_text(markdown(implementations, command, findings), encoding="utf-8")
    return target
