"""``connect-conformance bisect``: the first published version where one case's outcome changed.

Given a runtime family (``workerd``, ``miniflare``, ``node-socket``), a case id and
two versions with different outcomes (``--good`` and ``--bad``, in either order of
release), it binary-searches the published npm versions between them, oldest
first: each probe installs a version on demand (``registry.resolve``) and runs the
one case on it. It prints the first version with the newer endpoint's outcome,
the last one with the older endpoint's, both transcripts, and how many probes and
installs it took. A version that cannot run at all is left out of the search.
``--save`` appends the finding to ``<out>/<family>/bisect.json``, where the
timeline (``report/timeline.py``) uses it to name the exact first version.

``--all-changes`` does the same for every change a ``history`` timeline shows:
changes between the same two sampled versions are searched together (a probe runs
every case whose bracket contains the probed version), and all are saved.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..adapters import npm_cache, npm_versions, registry
from ..cases import selection
from ..core.jsshow import show
from ..core.model import Case
from ..core.outcomes import CaseResult, Outcome
from ..core.text import plural
from ..core.transcript import SessionEndEntry, SkippedStepEntry, VariablesEntry
from ..errors import InfrastructureError, UsageError
from ..exitcodes import ExitCode
from ..report import results, timeline
from .history import DEFAULT_OUT, family_entry


@dataclass(frozen=True)
class BisectOptions:
    family: str
    case: str = ""
    good: str = ""
    bad: str = ""
    paths: Sequence[Path] = ()
    save: bool = False
    out: Path = DEFAULT_OUT


@dataclass
class Search:
    """One bisection over the candidate versions (oldest first), for one case or several.

    Each case has its own bracket (indices into ``versions``): the last version known to
    have its old outcome and the first known to have another. A probe runs every case
    whose bracket contains the probed version, so cases that changed in the same
    release share their probes.
    """

    versions: list[str]
    old: dict[str, str]
    """Case id -> its outcome on the oldest version."""
    probed: dict[str, dict[str, CaseResult]] = field(default_factory=dict)
    """Version -> the results of the cases run on it."""
    unusable: dict[str, str] = field(default_factory=dict)
    installs: int = 0

    def result(self, version: str, case_id: str) -> CaseResult:
        return self.probed[version][case_id]


#: Runs some cases (by id) on one version; ``InfrastructureError`` when the version cannot run.
Probe = Callable[[str, list[str]], dict[str, CaseResult]]


def find_cases(case_ids: Sequence[str], paths: Sequence[Path]) -> dict[str, Case]:
    cases = {case.id: case for case in selection.load_strict_selection(selection.spec_paths(paths), None, ())}
    for case_id in case_ids:
        if case_id not in cases:
            close = difflib.get_close_matches(case_id, list(cases), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else " (connect-conformance list shows the ids)"
            raise UsageError(f"--case {show(case_id)}: no such case{hint}")
    return {case_id: cases[case_id] for case_id in case_ids}


def bisect(search: Search, probe: Probe) -> dict[str, tuple[str, str]]:
    """Per case, the last version with its old outcome and the first without it.

    The endpoints must be probed already (the oldest gives ``search.old``; the newest
    differs for every case). A version whose probe raises ``InfrastructureError`` is
    dropped from the search.
    """
    versions = search.versions
    brackets = {case_id: [0, len(versions) - 1] for case_id in search.old}
    while True:
        open_ = {case_id: b for case_id, b in brackets.items() if b[1] - b[0] > 1}
        if not open_:
            break
        widest = max(open_.values(), key=lambda b: b[1] - b[0])
        middle = (widest[0] + widest[1]) // 2
        version = versions[middle]
        involved = [case_id for case_id, b in open_.items() if b[0] < middle < b[1]]
        try:
            found = probe(version, involved)
        except InfrastructureError as error:
            search.unusable[version] = str(error)
            versions.pop(middle)
            for b in brackets.values():
                b[0] -= b[0] > middle
                b[1] -= b[1] > middle
            print(f"  {version}: cannot run ({error}); left out", file=sys.stderr, flush=True)
            continue
        search.probed.setdefault(version, {}).update(found)
        for case_id in involved:
            kept_old = found[case_id].outcome == search.old[case_id]
            brackets[case_id][0 if kept_old else 1] = middle
        shown = ", ".join(f"{case_id}: {found[case_id].outcome}" for case_id in involved)
        print(f"  {version}: {shown}", file=sys.stderr, flush=True)
    return {case_id: (versions[b[0]], versions[b[1]]) for case_id, b in brackets.items()}


def _probe_with(family: str, cases: dict[str, Case], search: Search) -> Probe:
    from ..execution.suite import RunState, execute

    entry = family_entry(family)
    assert entry.npm_package is not None
    package = entry.npm_package

    def probe(version: str, case_ids: list[str]) -> dict[str, CaseResult]:
        if not npm_cache.is_installed(npm_cache.version_dir(package, version)):
            search.installs += 1
        spec = registry.resolve(f"{family}@{version}")
        state = RunState()
        chosen = [cases[case_id] for case_id in case_ids]
        execute(chosen, spec, max(1, min(spec.default_lanes, len(chosen))), None, state)
        found = {result.id: result for result in state.results}
        if set(found) != set(case_ids):
            raise InfrastructureError(f"{family}@{version} gave no result for {sorted(set(case_ids) - set(found))}")
        return found

    return probe


def run_bisect(options: BisectOptions) -> ExitCode:
    entry = family_entry(options.family)
    assert entry.npm_package is not None
    case = find_cases([options.case], options.paths)[options.case]
    published = npm_versions.published(entry.npm_package)
    good = published.check(options.good, "--good")
    bad = published.check(options.bad, "--bad")
    if good == bad:
        raise UsageError("--good and --bad name the same version")
    versions = published.between(good, bad)
    search = Search(versions=versions, old={})
    probe = _probe_with(options.family, {case.id: case}, search)
    older, newer = versions[0], versions[-1]
    print(
        f"bisect {case.id} on {options.family}: {len(versions)} published versions from {older} to {newer}",
        file=sys.stderr,
        flush=True,
    )
    for version in (older, newer):
        search.probed[version] = probe(version, [case.id])
        print(f"  {version}: {search.result(version, case.id).outcome}", file=sys.stderr, flush=True)
    before, after = search.result(older, case.id).outcome, search.result(newer, case.id).outcome
    if before == after:
        raise UsageError(
            f"{case.id} has the same outcome ({before}) on {older} and {newer}: nothing changed between them to find"
        )
    search.old = {case.id: before.value}
    last_old, first_new = bisect(search, probe)[case.id]
    newer_side = "--good" if newer == good else "--bad"
    print()
    print(
        f"{case.id}: {before} up to {options.family} {last_old}, "
        f"{search.result(first_new, case.id).outcome} from {first_new}"
    )
    print(f"first version with the outcome of {newer_side} ({newer}): {first_new}")
    print(
        f"{len(search.probed)} versions run of {len(search.versions)} candidates; "
        f"{search.installs} installed for this search"
        + (f"; {len(search.unusable)} could not run" if search.unusable else "")
    )
    if options.save:
        finding = record(case.id, search, last_old, first_new, {"good": options.good, "bad": options.bad})
        print(f"saved to {save(options.out / options.family, [finding])}")
    for version in (last_old, first_new):
        print()
        print(f"== {options.family} {version}: {search.result(version, case.id).outcome}")
        print(transcript_text(search.result(version, case.id)))
    return ExitCode.OK


def run_bisect_timeline(options: BisectOptions) -> ExitCode:
    """``--all-changes``: the exact first version of every change the family's timeline shows."""
    folder = options.out / options.family
    line = timeline.load(folder) if folder.is_dir() else None
    if line is None or not line.runs:
        raise UsageError(f"--all-changes: no timeline in {folder}/ (run connect-conformance history first)")
    entry = family_entry(options.family)
    assert entry.npm_package is not None
    published = npm_versions.published(entry.npm_package)
    groups: dict[tuple[str, str], list[timeline.Change]] = {}
    for change in line.changes():
        if change.first is None:
            groups.setdefault((change.previous, change.version), []).append(change)
    if not groups:
        print(f"every change of the {options.family} timeline is bisected already")
        return ExitCode.OK
    cases = find_cases(sorted({c.case for changes in groups.values() for c in changes}), options.paths)
    installs = probes = 0
    for (previous, version), changes in sorted(groups.items(), key=lambda item: npm_versions.semver_key(item[0][1])):
        versions = published.between(previous, version)
        search = Search(versions=versions, old={c.case: c.before for c in changes})
        print(
            f"{previous} .. {version}: {plural(len(changes), 'change')}, {plural(len(versions), 'version')}",
            file=sys.stderr,
            flush=True,
        )
        found = bisect(search, _probe_with(options.family, {c.case: cases[c.case] for c in changes}, search))
        installs += search.installs
        probes += len(search.probed)
        records = []
        for change in changes:
            last_old, first_new = found[change.case]
            # The endpoints' outcomes come from the timeline's runs.
            for end, outcome in ((previous, change.before), (version, change.after)):
                if change.case not in search.probed.get(end, {}):
                    search.probed.setdefault(end, {})[change.case] = CaseResult(
                        id=change.case, outcome=Outcome(outcome), level=""
                    )
            records.append(record(change.case, search, last_old, first_new, {"between": [previous, version]}))
            print(
                f"{change.case}: {change.before} up to {last_old}, {search.result(first_new, change.case).outcome} from {first_new}"
            )
        save(folder, records)
    print(f"{probes} versions run, {installs} installed; findings saved to {folder / timeline.BISECTS}")
    return ExitCode.OK


def transcript_text(result: CaseResult) -> str:
    """A case's transcript as text: one line per step (sent, observed, expected, problem)."""
    lines = []
    if result.message:
        lines.append(result.message)
    for entry in result.transcript:
        if isinstance(entry, VariablesEntry):
            continue
        if isinstance(entry, SessionEndEntry):
            lines.append(f"  end: {_compact(entry.reply)}")
            continue
        head = f"  step {entry.step} ({entry.action}, line {entry.line})"
        if isinstance(entry, SkippedStepEntry):
            lines.append(f"{head}: skipped: {entry.reason}")
            continue
        parts = [f"sent {_compact(entry.request)}"] if entry.request is not None else []
        parts.append(f"observed {_compact(entry.observed)}")
        if entry.expected is not None:
            parts.append(f"expected {_compact(entry.expected)}")
        if entry.problem:
            parts.append(f"PROBLEM {entry.problem}")
        lines.append(head + ": " + "; ".join(parts))
    return "\n".join(lines)


def _compact(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:300] + "..."


def record(case_id: str, search: Search, last_old: str, first_new: str, asked: dict[str, Any]) -> dict[str, Any]:
    probed = {v: found[case_id].outcome.value for v, found in search.probed.items() if case_id in found}
    return {
        "case": case_id,
        **asked,
        "last_old": last_old,
        "first_new": first_new,
        "outcomes": {last_old: probed[last_old], first_new: probed[first_new]},
        "probed": {v: probed[v] for v in sorted(probed, key=npm_versions.semver_key)},
        "installs": search.installs,
        "date": datetime.now(UTC).date().isoformat(),
    }


def save(folder: Path, records: list[dict[str, Any]]) -> Path:
    """Add ``records`` to ``<folder>/bisect.json`` (a newer record of the same case and version replaces the old)."""
    path = folder / timeline.BISECTS
    document: dict[str, Any] = {"bisects": []}
    if path.is_file():
        document = json.loads(path.read_text(encoding="utf-8"))
    new = {(record["case"], record["first_new"]) for record in records}
    kept = [item for item in document.get("bisects", []) if (item.get("case"), item.get("first_new")) not in new]
    document["bisects"] = sorted(
        [*kept, *records], key=lambda item: (item["case"], npm_versions.semver_key(item["first_new"]))
    )
    results.write_json(path, document)
    return path
