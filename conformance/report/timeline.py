"""A runtime's compatibility timeline: one ``results.json`` per version, read back and compared.

``reports/history/<family>/`` holds ``<version>/results.json`` for every version
``connect-conformance history`` ran (and ``history.json``, the versions it tried,
with the reason of any that could not run; ``bisect.json``, what ``bisect`` found).
This module only reads them (it never runs a case): ``load`` gives a ``Timeline``,
``markdown`` its ``README.md`` (per version the cases that changed from the
previous version, per case the outcome on every version; what came from the
results files is Markdown-escaped, ``output.markdown_text``), ``findings`` the lines
of behaviour changes for ``reports/README.md``, and ``html_data`` the timeline
view of the HTML report.

A *change* is a case whose outcome differs between two consecutive versions that
both ran it. "First version with the new behaviour" is exact when ``bisect``
searched that interval (its record is in ``bisect.json``), else it is the first
sampled version showing it, and the line says after which one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..adapters.npm_versions import is_version, semver_key
from ..core.outcomes import CaseResult
from ..core.text import plural
from . import model
from .model import summary_counts
from .output import markdown_code, markdown_text

SYMBOLS = {"pass": "✅", "fail": "❌", "error": "💥", "timeout": "⏱", "skip": "➖"}
MANIFEST = "history.json"
#: Families whose versions run a workerd release (with that release's date as compatibility date).
WORKERD_BASED = ("workerd", "miniflare")
BISECTS = "bisect.json"


@dataclass(frozen=True)
class VersionRun:
    version: str
    adapter: dict[str, Any]
    """The run header's adapter (hello): name, version, runtime, capabilities."""
    outcomes: dict[str, str]
    levels: dict[str, str]
    summary: dict[str, int]
    spec_revision: str
    started: str
    duration_s: float | None
    error: str | None


@dataclass(frozen=True)
class Change:
    case: str
    before: str
    after: str
    previous: str
    """The version run before ``version``, with the old outcome."""
    version: str
    """The first version run with the new outcome."""
    first: str | None = None
    """The first published version with the new outcome, when ``bisect`` searched between the two."""
    last_old: str | None = None
    """The last published version with the old outcome, likewise."""


@dataclass
class Timeline:
    family: str
    runs: list[VersionRun]
    unusable: dict[str, str] = field(default_factory=dict)
    """Versions that could not run at all, with the reason."""
    commands: list[str] = field(default_factory=list)
    """The ``history`` commands that made this folder, in order."""
    bisects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def versions(self) -> list[str]:
        return [run.version for run in self.runs]

    def cases(self) -> list[str]:
        return sorted({case for run in self.runs for case in run.outcomes})

    def level(self, case: str) -> str:
        return next((run.levels[case] for run in reversed(self.runs) if case in run.levels), "")

    def changes(self) -> list[Change]:
        found: list[Change] = []
        for older, newer in zip(self.runs, self.runs[1:], strict=False):
            for case in sorted(set(older.outcomes) & set(newer.outcomes)):
                if older.outcomes[case] != newer.outcomes[case]:
                    found.append(
                        self._refined(
                            Change(case, older.outcomes[case], newer.outcomes[case], older.version, newer.version)
                        )
                    )
        return found

    def _refined(self, change: Change) -> Change:
        """The change with its exact first version, when a bisect searched inside its interval."""
        low, high = semver_key(change.previous), semver_key(change.version)
        for record in self.bisects:
            first, last = str(record.get("first_new", "")), str(record.get("last_old", ""))
            if record.get("case") != change.case or not (is_version(first) and is_version(last)):
                continue
            if low <= semver_key(last) < semver_key(first) <= high:
                return replace(change, first=first, last_old=last)
        return change

    def changed_cases(self) -> list[str]:
        return sorted({change.case for change in self.changes()})

    @property
    def spec_revisions(self) -> list[str]:
        """The spec revisions its versions ran (one, unless the timeline mixes runs of different spec files)."""
        return sorted({run.spec_revision for run in self.runs if run.spec_revision})

    @property
    def run_dates(self) -> list[str]:
        """The first and the last day its versions were run on (one day when they are the same)."""
        days = sorted({run.started[:10] for run in self.runs if run.started})
        return [days[0], days[-1]] if len(days) > 1 else days

    def provenance(self, current_revision: str | None = None) -> str:
        """ "spec revision `X`, run on D" (Markdown), and whether that revision is stale."""
        revisions = ", ".join(markdown_code(revision, in_table=False) for revision in self.spec_revisions) or "unknown"
        days = markdown_text(" to ".join(self.run_dates)) or "an unknown day"
        text = f"spec revision {revisions}, run on {days}"
        if current_revision and self.spec_revisions != [current_revision]:
            text += f" (stale: the spec's current revision is `{current_revision}`)"
        return text


def _load_run(version: str, path: Path) -> VersionRun:
    """What a timeline keeps of a version's run; its transcripts are read one case at a time and dropped."""
    kept: list[CaseResult] = []

    def keep(case: CaseResult) -> None:
        kept.append(CaseResult(id=case.id, outcome=case.outcome, level=case.level))

    run = model.scan(path, keep)
    return VersionRun(
        version=version,
        adapter=run.adapter,
        outcomes={c.id: c.outcome.value for c in kept},
        levels={c.id: c.level for c in kept},
        summary=summary_counts(kept),
        spec_revision=run.spec_revision,
        started=run.started,
        duration_s=run.duration_s,
        error=run.error,
    )


def load(folder: Path) -> Timeline:
    """The timeline of ``reports/history/<family>/``: every ``<version>/results.json``, oldest first."""
    manifest: dict[str, Any] = {}
    if (folder / MANIFEST).is_file():
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    bisects: list[dict[str, Any]] = []
    if (folder / BISECTS).is_file():
        bisects = list(json.loads((folder / BISECTS).read_text(encoding="utf-8")).get("bisects", []))
    versions = sorted(
        (entry.name for entry in folder.iterdir() if is_version(entry.name) and (entry / "results.json").is_file()),
        key=semver_key,
    )
    unusable = {
        str(item["version"]): str(item.get("reason", ""))
        for item in manifest.get("versions", [])
        if item.get("status") == "cannot run" and str(item.get("version")) not in versions
    }
    return Timeline(
        family=str(manifest.get("family") or folder.name),
        runs=[_load_run(version, folder / version / "results.json") for version in versions],
        unusable=unusable,
        commands=[str(command) for command in manifest.get("commands", [])],
        bisects=bisects,
    )


def _counts(run: VersionRun) -> str:
    parts = [f"{markdown_text(str(run.summary.get(name, 0)))} {name}" for name in SYMBOLS if run.summary.get(name)]
    return ", ".join(parts) or "no cases"


def markdown(timeline: Timeline) -> str:
    runs = timeline.runs
    lines = [
        f"# Compatibility timeline: {timeline.family}",
        "",
        f"Outcomes of the suite on {plural(len(runs), 'published version')} of {timeline.family}, oldest first "
        f"({timeline.provenance()}).",
    ]
    if timeline.commands:
        lines.append("Regenerate with " + ", then ".join(f"`{command}`" for command in timeline.commands) + ".")
    if timeline.family in WORKERD_BASED:
        lines.append(
            "Each workerd release runs with its own release date as compatibility date (the newest it accepts), so a "
            "change behind a compatibility flag shows up at the first release dated after the flag."
        )
    lines += [
        "Each version's full results (with transcripts) are in `<version>/results.json`; "
        "`index.html` is the same timeline in the offline HTML report.",
        "",
        "## Versions",
        "",
        "| version | runtime | outcomes | changed from the previous version |",
        "|---|---|---|---|",
    ]
    changes = timeline.changes()
    by_version: dict[str, list[Change]] = {}
    for change in changes:
        by_version.setdefault(change.version, []).append(change)
    for run in runs:
        note = f" (run failed: {markdown_text(str(run.error))})" if run.error else ""
        lines.append(
            f"| {run.version} | {markdown_text(str(run.adapter.get('runtime', '?')))} | {_counts(run)}{note} | "
            f"{len(by_version.get(run.version, []))} |"
        )
    for version, reason in sorted(timeline.unusable.items(), key=lambda item: semver_key(item[0])):
        lines.append(f"| {version} | cannot run | {markdown_text(reason)} | |")
    revisions = sorted({run.spec_revision for run in runs})
    if len(revisions) > 1:
        shown = ", ".join(markdown_code(revision, in_table=False) for revision in revisions)
        lines += ["", f"Note: these runs used {len(revisions)} spec revisions ({shown})."]
    lines += ["", "## Changes per version", ""]
    if not changes:
        lines.append("No case changed its outcome between consecutive versions.")
    for run in runs:
        found = by_version.get(run.version)
        if not found:
            continue
        previous = found[0].previous
        lines += [f"### {run.version} (from {previous})", ""]
        for change in found:
            exact = f" (first in {change.first}, found by bisect)" if change.first else ""
            lines.append(
                f"- {markdown_code(change.case, in_table=False)}: {SYMBOLS.get(change.before, '')} "
                f"{markdown_text(change.before)} → {SYMBOLS.get(change.after, '')} {markdown_text(change.after)}{exact}"
            )
        lines.append("")
    lines += _per_case(timeline, set(timeline.changed_cases()))
    return "\n".join(lines).rstrip("\n") + "\n"


def _per_case(timeline: Timeline, changed: set[str]) -> list[str]:
    runs = timeline.runs
    lines = [
        "## Per case",
        "",
        "Cases whose outcome differs between versions, with the outcome on each version "
        "(" + ", ".join(f"{symbol} {name}" for name, symbol in SYMBOLS.items()) + "; blank: not run):",
        "",
        "| case | level | " + " | ".join(run.version for run in runs) + " |",
        "|---|---|" + "---|" * len(runs),
    ]
    for case in sorted(changed):
        cells = [SYMBOLS.get(run.outcomes.get(case, ""), "") for run in runs]
        lines.append(f"| {markdown_code(case)} | {markdown_text(timeline.level(case))} | " + " | ".join(cells) + " |")
    steady = [case for case in timeline.cases() if case not in changed]
    by_outcome: dict[str, list[str]] = {}
    for case in steady:
        seen = {run.outcomes[case] for run in runs if case in run.outcomes}
        by_outcome.setdefault("/".join(sorted(seen)), []).append(case)
    verb = "has" if len(steady) == 1 else "have"
    lines += [
        "",
        f"The other {plural(len(steady), 'case')} {verb} the same outcome on every version that ran them:",
        "",
    ]
    for outcome, cases in sorted(by_outcome.items()):
        listed = ", ".join(markdown_code(case, in_table=False) for case in cases)
        lines.append(f"- {SYMBOLS.get(outcome, '')} {markdown_text(outcome)} ({len(cases)}): " + listed)
    return lines


def findings(timeline: Timeline, link: str, current_revision: str | None = None) -> list[str]:
    """Markdown for ``reports/README.md``: a heading, the spec revision and days of the runs (marked stale
    when the revision is not ``current_revision``), then one line per behaviour change (case, first
    version with the new behaviour, which one conforms), in the order of the versions."""
    changes = sorted(timeline.changes(), key=lambda c: (semver_key(c.first or c.version), c.case))
    if not changes:
        return []
    lines = [
        f"### {timeline.family} ([timeline]({link}), {plural(len(timeline.runs), 'version')})",
        "",
        f"Runs of {timeline.provenance(current_revision)}.",
        "",
    ]
    for change in changes:
        if change.after == "pass":
            verdict = "the new behaviour conforms"
        elif change.before == "pass":
            verdict = "the old behaviour conforms (a regression)"
        else:
            verdict = "neither conforms"
        where = (
            f"first in {change.first} ({change.last_old} has the old behaviour)"
            if change.first
            else f"first seen in {change.version} ({change.previous} has the old behaviour; not bisected)"
        )
        case, before, after = (
            markdown_code(change.case, in_table=False),
            markdown_text(change.before),
            markdown_text(change.after),
        )
        lines.append(f"- {case}: {where}: {before} → {after}; {verdict}")
    lines.append("")
    return lines


def html_data(timeline: Timeline, page: str) -> dict[str, Any]:
    """What the HTML report's timeline view draws; ``page`` is where the versions' transcripts are."""
    changes = timeline.changes()
    return {
        "family": timeline.family,
        "page": page,
        "commands": timeline.commands,
        "spec_revisions": timeline.spec_revisions,
        "run_dates": timeline.run_dates,
        "versions": [
            {
                "version": run.version,
                "runtime": str(run.adapter.get("runtime", "")),
                "summary": run.summary,
                "error": run.error,
                "changes": [
                    {"case": c.case, "before": c.before, "after": c.after, "previous": c.previous, "first": c.first}
                    for c in changes
                    if c.version == run.version
                ],
            }
            for run in timeline.runs
        ],
        "unusable": [{"version": v, "reason": r} for v, r in sorted(timeline.unusable.items())],
    }


def load_all(history: Path) -> list[Timeline]:
    """Every family's timeline under ``reports/history/``."""
    if not history.is_dir():
        return []
    return [load(folder) for folder in sorted(history.iterdir()) if folder.is_dir() and any(folder.iterdir())]


def write_markdown(folder: Path, timeline: Timeline) -> Path:
    target = folder / "README.md"
    target.write_text(markdown(timeline), encoding="utf-8")
    return target
