"""Expectations files: known non-pass outcomes of one implementation, and the gate (DESIGN.md section 8).

```yaml
implementation: workerd
cases:
  half-open.closed-after-both-directions:
    outcome: timeout
    reason: "closed stays pending with allowHalfOpen (B33, workerd#5653)"
    link: https://github.com/cloudflare/workerd/issues/5653
```
A case without an entry is expected to pass. Unexpected failures *and*
unexpected passes fail the gate: an unnoticed fix would otherwise let a later
regression through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yamlsource
from .errors import SpecError
from .outcomes import CaseResult, Outcome

_OUTCOMES = {o.value for o in Outcome}


@dataclass(frozen=True)
class Expectation:
    outcome: str
    reason: str
    link: str | None = None
    flaky: bool = False


@dataclass
class Expectations:
    path: str | None = None
    implementation: str | None = None
    cases: dict[str, Expectation] = field(default_factory=dict)

    def expected(self, case_id: str) -> Expectation | None:
        return self.cases.get(case_id)


def load(path: Path) -> Expectations:
    try:
        document, duplicates = yamlsource.load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SpecError(path, None, "", f"cannot read expectations: {error}") from None
    except yamlsource.YamlProblem as problem:
        raise SpecError(path, problem.line, "", problem.problem) from None
    if duplicates:
        duplicate_line, key = duplicates[0]
        raise SpecError(path, duplicate_line, key, "duplicate key")
    if not isinstance(document, dict) or not isinstance(document.get("cases", {}), dict):
        raise SpecError(path, 1, "cases", "expected a mapping with `cases:` (case id -> outcome, reason)")
    result = Expectations(path=str(path), implementation=document.get("implementation"))
    cases: Any = document.get("cases") or {}
    for case_id, entry in cases.items():
        line = cases.key_lines.get(case_id) if hasattr(cases, "key_lines") else None
        if not isinstance(entry, dict):
            raise SpecError(path, line, case_id, "expected a mapping with outcome and reason")
        outcome = entry.get("outcome")
        if outcome not in _OUTCOMES - {"pass"}:
            raise SpecError(path, line, f"{case_id}.outcome",
                            f"expected one of fail, error, timeout, skip, got {outcome!r}")
        if not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            raise SpecError(path, line, f"{case_id}.reason", "every expectation needs a reason")
        unknown = set(entry) - {"outcome", "reason", "link", "flaky"}
        if unknown:
            raise SpecError(path, line, case_id, f"unknown field(s) {sorted(unknown)} (expected outcome, reason, link, flaky)")
        result.cases[case_id] = Expectation(outcome=outcome, reason=entry["reason"], link=entry.get("link"),
                                            flaky=bool(entry.get("flaky", False)))
    return result


@dataclass
class GateResult:
    unexpected: list[tuple[CaseResult, str]] = field(default_factory=list)
    expected_failures: int = 0
    flaky: int = 0
    unused: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unexpected

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "unexpected": [{"id": r.id, "outcome": r.outcome.value, "expected": e} for r, e in self.unexpected],
            "expected_non_pass": self.expected_failures,
            "flaky": self.flaky,
            "unused": self.unused,
        }


def gate(results: Sequence[CaseResult], expectations: Expectations | None) -> GateResult:
    expectations = expectations or Expectations()
    verdict = GateResult()
    seen = set()
    for result in results:
        seen.add(result.id)
        entry = expectations.expected(result.id)
        if entry is None:
            # Skips are capability gaps the adapter declared, recorded with their reason.
            if result.outcome not in (Outcome.PASS, Outcome.SKIP):
                verdict.unexpected.append((result, "pass"))
            continue
        if entry.flaky:
            verdict.flaky += 1
            if result.outcome.value not in (entry.outcome, "pass"):
                verdict.unexpected.append((result, f"{entry.outcome} or pass (flaky)"))
            continue
        if result.outcome.value == entry.outcome:
            verdict.expected_failures += 1
        else:
            verdict.unexpected.append((result, entry.outcome))
    verdict.unused = sorted(set(expectations.cases) - seen)
    return verdict
