"""A case's transcript as typed entries: what the interpreter recorded, in order.

A transcript is the run's variables (the peer's ports and addresses: a reader
matches them to captures), then one entry per observed step, then the end of
the adapter session:

- ``ClientStepEntry``: a client step and what the adapter answered (a protocol reply);
- ``PeerStepEntry``: a peer step and what the peer saw or did (a background peer
  step twice: when it starts, with its request only, and when it is joined);
- ``SkippedStepEntry``: a step an observe-only run (the differential fuzzer) could not perform;
- ``SessionEndEntry``: the adapter's report at the end of the session.

``as_dict()`` of each is its JSON in results.json (docs/results-format.md) and
``entry_from_dict`` reads it back: the one place that knows those keys. Values
inside (requests, replies, peer results) stay the JSON the protocol and the
peer gave, with large payloads summarised (``engine.values.shorten``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Peer actions are named ``peer.*`` (spec/README.md); a test holds the actions table to it.
PEER_PREFIX = "peer."

#: The ``step`` of the session's end entry.
END = "end"


def is_peer_action(action: str) -> bool:
    return action.startswith(PEER_PREFIX)


@dataclass(frozen=True)
class VariablesEntry:
    variables: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"variables": self.variables}


@dataclass(frozen=True)
class _Step:
    #: The step's number in its case, from 1 (a joined background step: the background step's).
    step: int
    line: int
    action: str
    #: What was sent: the adapter request, or the call of the peer (``peer.calls.describe``).
    request: dict[str, Any] | None = None
    observed: dict[str, Any] | None = None
    #: The expectation the observation was judged against (after substitution), if one was.
    expected: Any = None
    problem: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"step": self.step, "line": self.line, "action": self.action}
        if self.request is not None:
            entry["request"] = self.request
        if self.observed is not None:
            entry["observed"] = self.observed
        if self.expected is not None:
            entry["expected"] = self.expected
        if self.problem:
            entry["problem"] = self.problem
        if self.note:
            entry["note"] = self.note
        return entry


@dataclass(frozen=True)
class ClientStepEntry(_Step):
    """``observed`` is the adapter's reply: ``status`` and a ``value`` or an ``error``."""

    @property
    def status(self) -> str | None:
        status = (self.observed or {}).get("status")
        return status if isinstance(status, str) else None


@dataclass(frozen=True)
class PeerStepEntry(_Step):
    """``observed`` is the peer's result (``conformance_peer``'s ``as_dict()``); None when a background step starts."""

    @property
    def background(self) -> str | None:
        """The background name, on the entry of a background step's start."""
        name = (self.request or {}).get("background")
        return name if isinstance(name, str) else None


@dataclass(frozen=True)
class SkippedStepEntry:
    step: int
    line: int
    action: str
    #: Why the step could not run (a name it refers to does not exist, an unknown variable).
    reason: str
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"step": self.step, "line": self.line, "action": self.action}
        entry["observed"] = {"skipped": self.reason}
        if self.note:
            entry["note"] = self.note
        return entry


@dataclass(frozen=True)
class SessionEndEntry:
    #: The line of the case's ``end`` step; None for the implicit end after the last step.
    line: int | None
    #: The adapter's answer to ``end``: its value reports open sockets and unhandled rejections.
    reply: dict[str, Any]
    #: Whether the report was judged (an explicit or implicit end of a case still passing).
    judged: bool

    def as_dict(self) -> dict[str, Any]:
        return {"step": END, "line": self.line, "reply": self.reply, "judged": self.judged}


TranscriptEntry = VariablesEntry | ClientStepEntry | PeerStepEntry | SkippedStepEntry | SessionEndEntry


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key}: expected a string")
    return value


def _optional_object(data: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{key}: expected an object")
    return value


def entry_from_dict(data: Mapping[str, Any]) -> TranscriptEntry:
    """The entry ``data`` (an ``as_dict()`` as results.json holds it); ``ValueError`` saying what is wrong."""
    if "variables" in data:
        variables = data["variables"]
        if not isinstance(variables, dict):
            raise ValueError("variables: expected an object")
        return VariablesEntry(variables)
    step = data.get("step")
    if step == END:
        reply, line, judged = data.get("reply"), data.get("line"), data.get("judged")
        if not isinstance(reply, dict):
            raise ValueError("reply: expected an object")
        if line is not None and (not isinstance(line, int) or isinstance(line, bool)):
            raise ValueError("line: expected a number or null")
        if not isinstance(judged, bool):
            raise ValueError("judged: expected true or false")
        return SessionEndEntry(line, reply, judged)
    line, action = data.get("line"), data.get("action")
    if not isinstance(step, int) or isinstance(step, bool) or not isinstance(line, int) or isinstance(line, bool):
        raise ValueError('expected "variables", a step number with its line, or the "end" of the session')
    if not isinstance(action, str):
        raise ValueError("action: expected a string")
    observed = _optional_object(data, "observed")
    note = _optional_text(data, "note")
    if observed is not None and set(observed) == {"skipped"} and isinstance(observed["skipped"], str):
        return SkippedStepEntry(step, line, action, observed["skipped"], note)
    kind = PeerStepEntry if is_peer_action(action) else ClientStepEntry
    return kind(
        step,
        line,
        action,
        request=_optional_object(data, "request"),
        observed=observed,
        expected=data.get("expected"),
        problem=_optional_text(data, "problem"),
        note=note,
    )


def from_dicts(items: Iterable[Mapping[str, Any]]) -> list[TranscriptEntry]:
    """A transcript read back from results.json; ``ValueError`` naming the entry that is not one."""
    entries: list[TranscriptEntry] = []
    for index, item in enumerate(items):
        try:
            entries.append(entry_from_dict(item))
        except ValueError as error:
            raise ValueError(f"transcript/{index}: {error}") from None
    return entries


def as_dicts(entries: Iterable[TranscriptEntry]) -> list[dict[str, Any]]:
    return [entry.as_dict() for entry in entries]
