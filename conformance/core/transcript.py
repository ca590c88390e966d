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

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

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


def _text(values: Mapping[str, Any] | None, key: str) -> str | None:
    value = (values or {}).get(key)
    return value if isinstance(value, str) else None


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
        return _text(self.observed, "status")


@dataclass(frozen=True)
class PeerStepEntry(_Step):
    """``observed`` is the peer's result (``conformance_peer``'s ``as_dict()``); None when a background step starts."""

    @property
    def background(self) -> str | None:
        """The background name, on the entry of a background step's start."""
        return _text(self.request, "background")


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


#: The keys each kind of entry may have (results.schema.json, ``$defs/transcript_entry``, says the same).
_STEP_KEYS = frozenset({"step", "line", "action", "request", "observed", "expected", "problem", "note"})
_END_KEYS = frozenset({"step", "line", "reply", "judged"})


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional(data: Mapping[str, Any], key: str, kind: type, what: str) -> Any:
    value = data.get(key)
    if key in data and not isinstance(value, kind):
        raise ValueError(f"{key}: expected {what}")
    return value


def _unknown(data: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"unknown key {json.dumps(unknown[0])}")


def entry_from_dict(data: Mapping[str, Any]) -> TranscriptEntry:
    """The entry ``data`` (an ``as_dict()`` as results.json holds it); ``ValueError`` saying what is wrong.

    It accepts exactly what results.schema.json's ``$defs/transcript_entry`` does (a test holds the two
    together): ``report validate`` checks transcripts with it, far faster than a schema validator.
    """
    if "variables" in data:
        _unknown(data, frozenset({"variables"}))
        return VariablesEntry(_optional(data, "variables", dict, "an object"))
    step = data.get("step")
    if step == END:
        _unknown(data, _END_KEYS)
        missing = sorted(_END_KEYS - set(data))
        if missing:
            raise ValueError(f"{json.dumps(missing[0])} is missing")
        line, reply, judged = data["line"], data["reply"], data["judged"]
        if line is not None and not _is_int(line):
            raise ValueError("line: expected a number or null")
        if not isinstance(reply, dict):
            raise ValueError("reply: expected an object")
        if not isinstance(judged, bool):
            raise ValueError("judged: expected true or false")
        return SessionEndEntry(line, reply, judged)
    line, action = data.get("line"), data.get("action")
    if not (_is_int(step) and step >= 1 and _is_int(line) and isinstance(action, str)):
        raise ValueError('expected {"variables": ...}, a step (its number from 1, line and action), or the "end"')
    _unknown(data, _STEP_KEYS)
    if "expected" in data and data["expected"] is None:
        raise ValueError("expected: null is not an expectation")
    observed = _optional(data, "observed", dict, "an object")
    note = _optional(data, "note", str, "a string")
    if observed is not None and set(observed) == {"skipped"} and isinstance(observed["skipped"], str):
        return SkippedStepEntry(step, line, action, observed["skipped"], note)
    kind = PeerStepEntry if is_peer_action(action) else ClientStepEntry
    return kind(
        step,
        line,
        action,
        request=_optional(data, "request", dict, "an object"),
        observed=observed,
        expected=data.get("expected"),
        problem=_optional(data, "problem", str, "a string"),
        note=note,
    )


def from_dicts(items: Iterable[Any]) -> list[TranscriptEntry]:
    """A transcript read back from results.json; ``ValueError`` naming the entry that is not one."""
    entries: list[TranscriptEntry] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise ValueError("expected an object")
            entries.append(entry_from_dict(item))
        except ValueError as error:
            raise ValueError(f"transcript/{index}: {error}") from None
    return entries


def as_dicts(entries: Iterable[TranscriptEntry]) -> list[dict[str, Any]]:
    return [entry.as_dict() for entry in entries]
