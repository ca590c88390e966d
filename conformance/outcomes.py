"""Outcomes of a case, and the record a run keeps of each case."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # the implementation did not do what the case says
    ERROR = "error"  # the adapter or the harness broke
    TIMEOUT = "timeout"  # the case exceeded its deadline
    SKIP = "skip"  # a required capability is missing

    def __str__(self) -> str:
        return self.value


#: How an ``error`` that is a bug of ours (not the adapter's) begins: such a run exits as an internal error.
HARNESS_ERROR = "harness error: "

#: The outcome names in their canonical order (reports, schemas and filters use it).
OUTCOMES = tuple(outcome.value for outcome in Outcome)


@dataclass
class CaseResult:
    id: str
    outcome: Outcome
    level: str
    message: str = ""
    duration_ms: float = 0.0
    tags: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    file: str = ""
    line: int = 0
    title: str = ""
    transcript: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "outcome": self.outcome.value,
            "level": self.level,
            "tags": list(self.tags),
            "source": list(self.source),
            "location": f"{self.file}:{self.line}",
            "duration_ms": round(self.duration_ms, 3),
            "message": self.message,
            "transcript": self.transcript,
        }
