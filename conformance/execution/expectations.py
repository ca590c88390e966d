"""Expectations files: known non-pass outcomes of one implementation, and the gate.

```yaml
implementation: workerd
cases:
  half-open.closed-after-both-directions:
    outcome: timeout
    reason: "closed stays pending with allowHalfOpen (B33, workerd#5653)"
    link: https://github.com/cloudflare/workerd/issues/5653
    until: 2027-06-30      # optional: the gate fails once this date has passed
    flaky: true            # optional: pass or this outcome, both accepted (and counted)
    unreviewed: true       # written by --update-expectations: `validate` warns until a person edits the reason
    versions: ..1.20261117.1  # optional: the entry holds only for these versions of the implementation
```
``versions`` is a range ``LOW..HIGH`` (both included, either end may be left out) of the
version the adapter reports in its hello; outside it the entry does not apply and the case is
expected to pass. It says that a behaviour changed between releases (``history`` and
``bisect`` find where), so one file gates the pinned release and its neighbours alike.
A case without an entry is expected to pass. Unexpected failures *and*
unexpected passes fail the gate: an unnoticed fix would otherwise let a later
regression through. An entry past its ``until`` date fails the gate, so
known failures get looked at again; entries no run used are reported.
``info`` cases are recorded, not gated (spec/README.md): an unexpected outcome
of one is a warning, never a failed gate.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from ..adapters.npm_versions import is_version, semver_key
from ..cases import yamlsource
from ..core.outcomes import CaseResult, Outcome
from ..errors import SpecError
from ..report.model import Gate, GateEntry

#: The fields of an entry.
FIELDS = ("outcome", "reason", "link", "flaky", "until", "unreviewed", "versions")

#: What an entry may list: every outcome but pass (a case without an entry is expected to pass).
NON_PASS = tuple(o.value for o in Outcome if o is not Outcome.PASS)


@dataclass(frozen=True)
class Expectation:
    outcome: str
    reason: str
    link: str | None = None
    flaky: bool = False
    until: datetime.date | None = None
    #: Written by ``--update-expectations`` from a run: the reason is a draft until a person edits it.
    unreviewed: bool = False
    #: The versions of the implementation the entry holds for: (lowest, highest), either ``None``; ``None``: all.
    versions: tuple[str | None, str | None] | None = None

    def applies_to(self, version: str | None) -> bool:
        """Whether the entry holds for an implementation that reported ``version`` (unknown: it does)."""
        if self.versions is None or version is None or not is_version(version):
            return True
        low, high = self.versions
        key = semver_key(version)
        return (low is None or semver_key(low) <= key) and (high is None or key <= semver_key(high))

    def expired(self, today: datetime.date) -> bool:
        return self.until is not None and today > self.until

    def as_yaml(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"outcome": self.outcome, "reason": self.reason}
        if self.link:
            entry["link"] = self.link
        if self.flaky:
            entry["flaky"] = True
        if self.until:
            entry["until"] = self.until
        if self.unreviewed:
            entry["unreviewed"] = True
        if self.versions is not None:
            entry["versions"] = f"{self.versions[0] or ''}..{self.versions[1] or ''}"
        return entry


@dataclass
class Expectations:
    path: str | None = None
    implementation: str | None = None
    cases: dict[str, Expectation] = field(default_factory=dict)

    def expected(self, case_id: str) -> Expectation | None:
        return self.cases.get(case_id)

    def for_version(self, version: str | None) -> Expectations:
        """The entries that hold for ``version`` of the implementation (``versions``); the others are left out."""
        return Expectations(
            path=self.path,
            implementation=self.implementation,
            cases={case_id: entry for case_id, entry in self.cases.items() if entry.applies_to(version)},
        )

    def unused(self, seen: set[str]) -> list[str]:
        """Entries of cases that did not run: stale ids, or a selection that left them out."""
        return sorted(set(self.cases) - seen)


def load(path: Path) -> Expectations:
    try:
        document, duplicates = yamlsource.load(yamlsource.read(path))
    except OSError as error:
        raise SpecError(path, None, "", f"cannot read expectations: {error.strerror or error}") from None
    except yamlsource.YamlProblem as problem:
        raise SpecError(path, problem.line, "", problem.problem) from None
    if duplicates:
        duplicate_line, key = duplicates[0]
        raise SpecError(path, duplicate_line, key, "duplicate key")
    if not isinstance(document, dict) or not isinstance(document.get("cases", {}), dict):
        raise SpecError(path, 1, "cases", "expected a mapping with `cases:` (case id -> outcome, reason)")
    implementation = document.get("implementation")
    if implementation is not None and not isinstance(implementation, str):
        raise SpecError(path, yamlsource.line_of(document, ["implementation"]), "implementation", "expected a name")
    result = Expectations(path=str(path), implementation=implementation)
    cases: Any = document.get("cases") or {}
    for case_id, entry in cases.items():
        line = cases.key_lines.get(case_id) if hasattr(cases, "key_lines") else None
        if not isinstance(entry, dict):
            raise SpecError(path, line, case_id, "expected a mapping with outcome and reason")
        outcome = entry.get("outcome")
        if not isinstance(outcome, str) or outcome not in NON_PASS:
            raise SpecError(
                path, line, f"{case_id}.outcome", f"expected one of fail, error, timeout, skip, got {_shown(outcome)}"
            )
        if not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            raise SpecError(path, line, f"{case_id}.reason", "every expectation needs a reason")
        unknown = set(entry) - set(FIELDS)
        if unknown:
            raise SpecError(
                path,
                line,
                case_id,
                f"unknown field(s) {', '.join(sorted(map(str, unknown)))} (expected {', '.join(FIELDS)})",
            )
        until = entry.get("until")
        until_line = getattr(entry, "key_lines", {}).get("until", line)
        # A date-time is a datetime.date too (a subclass), and cannot be compared with today's date.
        if until is not None and type(until) is not datetime.date:
            shown = until.isoformat() if isinstance(until, datetime.date) else _shown(until)
            raise SpecError(path, until_line, f"{case_id}.until", f"expected a date like 2027-06-30, got {shown}")
        _check_entry_types(path, line, case_id, entry)
        result.cases[case_id] = Expectation(
            outcome=outcome,
            reason=entry["reason"],
            link=entry.get("link"),
            flaky=bool(entry.get("flaky", False)),
            until=until,
            unreviewed=bool(entry.get("unreviewed", False)),
            versions=_versions(path, getattr(entry, "key_lines", {}).get("versions", line), case_id, entry),
        )
    return result


def _versions(
    path: Path, line: int | None, case_id: str, entry: dict[str, Any]
) -> tuple[str | None, str | None] | None:
    """``versions: LOW..HIGH`` (either end may be left out) as a pair, or a ``SpecError`` at its line."""
    if "versions" not in entry:
        return None
    text = entry["versions"]
    where = f"{case_id}.versions"
    if not isinstance(text, str) or ".." not in text:
        raise SpecError(
            path, line, where, f"expected a range like 1.20230512.0..1.20261117.1 or ..1.2.3, got {_shown(text)}"
        )
    low, _, high = (part.strip() for part in text.partition(".."))
    for end in (low, high):
        if end and not is_version(end):
            raise SpecError(path, line, where, f"{_shown(end)} is not a version (like 1.20261117.1)")
    if not low and not high:
        raise SpecError(path, line, where, "a range needs at least one end (else leave versions out)")
    if low and high and semver_key(low) > semver_key(high):
        raise SpecError(path, line, where, f"the range runs backwards: {low} is newer than {high}")
    return (low or None, high or None)


def _shown(value: Any) -> str:
    """A YAML value in a message, as the file would write it (a string in double quotes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


def _check_entry_types(path: Path, line: int | None, case_id: str, entry: dict[str, Any]) -> None:
    """``flaky`` is a boolean and ``link`` a URL or repository path: ``flaky: "yes"`` or ``link: [1]`` would be
    taken silently."""
    lines = getattr(entry, "key_lines", {})
    for flag in ("flaky", "unreviewed"):
        if flag in entry and not isinstance(entry[flag], bool):
            raise SpecError(
                path, lines.get(flag, line), f"{case_id}.{flag}", f"expected true or false, got {_shown(entry[flag])}"
            )
    link = entry.get("link")
    if link is not None and not (isinstance(link, str) and _is_link(link)):
        raise SpecError(
            path,
            lines.get("link", line),
            f"{case_id}.link",
            f"expected a URL (https://...) or a path in the repository, got {_shown(link)}",
        )


def _is_link(text: str) -> bool:
    """An http(s) URL, or a relative path inside the repository (``reports/history/workerd/README.md``)."""
    if text.startswith(("https://", "http://")):
        return True
    return (
        bool(text) and not text.startswith("/") and ".." not in text.split("/") and ":" not in text and " " not in text
    )


class Verdict(StrEnum):
    """How one outcome stands against its expectation entry (or the lack of one)."""

    #: As expected: a pass (or a skip, a capability gap the adapter declared) with no entry.
    AS_EXPECTED = "as-expected"
    #: The non-pass outcome the entry lists.
    EXPECTED_NON_PASS = "expected-non-pass"
    #: A flaky entry: pass or its outcome, both accepted.
    FLAKY = "flaky"
    #: Anything else, an unexpected pass included (an unnoticed fix would let a later regression through).
    UNEXPECTED = "unexpected"
    #: What would be unexpected, on an ``info`` case: recorded and warned about, never a failed gate.
    UNGATED = "ungated"


#: The level whose cases are recorded, not gated (spec/README.md: behaviour the sources leave open).
UNGATED_LEVEL = "info"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    #: What the entry (or its absence) expected, for messages: "pass", "timeout", "fail or pass (flaky)".
    expected: str
    #: The entry is past its ``until`` date: the gate fails so it gets looked at again (a warning on info cases).
    expired: bool = False
    #: The case is ``info``: nothing about it fails the gate.
    ungated: bool = False

    @property
    def ok(self) -> bool:
        if self.ungated:
            return True
        return self.verdict is not Verdict.UNEXPECTED and not self.expired


def judge(outcome: Outcome, entry: Expectation | None, today: datetime.date, level: str = "must") -> Judgement:
    """The one verdict ``run``'s gate and the pytest plugin both use."""
    judgement = _judge(outcome, entry, today)
    if level != UNGATED_LEVEL:
        return judgement
    verdict = Verdict.UNGATED if judgement.verdict is Verdict.UNEXPECTED else judgement.verdict
    return Judgement(verdict, judgement.expected, judgement.expired, ungated=True)


def _judge(outcome: Outcome, entry: Expectation | None, today: datetime.date) -> Judgement:
    if outcome is Outcome.SKIP and (entry is None or entry.outcome != Outcome.SKIP.value):
        # A skip is a gap of the adapter or of the run's environment (no sandbox here), recorded with
        # its reason: it says nothing about the entry, which still applies where the case runs.
        return Judgement(Verdict.AS_EXPECTED, entry.outcome if entry else "pass")
    if entry is None:
        verdict = Verdict.AS_EXPECTED if outcome is Outcome.PASS else Verdict.UNEXPECTED
        return Judgement(verdict, "pass")
    expired = entry.expired(today)
    if entry.flaky:
        verdict = Verdict.FLAKY if outcome.value in (entry.outcome, "pass") else Verdict.UNEXPECTED
        return Judgement(verdict, f"{entry.outcome} or pass (flaky)", expired)
    verdict = Verdict.EXPECTED_NON_PASS if outcome.value == entry.outcome else Verdict.UNEXPECTED
    return Judgement(verdict, entry.outcome, expired)


#: The verdicts of an outcome the expectations file lists (shown as xfail, as pytest does).
LISTED = (Verdict.EXPECTED_NON_PASS, Verdict.FLAKY)


@dataclass
class GateResult:
    unexpected: list[tuple[CaseResult, str]] = field(default_factory=list)
    expected_failures: int = 0
    flaky: int = 0
    unused: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    #: Unexpected outcomes (and expired entries) of ``info`` cases: warnings, not gated.
    ungated: list[tuple[CaseResult, str]] = field(default_factory=list)
    #: The non-pass outcomes the expectations file lists (a flaky entry's too), shown as xfail;
    #: None when there was no expectations file.
    xfail: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.unexpected and not self.expired

    def record(self) -> Gate:
        """The gate as results.json records it."""
        return Gate(
            ok=self.ok,
            unexpected=tuple(GateEntry(r.id, r.outcome.value, e) for r, e in self.unexpected),
            expected_non_pass=self.expected_failures,
            flaky=self.flaky,
            unused=tuple(self.unused),
            expired=tuple(self.expired),
            ungated=tuple(GateEntry(r.id, r.outcome.value, e) for r, e in self.ungated),
            xfail=None if self.xfail is None else tuple(self.xfail),
        )


def gate(
    results: Sequence[CaseResult], expectations: Expectations | None, today: datetime.date | None = None
) -> GateResult:
    verdict = GateResult(xfail=None if expectations is None else [])
    expectations = expectations or Expectations()
    today = today or datetime.date.today()
    for result in results:
        judgement = judge(result.outcome, expectations.expected(result.id), today, result.level)
        if verdict.xfail is not None and result.outcome is not Outcome.PASS and judgement.verdict in LISTED:
            verdict.xfail.append(result.id)
        if judgement.ungated:
            if judgement.verdict is Verdict.UNGATED or judgement.expired:
                verdict.ungated.append((result, judgement.expected))
            elif judgement.verdict is Verdict.FLAKY:
                verdict.flaky += 1
            elif judgement.verdict is Verdict.EXPECTED_NON_PASS:
                verdict.expected_failures += 1
            continue
        if judgement.expired:
            verdict.expired.append(result.id)
        if judgement.verdict is Verdict.UNEXPECTED:
            verdict.unexpected.append((result, judgement.expected))
        elif judgement.verdict is Verdict.FLAKY:
            verdict.flaky += 1
        elif judgement.verdict is Verdict.EXPECTED_NON_PASS:
            verdict.expected_failures += 1
    verdict.unused = expectations.unused({result.id for result in results})
    return verdict


def updated(results: Sequence[CaseResult], previous: Expectations | None, implementation: str) -> dict[str, Any]:
    """The expectations document a run implies: every non-pass outcome, keeping known reasons.

    Entries of cases this run did not select stay as they were, and so do those of skipped cases (a skip
    says nothing about the entry, as in ``judge``); a skip gets no entry of its own, nor does an ``info``
    case (never gated) that has none. Flaky entries stay while
    the case passes or shows its flaky outcome. A new entry's reason is a draft, marked ``unreviewed``: the
    case's behaviour ids and the first line of its message, for a person to replace with the why.
    """
    previous = previous or Expectations()
    ran = {result.id: result for result in results}
    cases: dict[str, Any] = {}
    for case_id, kept in previous.cases.items():
        if case_id not in ran:
            cases[case_id] = kept.as_yaml()
    for result in results:
        entry = previous.expected(result.id)
        if result.outcome is Outcome.SKIP:
            if entry is not None:
                cases[result.id] = entry.as_yaml()
            continue
        if result.outcome is Outcome.PASS and not (entry and entry.flaky):
            continue
        if entry is None and result.level == UNGATED_LEVEL:
            continue  # an info case never fails the gate: an entry for it would only be noise to review
        if entry is not None and (entry.outcome == result.outcome.value or entry.flaky):
            cases[result.id] = entry.as_yaml()
            continue
        if entry is not None:
            # The outcome changed: a reason a person wrote is kept, as is its review state.
            draft = Expectation(
                result.outcome.value, entry.reason, entry.link, until=entry.until, unreviewed=entry.unreviewed
            )
        else:
            draft = Expectation(result.outcome.value, draft_reason(result), unreviewed=True)
        cases[result.id] = draft.as_yaml()
    return {"implementation": previous.implementation or implementation, "cases": dict(sorted(cases.items()))}


def draft_reason(result: CaseResult) -> str:
    """What a run can say of a non-pass outcome: the behaviours the case cites and how it first differed."""
    first = result.message.splitlines()[0] if result.message else f"outcome {result.outcome.value}"
    cited = ", ".join(result.source) or "no source cited"
    return f"{cited}: {first} (drafted from a run: say why, then remove unreviewed)"


def review_warnings(known: Expectations) -> list[str]:
    """Entries whose reason is still the draft ``--update-expectations`` wrote."""
    return [
        f"{known.path}: {case_id}: reason not reviewed (written by --update-expectations): "
        "edit the reason, then remove `unreviewed: true`"
        for case_id, entry in known.cases.items()
        if entry.unreviewed
    ]


def write(path: Path, document: dict[str, Any]) -> None:
    """Write ``document``; the comment block at the top of an existing file is kept."""
    header = (
        "# Known non-pass outcomes of this implementation (see conformance/execution/expectations.py).\n"
        "# Every entry needs a reason that cites the behaviour id or issue.\n"
    )
    if path.is_file():
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if not line.startswith("#"):
                break
            kept.append(line)
        header = "".join(kept) or header
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
    path.write_text(header + text, encoding="utf-8")
