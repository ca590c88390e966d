"""Outcomes of a case, and the record a run keeps of each case (``CaseResult``, its JSON in results.json)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .transcript import TranscriptEntry, as_dicts, from_dicts


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


class Fault(StrEnum):
    """Whose fault an ``error`` was: what the runner and the interpreter tell apart."""

    #: A bug of connect-conformance: the run exits as an internal error (4).
    HARNESS = "harness"
    #: The adapter broke: it crashed, went silent, broke the protocol, refused an op, or would not restart.
    ADAPTER = "adapter"
    #: The peer could not listen where the case asked (a port taken, an address this machine lacks).
    PEER = "peer"
    #: The case cannot go on as written: a name or variable it uses does not exist, its peer script asks
    #: for what its connection cannot do any more.
    SPEC = "spec"

    def __str__(self) -> str:
        return self.value


#: How the skip of a case that needs the network sandbox begins, in files made before ``skipped_by`` existed.
SANDBOX_SKIP = "needs the network sandbox"

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
    transcript: list[TranscriptEntry] = field(default_factory=list)
    #: Set on a skip: whose lack it was.
    skipped_by: SkipCause | None = None
    #: Set on an error: whose fault it was.
    fault: Fault | None = None

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
            "transcript": as_dicts(self.transcript),
        }
        if self.skipped_by is not None:
            document["skipped_by"] = self.skipped_by.value
        if self.fault is not None:
            document["fault"] = self.fault.value
        return document

    @classmethod
    def from_dict(cls, case: Mapping[str, Any]) -> CaseResult:
        """A case of a results.json that the schema accepts (``report.model`` checks it first).

        A skip in a file made before ``skipped_by`` existed is read as ``environment`` when its
        message says it needs the network sandbox, as runs said then.
        """
        file, _, line = str(case.get("location", "")).rpartition(":")
        outcome = Outcome(case["outcome"])
        message = str(case["message"])
        skipped_by = SkipCause(case["skipped_by"]) if "skipped_by" in case else None
        if outcome is Outcome.SKIP and skipped_by is None and message.startswith(SANDBOX_SKIP):
            skipped_by = SkipCause.ENVIRONMENT
        return cls(
            id=str(case["id"]),
            outcome=outcome,
            level=str(case["level"]),
            message=message,
            duration_ms=case["duration_ms"],
            tags=tuple(case.get("tags", ())),
            source=tuple(case.get("source", ())),
            file=file,
            line=int(line) if line.isdigit() else 0,
            title=str(case.get("title", "")),
            transcript=from_dicts(case["transcript"]),
            skipped_by=skipped_by,
            fault=Fault(case["fault"]) if "fault" in case else None,
        )
