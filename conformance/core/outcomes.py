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


class SkipCause(StrEnum):
    """Why a case was skipped: the run's surroundings, or the implementation."""

    #: The run's environment lacks what the case needs (no network sandbox here): "not run here", not a gap.
    ENVIRONMENT = "environment"
    #: The adapter declared no such capability: a real gap of the implementation.
    ADAPTER = "adapter"

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
    #: Set on a skip: whose lack it was.
    skipped_by: SkipCause | None = None

    @property
    def not_run_here(self) -> bool:
        """A skip for want of something this machine or run did not give (e.g. the sandbox)."""
        return self.outcome is Outcome.SKIP and self.skipped_by is SkipCause.ENVIRONMENT

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
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
        if self.skipped_by is not None:
            document["skipped_by"] = self.skipped_by.value
        return document
