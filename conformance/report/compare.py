"""``report compare OLD NEW``: what changed between two runs, for a CI comment.

A regression is a case that passed in OLD and does not pass in NEW (a fail,
error, timeout, or a skip that hides it). A fix is the reverse. Cases present
in only one run are listed as new or removed; a case whose non-pass outcome
changed kind (fail -> error) is listed as changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .output import display_text
from .reading import load_results


@dataclass
class Change:
    id: str
    old: str | None
    new: str | None
    level: str
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "old": self.old, "new": self.new, "level": self.level, "message": self.message}


@dataclass
class Comparison:
    old_name: str
    new_name: str
    regressions: list[Change] = field(default_factory=list)
    fixes: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "old": self.old_name,
            "new": self.new_name,
            "regressions": [c.as_dict() for c in self.regressions],
            "fixes": [c.as_dict() for c in self.fixes],
            "changed": [c.as_dict() for c in self.changed],
            "new_cases": [c.as_dict() for c in self.added],
            "removed_cases": [c.as_dict() for c in self.removed],
            "unchanged": self.unchanged,
        }


def _cases(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {case["id"]: case for case in document["cases"]}


def _label(document: dict[str, Any], path: Path) -> str:
    adapter = document.get("run", {}).get("adapter", {})
    if not isinstance(adapter, dict):
        adapter = {}
    return f"{adapter.get('name', '?')} {adapter.get('version', '')} ({path})".strip()


def compare(old: dict[str, Any], new: dict[str, Any], old_name: str = "old", new_name: str = "new") -> Comparison:
    before, after = _cases(old), _cases(new)
    result = Comparison(old_name, new_name)
    for case_id in sorted(set(before) | set(after)):
        was, now = before.get(case_id), after.get(case_id)
        level = str((now or was or {}).get("level", ""))
        text = str(now.get("message") or "") if now else ""
        message = text.splitlines()[0] if text else ""
        change = Change(case_id, was["outcome"] if was else None, now["outcome"] if now else None, level, message)
        if was is None:
            result.added.append(change)
        elif now is None:
            result.removed.append(change)
        elif was["outcome"] == now["outcome"]:
            result.unchanged += 1
        elif was["outcome"] == "pass":
            result.regressions.append(change)
        elif now["outcome"] == "pass":
            result.fixes.append(change)
        else:
            result.changed.append(change)
    return result


def compare_files(old_path: Path, new_path: Path) -> Comparison:
    """Compare two results files; ``UsageError`` naming a file that is not one (``reading.load_results``)."""
    old = load_results(old_path)
    new = load_results(new_path)
    return compare(old, new, _label(old, old_path), _label(new, new_path))


def markdown(comparison: Comparison) -> str:
    lines = [f"## connect-conformance: {comparison.new_name} vs {comparison.old_name}", ""]
    counts = (
        f"{len(comparison.regressions)} regression(s), {len(comparison.fixes)} fix(es), "
        f"{len(comparison.changed)} changed, {len(comparison.added)} new, {len(comparison.removed)} removed, "
        f"{comparison.unchanged} unchanged"
    )
    lines.append(("**Regressions found.** " if comparison.regressions else "No regression. ") + counts)
    sections = [
        ("Regressions", comparison.regressions),
        ("Fixes", comparison.fixes),
        ("Changed (non-pass to another non-pass)", comparison.changed),
        ("New cases", comparison.added),
        ("Removed cases", comparison.removed),
    ]
    for title, changes in sections:
        if not changes:
            continue
        lines += ["", f"### {title}", "", "| case | level | before | after | message |", "|---|---|---|---|---|"]
        for change in changes:
            message = change.message.replace("|", "\\|")
            lines.append(f"| `{change.id}` | {change.level} | {change.old or '–'} | {change.new or '–'} | {message} |")
    # Case ids and messages come from the files: no control character reaches a terminal or a CI comment.
    return display_text("\n".join(lines)) + "\n"
