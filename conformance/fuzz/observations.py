"""What two implementations did in one scenario, normalised so that only real differences remain.

Each run of a scenario gives a transcript (one entry per step, then the end of
the session). ``normalise`` turns it into a list of comparable observations:

- the run's own ports and addresses become the variables that named them
  (``127.0.0.1:40123`` -> ``127.0.0.1:${peer.port}``), since each run has its own peer;
- promise handles, socket handles, timings and cipher names are dropped;
- an error message that matches one of the message patterns the spec itself
  allows (``message: {$regex: ...}`` in a case) counts as that pattern, the most
  specific one first, so the version differences the spec accepts are not divergences;
- large payloads are compared by length and digest, except a large chunk one
  ``read`` returned, compared by its type (its length depends on timing).

``first_divergence`` names the first step where two lists differ.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.model import Case
from ..core.transcript import (
    PeerStepEntry,
    SessionEndEntry,
    SkippedStepEntry,
    TranscriptEntry,
    VariablesEntry,
)
from ..engine.actions import ACTIONS
from ..protocol.replies import SHAPE_OF_OP

#: Payloads longer than this are compared by length and SHA-256.
INLINE_BYTES = 64


@dataclass(frozen=True)
class Observation:
    """One step (``index`` from 1) or the session's end (``index`` 0), normalised."""

    index: int
    action: str
    seen: Any


@dataclass(frozen=True)
class Divergence:
    index: int
    action: str
    ours: Any
    theirs: Any

    def signature(self) -> str:
        """What kind of difference this is, so one bug is reported once, whatever scenario shows it.

        Where both sides have the same shape, the fields that differ are part of it: a chunk of
        another type is not the same finding as an unhandled rejection of another name."""
        ours, theirs = _shape(self.ours), _shape(self.theirs)
        differing = _differing(self.ours, self.theirs) if ours == theirs else []
        return f"{self.action}: {ours} vs {theirs}" + (f" ({', '.join(differing)})" if differing else "")


def _differing(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """The paths of the leaves where two values differ (a list's items by index)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found: list[str] = []
        for key in sorted(set(ours) | set(theirs), key=str):
            found += _differing(ours.get(key), theirs.get(key), f"{path}.{key}" if path else str(key))
        return found
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        pairs = enumerate(zip(ours, theirs, strict=True))
        return [p for index, (mine, other) in pairs for p in _differing(mine, other, f"{path}[{index}]")]
    return [] if ours == theirs else [path or "value"]


def _shape(seen: Any) -> str:
    if isinstance(seen, dict):
        status = seen.get("status") or seen.get("seen") or next(iter(seen), "?")
        error = seen.get("error")
        if isinstance(error, dict):
            name = error.get("name")
            return f"{status} {name if isinstance(name, str) else 'a non-Error value'}"
        return str(status)
    return str(seen)


def message_patterns(cases: Iterable[Case]) -> list[re.Pattern[str]]:
    """The ``$regex`` matchers cases put on error messages, longest (most specific) first."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "message" and isinstance(item, dict) and isinstance(item.get("$regex"), str):
                    found.add(item["$regex"])
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for case in cases:
        for step in case.steps:
            walk(step.expect)
    # A pattern that says what a message is NOT (a lookahead) would make unrelated messages equal.
    kept = [pattern for pattern in found if "(?!" not in pattern and "(?<!" not in pattern]
    return [re.compile(pattern) for pattern in sorted(kept, key=len, reverse=True)]


class Normaliser:
    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self.patterns = patterns

    def transcript(self, transcript: Sequence[TranscriptEntry]) -> list[Observation]:
        variables = next((entry.variables for entry in transcript if isinstance(entry, VariablesEntry)), {})
        replace = _reverse_substitution(variables)
        found = []
        # Once the peer read the start of a TLS record without speaking TLS itself, what it reads
        # is the client's TLS: random bytes, until the peer's own start_tls decrypts them.
        tls_bytes = False
        for entry in transcript:
            if isinstance(entry, VariablesEntry):
                continue
            if isinstance(entry, SessionEndEntry):
                found.append(Observation(0, "end", self._end(entry.reply, replace)))
                continue
            handshake = _peer_handshake(entry.action)
            if handshake:
                tls_bytes = False  # the peer's own handshake (peer.start_tls): it reads plaintext again
            seen: Any
            if isinstance(entry, SkippedStepEntry):
                seen = {"status": "skipped"}
            elif isinstance(entry, PeerStepEntry):
                observed = entry.observed
                if observed is not None and not handshake:
                    tls_bytes = tls_bytes or _starts_a_tls_record(observed.get("data"))
                seen = self._peer(entry.action, observed, replace, tls_bytes=tls_bytes)
            else:
                seen = self._client(entry.observed, replace)
                shape = SHAPE_OF_OP.get(entry.action)
                if shape == "read_bytes" and isinstance(seen, dict) and isinstance(seen.get("value"), dict):
                    seen["value"].pop("chunks", None)  # how the bytes were cut depends on the network
                if shape == "read":
                    _large_chunk_by_type(seen)
            found.append(Observation(entry.step, entry.action, seen))
        return found

    def message(self, text: Any) -> Any:
        if not isinstance(text, str):
            return text
        for pattern in self.patterns:
            if pattern.search(text):
                return f"<matches {pattern.pattern}>"
        return text

    def _error(self, error: Any, replace: dict[str, str]) -> Any:
        if not isinstance(error, dict):
            return error
        shown = {"name": error.get("name"), "message": self.message(_substitute(error.get("message"), replace))}
        if "value" in error:
            shown["value"] = _substitute(error["value"], replace)
        return shown

    def _client(self, observed: dict[str, Any] | None, replace: dict[str, str]) -> Any:
        if observed is None:
            return None
        status = observed.get("status")
        seen: dict[str, Any] = {"status": status}
        if status in ("threw", "rejected"):
            seen["error"] = self._error(observed.get("error"), replace)
        elif status in ("returned", "resolved") and "value" in observed:
            value = observed["value"]
            seen["value"] = "socket" if isinstance(value, dict) and set(value) == {"socket"} else _value(value, replace)
            _drop_undefined_local_address(seen["value"])
        if "typeof" in observed:
            seen["typeof"] = observed["typeof"]
        return seen

    def _peer(self, action: str, observed: dict[str, Any] | None, replace: dict[str, str], *, tls_bytes: bool) -> Any:
        if observed is None:  # a background step starting: its request only
            return None
        if ACTIONS[action].yields_connection and "accepted" in observed:  # not a join that timed out
            seen: dict[str, Any] = {"accepted": observed["accepted"]}
            tls = observed.get("tls")
            if isinstance(tls, dict):
                seen["tls"] = {"ok": tls.get("ok"), "sni": tls.get("sni")}
            return seen
        if _peer_handshake(action) and "cipher" in observed:  # a handshake (not a join that timed out)
            return {"tls": {"ok": observed.get("ok"), "sni": observed.get("sni")}}
        kept = ("sent", "reset", "timed_out", "length", "sha256", "ended", "seen", "echoed", "done")
        seen = {key: observed[key] for key in kept if key in observed}
        if tls_bytes and ("sha256" in seen or "data" in observed):
            # A ClientHello is random and its size depends on the TLS library: that the
            # bytes are TLS is what two implementations can share.
            seen.pop("sha256", None)
            seen.pop("length", None)
            seen["tls_handshake"] = True
        elif "data" in observed and "seen" in observed:
            seen["data"] = observed["data"]
        if seen.get("timed_out") or seen.get("reset") or seen.get("ended") == "reset":
            # A send or read cut short by its timeout or a reset: how far it got is timing (how much
            # of a large transfer the kernel took first), and no case can expect it (emit.py).
            for counted in ("sent", "length", "sha256", "data"):
                seen.pop(counted, None)
        return _substitute(seen, replace)

    def _end(self, reply: dict[str, Any], replace: dict[str, str]) -> Any:
        value = reply.get("value")
        if not isinstance(value, dict):
            return {"status": reply.get("status")}
        rejections = value.get("unhandled_rejections") or []
        # Not open_sockets: a case cannot check it, and when a runtime lets go of a socket depends
        # on its garbage collector, so a difference there could never be written as a case.
        return {"unhandled_rejections": [self._error(error, replace) for error in rejections]}


def first_divergence(ours: Sequence[Observation], theirs: Sequence[Observation]) -> Divergence | None:
    """The first observation that differs (a step one side did not reach counts), or None."""
    for mine, other in zip(ours, theirs, strict=False):
        if (mine.index, mine.action) != (other.index, other.action):
            return Divergence(min(mine.index, other.index), mine.action, mine.seen, other.seen)
        if mine.seen != other.seen:
            return Divergence(mine.index, mine.action, mine.seen, other.seen)
    if len(ours) != len(theirs):
        longer = ours if len(ours) > len(theirs) else theirs
        extra = longer[min(len(ours), len(theirs))]
        missing = {"status": "not reached"}
        return Divergence(
            extra.index,
            extra.action,
            extra.seen if longer is ours else missing,
            missing if longer is ours else extra.seen,
        )
    return None


def _starts_a_tls_record(data: Any) -> bool:
    """The peer's preview of bytes it read begins with a TLS handshake record (type 22); the
    scenarios' own payloads never do."""
    if isinstance(data, str):  # a short preview that happened to decode as UTF-8
        return data.startswith("\x16")
    return isinstance(data, dict) and str(data.get("hex", "")).startswith("16")


def _drop_undefined_local_address(value: Any) -> None:
    """An opened value's ``localAddress: undefined`` and a missing one are the same to a case (B17)."""
    if isinstance(value, dict) and value.get("localAddress") == {"$type": "undefined"}:
        del value["localAddress"]


def _large_chunk_by_type(seen: Any) -> None:
    """How much of a large send one ``read`` returns depends on timing: such a chunk is compared
    by its type only (``read_bytes`` with a count compares contents)."""
    value = seen.get("value") if isinstance(seen, dict) else None
    chunk = value.get("value") if isinstance(value, dict) else None
    if isinstance(value, dict) and isinstance(chunk, dict) and "sha256" in chunk:
        value["value"] = {"view": chunk.get("view"), "large": True}


def _peer_handshake(action: str) -> bool:
    """A TLS handshake the peer makes on a connection it already has (peer.start_tls)."""
    spec = ACTIONS.get(action)
    return spec is not None and "tls" in spec.expects and not spec.yields_connection


def _reverse_substitution(variables: dict[str, Any]) -> dict[str, str]:
    """Text of this run's ports and addresses -> the variable written for it, longest first."""
    pairs = {}
    # peer.host only where it is the run's own (a loopback address of its own, sandbox-loopback):
    # the usual 127.0.0.1 would turn every loopback address into the variable.
    shared_hosts = ("127.0.0.1", "[::1]")
    for name in ("peer.refused_address", "peer.address", "peer.host", "peer.refused_port", "peer.port"):
        value = variables.get(name)
        if value not in (None, "") and not (name == "peer.host" and value in shared_hosts):
            pairs[str(value)] = "${" + name + "}"
    return dict(sorted(pairs.items(), key=lambda item: -len(item[0])))


def _substitute(value: Any, replace: dict[str, str]) -> Any:
    if isinstance(value, str):
        for text, variable in replace.items():
            value = value.replace(text, variable)
        return value
    if isinstance(value, int) and not isinstance(value, bool) and str(value) in replace:
        return replace[str(value)]
    if isinstance(value, dict):
        return {key: _substitute(item, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, replace) for item in value]
    return value


def _value(value: Any, replace: dict[str, str]) -> Any:
    """A reported value with bytes made comparable (inline when short, else length and digest)."""
    if isinstance(value, dict) and value.get("$type") == "bytes":
        return _bytes_of(value)
    if isinstance(value, dict):
        return {key: _value(item, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [_value(item, replace) for item in value]
    return _substitute(value, replace)


def _bytes_of(value: dict[str, Any]) -> dict[str, Any]:
    import base64

    if "b64" not in value:  # already summarised in the transcript (length, sha256)
        return {"view": value.get("view"), "length": value.get("length"), "sha256": value.get("sha256")}
    data = base64.b64decode(value["b64"])
    if len(data) <= INLINE_BYTES:
        return {"view": value.get("view"), "hex": data.hex()}
    return {"view": value.get("view"), "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
