"""``connect-conformance watch``: what the releases after the pinned one changed, bisected and triaged.

For each runtime with published versions (``--adapter``, default every one: workerd,
node-socket, Miniflare) it lists the releases newer than the pin (the version the
package set under ``adapters/js/packages/`` locks), noting withdrawn ones, runs the
suite on the pin and on the newest release, compares the two, bisects every case
whose outcome changed over the releases in between, and writes a triage report:
``<out>/<family>/triage.md`` (Markdown for a CI comment) and ``triage.json``.

Per change it says the case, the first version that changed, what the case saw
before and after, the behaviour ids it cites, whether the expectations file
already covers the newest release, and a proposed action with its text: an
expectations entry (with ``versions``), a catalogue correction to check, or a
report to the runtime.

Runs are reused: a version's ``results.json`` under the history folder
(``reports/history/<family>/<version>/``, what ``history`` writes) made with
today's spec revision stands for a run of it; otherwise the version is run (a
``run`` subprocess, sandboxed by default, its results stored there so the
timeline shows it). A probe of a few cases for the bisection runs only those.
So a test can drive ``watch`` from recorded results and a recorded version
list without the registry.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..adapters import npm_cache, npm_versions, registry
from ..core.model import Case
from ..core.outcomes import Outcome
from ..core.text import plural
from ..errors import InfrastructureError, UsageError
from ..execution import expectations
from ..exitcodes import ExitCode
from ..report import results
from ..report.output import markdown_code, markdown_text
from . import bisect
from .history import DEFAULT_OUT, INSTALL_WITHOUT_ASKING, family_entry, run_version

DEFAULT_WATCH_OUT = Path("reports/watch")


@dataclass(frozen=True)
class WatchOptions:
    families: Sequence[str] = ()
    """Runtimes to watch; empty: every built-in with published versions."""
    out: Path = DEFAULT_WATCH_OUT
    history: Path = DEFAULT_OUT
    paths: Sequence[Path] = ()
    yes: bool = False
    """Go ahead when more versions than ``INSTALL_WITHOUT_ASKING`` would be installed."""
    refresh: bool = False
    """Ask the registry for the version list even when the cached one is less than a day old."""
    lanes: int | None = None


@dataclass
class Seen:
    """One case on one version, as a triage shows it."""

    outcome: str
    message: str

    @classmethod
    def of(cls, case: dict[str, Any] | None) -> Seen:
        if case is None:
            return cls("absent", "the case was not in this run")
        message = str(case.get("message") or "").splitlines()
        outcome = str(case.get("outcome"))
        return cls(outcome, message[0] if message else ("every step as expected" if outcome == "pass" else ""))


@dataclass
class Change:
    case: str
    level: str
    source: list[str]
    location: str
    before: Seen
    after: Seen
    last_old: str
    first_new: str
    #: What the expectations file says of the newest release: "pass" (no entry) or the entry's outcome.
    expected_on_newest: str
    gate_on_newest: str
    """``ok`` when the expectations file already accepts the newest outcome, else ``unexpected``."""
    action: str = ""
    proposal: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "level": self.level,
            "source": self.source,
            "location": self.location,
            "before": vars(self.before),
            "after": vars(self.after),
            "last_old": self.last_old,
            "first_new": self.first_new,
            "expected_on_newest": self.expected_on_newest,
            "gate_on_newest": self.gate_on_newest,
            "action": self.action,
            "proposal": self.proposal,
        }


@dataclass
class Triage:
    family: str
    package: str
    pin: str
    newest: str | None
    releases: list[str]
    """Published releases after the pin, oldest first."""
    withdrawn: list[str]
    spec_revision: str
    changes: list[Change] = field(default_factory=list)
    per_release: dict[str, list[str]] = field(default_factory=dict)
    """Release -> the cases whose outcome differs from the release before it (for releases with a whole run)."""
    unusable: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    """Version -> where its results came from: "reused" (history folder) or "ran"."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "package": self.package,
            "pin": self.pin,
            "newest": self.newest,
            "releases": self.releases,
            "withdrawn": self.withdrawn,
            "spec_revision": self.spec_revision,
            "made": datetime.now(UTC).isoformat(timespec="seconds"),
            "runs": self.runs,
            "per_release": self.per_release,
            "unusable": self.unusable,
            "changes": [change.as_dict() for change in self.changes],
        }


def pinned_version(family: str) -> str:
    """The version the family's package set locks (``adapters/js/packages/<set>/package.json``)."""
    entry = family_entry(family)
    assert entry.npm_package is not None
    assert entry.npm_packages is not None
    pinned = npm_cache.pinned_dependencies(entry.npm_packages).get(entry.npm_package)
    if pinned is None or not npm_versions.is_version(pinned):
        raise UsageError(f"{family}: its package set pins no exact version of {entry.npm_package}")
    return pinned


class Runs:
    """The results of one family's versions: reused from the history folder when current, else run."""

    def __init__(self, family: str, folder: Path, revision: str, lanes: int) -> None:
        self.family = family
        self.folder = folder
        self.revision = revision
        self.lanes = lanes
        self.whole: dict[str, dict[str, dict[str, Any]]] = {}
        self.sources: dict[str, str] = {}

    def _reuse(self, version: str) -> dict[str, dict[str, Any]] | None:
        path = self.folder / version / "results.json"
        if not path.is_file():
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("run", {}).get("spec_revision") != self.revision:
            return None  # made with another spec: its outcomes may not mean the same
        return {case["id"]: case for case in document.get("cases", [])}

    def full(self, version: str) -> dict[str, dict[str, Any]]:
        """Every case on ``version``; ``UsageError``/``InfrastructureError`` pass through, a broken run raises."""
        if version in self.whole:
            return self.whole[version]
        cases = self._reuse(version)
        if cases is None:
            target = self.folder / version / "results.json"
            print(f"{self.family}@{version}: running the suite...", file=sys.stderr, flush=True)
            outcome = asyncio.run(run_version(self.family, version, self.lanes, [], target))
            if outcome.status != "ran":
                raise _Unusable(f"{outcome.status}: {outcome.reason}")
            cases = self._reuse(version)
            assert cases is not None
            self.sources[version] = "ran"
        else:
            self.sources[version] = "reused"
        self.whole[version] = cases
        return cases

    def some(self, version: str, case_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The cases ``case_ids`` on ``version``: from a whole run when there is one, else a run of just them."""
        if version in self.whole or self._reuse(version) is not None:
            every = self.full(version)
            return {case_id: every[case_id] for case_id in case_ids if case_id in every}
        with tempfile.TemporaryDirectory(prefix="connect-conformance-watch-") as scratch:
            target = Path(scratch) / "results.json"
            expression = " or ".join(case_ids)
            outcome = asyncio.run(run_version(self.family, version, self.lanes, ["-k", expression], target))
            if outcome.status != "ran":
                raise _Unusable(f"{outcome.status}: {outcome.reason}")
            document = json.loads(target.read_text(encoding="utf-8"))
        found = {case["id"]: case for case in document.get("cases", []) if case["id"] in case_ids}
        self.sources.setdefault(version, f"probed {plural(len(found), 'case')}")
        return found


class _Unusable(Exception):
    """A version that could not run: left out of the search, named in the report."""


def run_watch(options: WatchOptions) -> ExitCode:
    families = list(options.families) or registry.versioned_names()
    revision = results.current_spec_revision()
    cases = _all_cases(options.paths)
    unclean = 0
    for family in families:
        triage = watch_family(family, options, revision, cases)
        written = write_triage(options.out / family, triage)
        print(f"wrote {written[0]} and {written[1]}")
        unclean += sum(1 for change in triage.changes if change.gate_on_newest != "ok")
    if unclean:
        print(f"{plural(unclean, 'change')} the expectations do not cover yet: see the triage reports", file=sys.stderr)
        return ExitCode.UNEXPECTED
    return ExitCode.OK


def _all_cases(paths: Sequence[Path]) -> dict[str, Case]:
    from ..cases import selection

    return {case.id: case for case in selection.load_strict_selection(selection.spec_paths(paths), None, ())}


def watch_family(family: str, options: WatchOptions, revision: str, cases: dict[str, Case]) -> Triage:
    entry = family_entry(family)
    assert entry.npm_package is not None
    pin = pinned_version(family)
    published = npm_versions.published(entry.npm_package, refresh=options.refresh)
    later = [v for v in published.stable() if npm_versions.semver_key(v) > npm_versions.semver_key(pin)]
    withdrawn = [v for v in published.withdrawn() if npm_versions.semver_key(v) > npm_versions.semver_key(pin)]
    triage = Triage(family, entry.npm_package, pin, later[-1] if later else None, later, withdrawn, revision)
    print(
        f"{family}: pinned {pin}; {plural(len(later), 'release')} after it"
        + (f" ({', '.join(later)})" if later else "")
        + (f"; withdrawn, skipped: {', '.join(withdrawn)}" if withdrawn else ""),
        file=sys.stderr,
        flush=True,
    )
    if not later:
        return triage
    runs = Runs(family, options.history / family, revision, options.lanes or 2)
    _check_installs(entry, [pin, *later], runs, options.yes)
    pinned_run = runs.full(pin)
    newest = later[-1]
    try:
        newest_run = runs.full(newest)
    except _Unusable as error:
        triage.unusable[newest] = str(error)
        triage.runs = dict(runs.sources)
        return triage
    changed = sorted(
        case_id
        for case_id in set(pinned_run) & set(newest_run)
        if pinned_run[case_id]["outcome"] != newest_run[case_id]["outcome"]
    )
    found = _bisect(runs, [pin, *later], changed, pinned_run, triage) if changed else {}
    known_all = _expectations_for(family, None)
    known = known_all.for_version(newest) if known_all else None
    for case_id in changed:
        last_old, first_new = found.get(case_id, (pin, newest))
        before, after = pinned_run[case_id], newest_run[case_id]
        case = cases.get(case_id)
        judgement = expectations.judge(
            Outcome(after["outcome"]),
            known.expected(case_id) if known else None,
            datetime.now(UTC).date(),
            after["level"],
        )
        change = Change(
            case=case_id,
            level=str(after.get("level", "")),
            source=list(after.get("source", [])),
            location=str(after.get("location") or (f"{case.file}:{case.line}" if case else "")),
            before=Seen.of(before),
            after=Seen.of(after),
            last_old=last_old,
            first_new=first_new,
            expected_on_newest=judgement.expected,
            gate_on_newest="ok" if judgement.ok else "unexpected",
        )
        change.action, change.proposal = propose(family, change, known_all.expected(case_id) if known_all else None)
        triage.changes.append(change)
    ordered = [pin, *later]
    for previous, version in itertools.pairwise(ordered):
        before_run, whole = runs.whole.get(previous), runs.whole.get(version)
        if before_run is not None and whole is not None:
            triage.per_release[version] = sorted(
                c for c in set(before_run) & set(whole) if before_run[c]["outcome"] != whole[c]["outcome"]
            )
    triage.runs = dict(runs.sources)
    return triage


def _check_installs(entry: registry.Builtin, versions: Sequence[str], runs: Runs, yes: bool) -> None:
    assert entry.npm_package is not None
    package = entry.npm_package
    missing = [
        v for v in versions if runs._reuse(v) is None and not npm_cache.is_installed(npm_cache.version_dir(package, v))
    ]
    if len(missing) > INSTALL_WITHOUT_ASKING and not yes:
        raise UsageError(
            f"{plural(len(missing), 'version')} of {package} would be installed to run them "
            f"(about {len(missing) * entry.install_mb / 1000:.1f} GB); run again with --yes to go ahead"
        )


def _bisect(
    runs: Runs, versions: list[str], changed: list[str], pinned: dict[str, dict[str, Any]], triage: Triage
) -> dict[str, tuple[str, str]]:
    """The first version of each change, with the bisection of ``versions/bisect.py`` over the releases."""
    from ..core.outcomes import CaseResult

    search = bisect.Search(versions=list(versions), old={case_id: pinned[case_id]["outcome"] for case_id in changed})

    def probe(version: str, case_ids: list[str]) -> dict[str, CaseResult]:
        try:
            found = runs.some(version, case_ids)
        except _Unusable as error:
            triage.unusable[version] = str(error)
            raise InfrastructureError(str(error)) from None
        missing = sorted(set(case_ids) - set(found))
        if missing:
            raise InfrastructureError(f"{runs.family}@{version} gave no result for {missing}")
        return {
            case_id: CaseResult(id=case_id, outcome=Outcome(found[case_id]["outcome"]), level="")
            for case_id in case_ids
        }

    found = bisect.bisect(search, probe)
    # The endpoints' outcomes come from the two whole runs; then every finding is saved where `bisect` keeps its own.
    for end in (versions[0], versions[-1]):
        whole = runs.whole.get(end, {})
        for case_id in changed:
            if case_id in whole:
                search.probed.setdefault(end, {}).setdefault(
                    case_id, CaseResult(id=case_id, outcome=Outcome(whole[case_id]["outcome"]), level="")
                )
    records = [
        bisect.record(case_id, search, last_old, first_new, {"between": [versions[0], versions[-1]], "by": "watch"})
        for case_id, (last_old, first_new) in found.items()
    ]
    bisect.save(runs.folder, records)
    return found


def _expectations_for(family: str, version: str | None) -> expectations.Expectations | None:
    entry = registry.builtin(family)
    if entry is None or entry.expectations is None or not Path(entry.expectations).is_file():
        return None
    return expectations.load(Path(entry.expectations)).for_version(version)


def propose(family: str, change: Change, entry: expectations.Expectation | None = None) -> tuple[str, str]:
    """What to do about a change, and the drafted text: an expectations entry, a catalogue check, or a report.

    ``entry`` is the expectations file's entry of the case (any version), to say when it already covers the change.
    """
    behaviours = ", ".join(change.source) or "no behaviour cited"
    since = f"{change.first_new}.."
    if change.after.outcome == "pass" and entry is not None and entry.versions and entry.versions[1] == change.last_old:
        return (
            "none: the expectations file already says so",
            f"{change.case}: its entry holds for versions ..{change.last_old}, the last with the old outcome; "
            f"from {change.first_new} the case passes.",
        )
    if change.after.outcome == "pass":
        # Something that failed now passes: the old entry should stop at the last version it held for.
        return (
            "expectations: narrow the entry",
            f"{change.case}: passes from {family} {change.first_new}; in the expectations file give its entry "
            f"`versions: ..{change.last_old}` (or remove it once the pin moves past {change.last_old}).",
        )
    drafted = (
        f"  {change.case}:\n    outcome: {change.after.outcome}\n    versions: {since}\n"
        f"    reason: '{behaviours}: {family} {change.first_new} {change.after.message.replace(chr(39), chr(39) * 2)}'"
    )
    if change.before.outcome == "pass" and change.level == "must":
        report = (
            f"{family} {change.first_new} changed how connect() behaves: the conformance case {change.case} "
            f"({behaviours}) passed up to {change.last_old} and now {change.after.outcome}s: {change.after.message}. "
            "The behaviour is documented; is this change intended?"
        )
        return (
            "report to the runtime (and an expectations entry meanwhile)",
            report + "\n\nExpectations entry:\n" + drafted,
        )
    return (
        "check the catalogue: a fix or a new rule means a catalogue correction, else an expectations entry",
        f"Read {behaviours} against {family} {change.first_new}'s sources: if the new behaviour is intended, correct "
        f"the catalogue (a dated correction with the evidence) and the case; if not, add the entry:\n" + drafted,
    )


def write_triage(folder: Path, triage: Triage) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "triage.json"
    results.write_json(json_path, triage.as_dict())
    markdown_path = folder / "triage.md"
    markdown_path.write_text(markdown(triage), encoding="utf-8")
    return markdown_path, json_path


def markdown(triage: Triage) -> str:
    """The triage as Markdown for a CI comment or a job summary; text from the runtime is escaped."""
    lines = [f"## connect-conformance watch: {markdown_text(triage.family)}", ""]
    lines.append(f"Pinned: {markdown_code(triage.pin)}. Spec revision {markdown_code(triage.spec_revision)}.")
    if not triage.releases:
        lines.append("")
        lines.append("No release after the pin: nothing to triage.")
    else:
        shown = ", ".join(markdown_code(v) for v in triage.releases)
        lines.append(
            f"Released since: {shown}; the newest, {markdown_code(triage.newest or '')}, was compared with the pin."
        )
    if triage.withdrawn:
        lines.append(
            f"Withdrawn (listed in the registry's history, no longer installable; skipped): "
            f"{', '.join(markdown_code(v) for v in triage.withdrawn)}."
        )
    if triage.per_release:
        lines.append("")
    for version, changed in triage.per_release.items():
        what = f"{plural(len(changed), 'case')} changed outcome" if changed else "changes nothing"
        lines.append(f"- {markdown_code(version)}: {what} (its whole run against the release before it)")
    for version, reason in sorted(triage.unusable.items()):
        lines.append(f"Could not run {markdown_code(version)}: {markdown_text(reason)}.")
    if triage.releases and not triage.changes and triage.newest not in triage.unusable:
        lines.append("")
        lines.append("**No case changed outcome** between the pin and the newest release.")
    if triage.changes:
        lines += ["", f"### {plural(len(triage.changes), 'change')}", ""]
        lines.append("| case | level | behaviours | before | after | first changed in | gate on the newest |")
        lines.append("|---|---|---|---|---|---|---|")
        for change in triage.changes:
            lines.append(
                f"| {markdown_code(change.case)} | {change.level} | {markdown_text(', '.join(change.source))} "
                f"| {change.before.outcome} (up to {markdown_code(change.last_old)}) | {change.after.outcome} "
                f"| {markdown_code(change.first_new)} | {change.gate_on_newest} |"
            )
        for change in triage.changes:
            lines += ["", f"#### {markdown_code(change.case)}", ""]
            lines.append(f"- where: {markdown_code(change.location)}")
            lines.append(
                f"- up to {markdown_code(change.last_old)}: {change.before.outcome}: {markdown_text(change.before.message)}"
            )
            lines.append(
                f"- from {markdown_code(change.first_new)}: {change.after.outcome}: {markdown_text(change.after.message)}"
            )
            lines.append(f"- proposed: **{markdown_text(change.action)}**")
            fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", change.proposal)), default=0))
            lines += ["", fence, change.proposal, fence]
    return "\n".join(lines) + "\n"
