"""``report compare OLD NEW``: what changed between two runs, for a CI comment.

A regression is a case that passed in OLD and does not pass in NEW (a fail,
error, timeout, or a skip that hides it). A fix is the reverse. Cases present
in only one run are listed as new or removed; a case whose non-pass outcome
changed kind (fail -> error) is listed as changed. A case not run here
(``skipped_by: environment``: the run lacked the network sandbox) in either
run is not compared: it is listed apart, neither a regression nor a fix.

Regressions are also grouped by their divergence signature in NEW (where each
first diverged, ``signatures.py``), the signature explaining most first: one
root cause behind many regressions shows as one line. When the two runs used
different spec revisions, the comparison says so first: cases may have been
added, removed or changed by the spec rather than by the implementation.

Both files are checked as ``report validate`` checks them, one case at a
time, and only what a comparison needs is kept per case: a file it rejects is
a usage error (exit 2) naming the file and the problem, never "No regression".
Everything from the files reaches the Markdown through ``output.markdown_text``
or ``output.markdown_code``: it is a CI comment, rendered as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.outcomes import CaseResult
from ..core.text import plural
from ..errors import UsageError
from . import model, signatures
from .output import display_text, markdown_code, markdown_text

#: Characters of a message kept for the comment: its first line, cut here.
MESSAGE_CHARS = 240


@dataclass(frozen=True)
class Seen:
    """One case of a run, as much as a comparison needs."""

    outcome: str
    level: str
    message: str
    not_run_here: bool = False
    #: Where the case first diverged (``signatures.of_case``); None when it passed or was skipped.
    signature: str | None = None


@dataclass
class Change:
    id: str
    old: str | None
    new: str | None
    level: str
    message: str = ""
    #: Which side was not run here (shown in the Markdown; the outcomes stay the files' own).
    not_run_here: tuple[bool, bool] = (False, False)
    #: NEW's divergence signature of the case, if it did not pass there.
    signature: str | None = None

    def as_dict(self) -> dict[str, Any]:
        change: dict[str, Any] = {
            "id": self.id,
            "old": self.old,
            "new": self.new,
            "level": self.level,
            "message": self.message,
        }
        if self.signature is not None:
            change["signature"] = self.signature
        return change


@dataclass
class Comparison:
    old_name: str
    new_name: str
    regressions: list[Change] = field(default_factory=list)
    fixes: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    not_run_here: list[Change] = field(default_factory=list)
    unchanged: int = 0
    #: The spec revision each run recorded (``run.spec_revision``): unequal revisions ran different spec files.
    old_revision: str = ""
    new_revision: str = ""

    @property
    def same(self) -> bool:
        """Both runs have the same cases with the same outcomes (and the same spec revision)."""
        changes = (self.regressions, self.fixes, self.changed, self.added, self.removed, self.not_run_here)
        return not any(changes) and not self.revisions_differ

    @property
    def revisions_differ(self) -> bool:
        return self.old_revision != self.new_revision

    @property
    def regression_groups(self) -> list[signatures.Group]:
        """The regressions by NEW's divergence signature, the one explaining most first."""
        return signatures.group_ids((change.id, change.signature) for change in self.regressions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "old": self.old_name,
            "new": self.new_name,
            "spec_revisions": {"old": self.old_revision, "new": self.new_revision},
            "regressions": [c.as_dict() for c in self.regressions],
            "regressions_by_signature": [group.as_dict() for group in self.regression_groups],
            "fixes": [c.as_dict() for c in self.fixes],
            "changed": [c.as_dict() for c in self.changed],
            "new_cases": [c.as_dict() for c in self.added],
            "removed_cases": [c.as_dict() for c in self.removed],
            "not_run_here": [c.as_dict() for c in self.not_run_here],
            "unchanged": self.unchanged,
        }


def _first_line(text: str) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 1] + "…"


def seen(case: CaseResult) -> Seen:
    return Seen(
        outcome=case.outcome.value,
        level=case.level,
        message=_first_line(case.message),
        not_run_here=case.not_run_here,
        signature=signatures.of_case(case),
    )


def compare(
    before: dict[str, Seen], after: dict[str, Seen], old_name: str = "old", new_name: str = "new"
) -> Comparison:
    """The comparison of two runs' cases (id -> ``Seen``), OLD first."""
    result = Comparison(old_name, new_name)
    for case_id in sorted(set(before) | set(after)):
        was, now = before.get(case_id), after.get(case_id)
        level = (now or was or Seen("", "", "")).level
        change = Change(case_id, was.outcome if was else None, now.outcome if now else None, level)
        change.message = now.message if now else ""
        change.signature = now.signature if now else None
        change.not_run_here = (bool(was and was.not_run_here), bool(now and now.not_run_here))
        if was is None:
            result.added.append(change)
        elif now is None:
            result.removed.append(change)
        elif was.outcome == now.outcome and was.not_run_here == now.not_run_here:
            result.unchanged += 1
        elif was.not_run_here or now.not_run_here:
            result.not_run_here.append(change)
        elif was.outcome == "pass":
            result.regressions.append(change)
        elif now.outcome == "pass":
            result.fixes.append(change)
        else:
            result.changed.append(change)
    return result


def _label(header: model.RunHeader, path: Path) -> str:
    name = f"{header.adapter_name or '?'} {header.adapter_version}".strip()
    return f"{name} ({model.results_path(path)})"


def read_run(path: Path) -> tuple[model.RunHeader, str, dict[str, Seen]]:
    """A run's header, label and cases, read one at a time; ``UsageError`` naming the file and its problems
    unless it is valid."""
    cases: dict[str, Seen] = {}

    def keep(case: CaseResult) -> None:
        cases[case.id] = seen(case)

    try:
        header = model.scan(path, keep)
    except model.ResultsFileError as error:
        raise UsageError(f"{error}: nothing was compared") from None
    return header, _label(header, path), cases


def compare_files(old_path: Path, new_path: Path) -> Comparison:
    """Compare two results files; ``UsageError`` naming a file that ``report validate`` rejects."""
    old_header, old_name, before = read_run(old_path)
    new_header, new_name, after = read_run(new_path)
    comparison = compare(before, after, old_name, new_name)
    comparison.old_revision, comparison.new_revision = old_header.spec_revision, new_header.spec_revision
    return comparison


def _outcome(outcome: str | None, not_run_here: bool) -> str:
    if outcome is None:
        return "–"
    return markdown_text(outcome) + (" (not run here)" if not_run_here else "")


def markdown(comparison: Comparison) -> str:
    old, new = markdown_text(comparison.old_name), markdown_text(comparison.new_name)
    lines = [f"## connect-conformance: {old} → {new}", ""]
    counts = [
        plural(len(comparison.regressions), "regression"),
        plural(len(comparison.fixes), "fix", "fixes"),
        f"{len(comparison.changed)} changed",
        f"{len(comparison.added)} new",
        f"{len(comparison.removed)} removed",
    ]
    if comparison.not_run_here:
        counts.append(f"{len(comparison.not_run_here)} not run here in one run (not compared)")
    counts.append(f"{comparison.unchanged} unchanged")
    lines.append(("**Regressions found.** " if comparison.regressions else "No regression. ") + ", ".join(counts))
    if comparison.same and comparison.unchanged:  # two empty runs: the counts say it all
        lines += ["", f"No difference: the same {plural(comparison.unchanged, 'case')}, each with the same outcome."]
    if comparison.revisions_differ:
        old_revision = markdown_code(comparison.old_revision, in_table=False)
        new_revision = markdown_code(comparison.new_revision, in_table=False)
        lines += [
            "",
            f"**Warning: the runs used different spec revisions** ({old_revision} → {new_revision}): "
            f"{plural(len(comparison.added), 'case')} added and {len(comparison.removed)} removed (listed below), "
            "and a case whose spec file changed may differ because of the spec, not the implementation.",
        ]
    groups = comparison.regression_groups
    if groups:
        lines += [
            "",
            "### Regressions by first divergence",
            "",
            "| regressions | first divergence in NEW | cases |",
            "|---:|---|---|",
        ]
        for group in groups:
            listed = ", ".join(markdown_code(case_id) for case_id in group.cases)
            lines.append(f"| {len(group.cases)} | {markdown_code(group.signature)} | {listed} |")
    sections = [
        ("Regressions", comparison.regressions),
        ("Fixes", comparison.fixes),
        ("Changed (non-pass to another non-pass)", comparison.changed),
        ("New cases", comparison.added),
        ("Removed cases", comparison.removed),
        ("Not run here in one of the runs (not compared)", comparison.not_run_here),
    ]
    for title, changes in sections:
        if not changes:
            continue
        lines += ["", f"### {title}", "", "| case | level | before | after | message |", "|---|---|---|---|---|"]
        for change in changes:
            before = _outcome(change.old, change.not_run_here[0])
            after = _outcome(change.new, change.not_run_here[1])
            cells = [
                markdown_code(change.id),
                markdown_text(change.level),
                before,
                after,
                markdown_text(change.message),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    # Every piece from the files went through markdown_*; display_text is the last guard for a terminal.
    return display_text("\n".join(lines)) + "\n"
