"""Divergence signatures: what to fix first.

Every case that did not pass (``fail``, ``error``, ``timeout``) gets a one-line
signature of where it first diverged: the first step whose observation differs
from the expectation, its action (with the promise or property it is about),
the property that differs and the class of the difference, e.g.

- ``await opened: value is undefined, expected SocketInfo``
- ``connect: threw TypeError, expected a Socket``
- ``connect: threw TypeError "Invalid URL", expected another message``
- ``peer.accept: a connection arrived, expected none``

It is derived from the typed transcript entries (``core/transcript.py``) and the
expectation each recorded, never from the wording of a failure message; values
are reduced to their class (``a string``, ``a number``, ``SocketInfo``) and the
text that remains (an error message) is normalised: addresses, ports, sizes,
digests and handles become placeholders. So the same root cause in different
cases gives the same signature, and ``grouped`` orders the signatures by how
many cases each explains: the top of the list is what to fix first.

Nothing is stored: a results.json of any age gives its signatures again.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.jsshow import show
from ..core.outcomes import CaseResult, Outcome
from ..core.transcript import ClientStepEntry, PeerStepEntry, SessionEndEntry, TranscriptEntry

#: Characters of normalised text (an error message) kept in a signature.
TEXT_LIMIT = 100
#: Named shapes of the objects a step expects or sees: the keys each may have.
SHAPES = {"SocketInfo": frozenset({"remoteAddress", "localAddress", "alpn"})}
#: What the API lets a step's value be (``opened`` is a ``Promise<SocketInfo>``): where a case wants the
#: promise to resolve, a value of another class is the divergence itself, whatever value the case checks.
#: Where it wants a rejection or a pending promise, the resolution is the divergence: fixing the value
#: would not make the promise reject (node-socket's policy cases fail on Miniflare too, with a SocketInfo).
CONTRACTS = {"await opened": "SocketInfo", "await closed": "undefined"}
#: The expectations that accept a resolved promise.
_WANT_RESOLVED = frozenset({"resolves", "settles"})
#: The expectation kinds that want a settled promise's value, and the status each wants.
_STATUS_OF_KIND = {
    "returns": "returned",
    "throws": "threw",
    "resolves": "resolved",
    "rejects": "rejected",
    "pending": "pending",
    "done": "resolved",
    "chunk": "resolved",
    "bytes": "resolved",
    "size": "resolved",
}

_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\](:\d+)?|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]+")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
_HOST_PORT = re.compile(r"\b([A-Za-z][\w.-]*):\d+\b")
_HEX = re.compile(r"\b[0-9a-f]{16,}\b")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
_STEP_PREFIX = re.compile(r"^step \d+ \(([\w.]+), line \d+\): ")


def normalise(text: str) -> str:
    """``text`` without what differs from case to case: addresses, ports, sizes, digests; its first line, cut."""
    line = text.splitlines()[0] if text else ""
    line = _IPV6.sub("ADDRESS", line)
    line = _IPV4.sub("ADDRESS", line)
    line = _HOST_PORT.sub(r"\1:PORT", line)
    line = _HEX.sub("HEX", line)
    line = _NUMBER.sub("N", line)
    return line if len(line) <= TEXT_LIMIT else line[: TEXT_LIMIT - 1] + "…"


# -- classes of values -----------------------------------------------------------------------------


def _article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _shape(keys: Iterable[str]) -> str | None:
    present = set(keys)
    return next((name for name, allowed in SHAPES.items() if present and present <= allowed), None)


def kind(value: Any) -> str:
    """The class of an observed protocol value: ``undefined``, ``null``, ``false``, ``a string``, ``SocketInfo``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        tag = value.get("$type")
        if tag == "undefined":
            return "undefined"
        if tag == "bytes":
            return _article(str(value.get("view") or "byte view"))
        if tag == "number":
            return "a number"
        if tag == "bigint":
            return "a BigInt"
        if isinstance(tag, str):
            return _article(tag)
        if set(value) == {"socket"}:
            return "a Socket"
        if isinstance(value.get("done"), bool):
            return _read_kind(value)
        return _shape(value) or "an object"
    return "a value"


def _read_kind(value: Mapping[str, Any]) -> str:
    """A read result (``{done, value}``) or what ``read_bytes`` gathered (``{length, done, data}``)."""
    if "length" in value:
        if not value.get("length"):
            return "the end of the stream (done)" if value["done"] else "no bytes"
        return "bytes, then the end of the stream" if value["done"] else "bytes"
    return "the end of the stream (done)" if value["done"] else "a chunk"


def expected_kind(wanted: Any) -> str:
    """The class of a value a case expects, matchers included (``{$regex: ...}`` is ``a string``)."""
    if isinstance(wanted, dict) and len(wanted) == 1 and next(iter(wanted)).startswith("$"):
        ((matcher, argument),) = wanted.items()
        if matcher == "$any":
            return "anything"
        if matcher == "$absent":
            return "no such property"
        if matcher in ("$regex", "$prefix"):
            return "a string"
        if matcher == "$type":
            return kind({"$type": argument})
    if isinstance(wanted, dict):
        return _shape(wanted) or "an object"
    return kind(wanted)


def _error_kind(error: Any) -> str:
    """A thrown or rejection value's class: its name (``TypeError``), or the value's class for a non-Error."""
    if not isinstance(error, dict):
        return kind(error)
    name = error.get("name")
    if isinstance(name, str) and name:
        return name
    if error.get("message") is not None:
        return "an error"
    return kind(error.get("value", {"$type": "undefined"}))


def _expected_error(wanted: Any) -> str:
    if not isinstance(wanted, dict) or not wanted:
        return ""
    if set(wanted) == {"value"}:
        return expected_kind(wanted["value"])
    name = wanted.get("name")
    return _article(name) if isinstance(name, str) else "an error"


# -- the difference of two values ------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """Where two values first differ (``value.remoteAddress``) and how: the classes seen and expected."""

    path: str
    seen: str
    expected: str

    def __str__(self) -> str:
        if self.seen == self.expected:
            return f"{self.path} is another {self.seen.split(' ', 1)[-1]}"
        return f"{self.path} is {self.seen}, expected {self.expected}"


_MISSING: dict[str, str] = {"$type": "undefined"}


def difference(wanted: Any, actual: Any, path: str = "value") -> Difference | None:
    """The first place ``actual`` does not match ``wanted`` (a case's expectation, matchers included), if any."""
    if isinstance(wanted, dict) and len(wanted) == 1 and next(iter(wanted)).startswith("$"):
        ((matcher, argument),) = wanted.items()
        if matcher == "$any":
            return None
        if matcher == "$absent":
            return None if kind(actual) == "undefined" else Difference(path, kind(actual), "no such property")
        if matcher == "$type":
            return None if kind(actual) == expected_kind(wanted) else Difference(path, kind(actual), kind(wanted))
        if matcher in ("$regex", "$prefix") and isinstance(actual, str):
            matched = re.search(argument, actual) if matcher == "$regex" else actual.startswith(str(argument))
            return None if matched else Difference(path, "a string", "a string")
        return Difference(path, kind(actual), expected_kind(wanted))
    if isinstance(wanted, dict):
        if not isinstance(actual, dict) or "$type" in actual:
            return Difference(path, kind(actual), expected_kind(wanted))
        for key, item in wanted.items():
            found = difference(item, actual.get(key, _MISSING), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(wanted, list):
        if not isinstance(actual, list):
            return Difference(path, kind(actual), "an array")
        if len(actual) != len(wanted):
            return Difference(f"{path}.length", "a number", "a number")
        for index, (item, got) in enumerate(zip(wanted, actual, strict=True)):
            found = difference(item, got, f"{path}[{index}]")
            if found:
                return found
        return None
    if kind(wanted) != kind(actual):
        return Difference(path, kind(actual), kind(wanted))
    return None if wanted == actual else Difference(path, kind(actual), kind(wanted))


# -- client steps ----------------------------------------------------------------------------------


def _subject(entry: ClientStepEntry | PeerStepEntry) -> str:
    """The action and what it is about: ``await opened``, ``get upgraded``; a handle (``p3``) is left out."""
    request = entry.request or {}
    if entry.action == "await" and request.get("promise") in ("opened", "closed"):
        return f"await {request['promise']}"
    if entry.action == "get" and isinstance(request.get("property"), str):
        return f"get {request['property']}"
    return entry.action


def _thrown(error: Any) -> str:
    """A thrown or rejection value with its message, normalised: ``TypeError "Invalid URL"``."""
    message = error.get("message") if isinstance(error, dict) else None
    return _error_kind(error) + (f" {show(normalise(message))}" if isinstance(message, str) and message else "")


def _seen(observed: Mapping[str, Any]) -> str:
    """What the implementation did, as a class: ``returned a Socket``, ``threw TypeError "..."``, ``still pending``."""
    status = observed.get("status")
    if status == "returned":
        return f"returned {kind(observed.get('value', _MISSING))}"
    if status == "resolved":
        return f"resolved with {kind(observed.get('value', _MISSING))}"
    if status == "threw":
        return f"threw {_thrown(observed.get('error'))}"
    if status == "rejected":
        return f"rejected with {_thrown(observed.get('error'))}"
    if status == "pending":
        return "still pending"
    return f"answered {normalise(str(status))}"


def _wanted(expect: Mapping[str, Any]) -> str:
    """What a client expectation asks for, as a class: ``a Socket``, ``a rejection``, ``to stay pending``."""
    ((what, wanted),) = expect.items()
    if what == "returns":
        return "a Socket" if wanted == "socket" else f"to return {expected_kind(wanted)}"
    # When the implementation did not even settle the expected way, what the case wanted it to throw,
    # reject or resolve with does not matter: the status is the difference.
    if what == "throws":
        return "a throw"
    if what == "rejects":
        return "a rejection"
    if what == "resolves":
        return "to resolve"
    if what == "pending":
        return "to stay pending"
    if what == "settles":
        return "to settle"
    if what == "done":
        return "the end of the stream (done)"
    if what == "chunk":
        return "a chunk"
    if what in ("bytes", "size"):
        return "bytes"
    if what == "any_of" and isinstance(wanted, list):
        return " or ".join(dict.fromkeys(_wanted(option) for option in wanted if isinstance(option, dict)))
    return what


def _error_difference(wanted: Any, error: Any, seen: str) -> str | None:
    if wanted == "any" or not isinstance(wanted, dict):
        return None
    error = error if isinstance(error, dict) else {}
    name = wanted.get("name")
    if "name" in wanted and difference(name, error.get("name", _MISSING)) is not None:
        return f"{seen} {_thrown(error)}, expected {_expected_error(wanted)}"
    if "message" in wanted and difference(wanted["message"], error.get("message", _MISSING)) is not None:
        message = error.get("message")
        if not isinstance(message, str):
            return f"{seen} {_error_kind(error)} without a message, expected one"
        return f"{seen} {_thrown(error)}, expected another message"
    if "value" in wanted:
        found = difference(wanted["value"], error.get("value", _MISSING))
        if found:
            return f"{seen} {kind(error.get('value', _MISSING))}, expected {expected_kind(wanted['value'])}"
    return None


def _read_difference(what: str, value: Any) -> str:
    """A read that resolved, against ``done``, ``chunk``, ``bytes`` or ``size``."""
    got = kind(value)
    if what == "done" or got in ("the end of the stream (done)", "no bytes"):
        return f"resolved with {got}, expected {_wanted({what: True})}"
    return "received other bytes" if what in ("chunk", "bytes") else "received another number of bytes"


def _client_difference(subject: str, expect: Mapping[str, Any], observed: Mapping[str, Any]) -> str:
    ((what, wanted),) = expect.items()
    status = observed.get("status")
    contract = CONTRACTS.get(subject)
    options = wanted if what == "any_of" and isinstance(wanted, list) else [expect]
    resolved_wanted = any(isinstance(option, dict) and _WANT_RESOLVED & option.keys() for option in options)
    if contract and resolved_wanted and status == "resolved" and kind(observed.get("value", _MISSING)) != contract:
        return str(Difference("value", kind(observed.get("value", _MISSING)), contract))
    if what == "any_of":
        return f"{_seen(observed)}, expected {_wanted(expect)}"
    if what == "settles" and status in ("resolved", "rejected"):
        return f"{_seen(observed)}, expected {_wanted(expect)}"
    if _STATUS_OF_KIND.get(what) != status:
        return f"{_seen(observed)}, expected {_wanted(expect)}"
    value = observed.get("value", _MISSING)
    if what in ("throws", "rejects"):
        verb = "threw" if what == "throws" else "rejected with"
        return _error_difference(wanted, observed.get("error"), verb) or f"{_seen(observed)}, expected another value"
    if what in ("done", "chunk", "bytes", "size"):
        return _read_difference(what, value)
    if what == "returns" and wanted == "socket":
        return f"{_seen(observed)}, expected a Socket"
    found = difference(wanted, value)
    return str(found) if found else f"{_seen(observed)}, expected another value"


# -- peer steps ------------------------------------------------------------------------------------

_END_SEEN = {"eof": "EOF (FIN)", "reset": "a reset (RST)", "silence": "nothing", "data": "data"}
_END_WANTED = {"peer.expect_eof": "eof", "peer.expect_reset": "reset", "peer.expect_silence": "silence"}


def _tls_difference(wanted: Any, tls: Any) -> str:
    if not isinstance(tls, dict):
        return "no TLS handshake happened, expected one"
    if tls.get("ok") is False and (not isinstance(wanted, dict) or wanted.get("ok") is not False):
        reason = f" ({normalise(str(tls['error']))})" if tls.get("error") else ""
        return f"the TLS handshake failed{reason}, expected it to succeed"
    found = difference(wanted if isinstance(wanted, dict) else {"ok": True}, tls, "handshake")
    return str(found) if found else "the TLS handshake differs"


def _peer_difference(entry: PeerStepEntry) -> str:
    expect = entry.expected if isinstance(entry.expected, dict) else {}
    observed = entry.observed or {}
    if "any_of" in expect:
        options = [o for o in expect["any_of"] if isinstance(o, dict)]
        expect = options[0] if options else {}
    if entry.action == "peer.accept":
        if "no_connection" in expect:
            return "a connection arrived, expected none"
        if observed.get("accepted") is False:
            return "no connection arrived, expected one"
        if "tls" in expect:
            return _tls_difference(expect["tls"], observed.get("tls"))
    if entry.action == "peer.start_tls":
        return _tls_difference(expect.get("tls", {"ok": True}), observed)
    if entry.action in _END_WANTED and "seen" in observed:
        seen = str(observed["seen"])
        return f"saw {_END_SEEN.get(seen, seen)}, expected {_END_SEEN[_END_WANTED[entry.action]]}"
    if observed.get("timed_out"):
        return "did not complete in time"
    if observed.get("ended") == "reset":
        return "the connection was reset"
    if "bytes" in expect:
        return "received other bytes"
    if "size" in expect:
        return "received another number of bytes"
    return normalise(entry.problem or "")


# -- the end of the session ------------------------------------------------------------------------


def _end_difference(entry: SessionEndEntry) -> str | None:
    value = entry.reply.get("value") if entry.reply.get("status") == "returned" else None
    rejections = value.get("unhandled_rejections") if isinstance(value, dict) else None
    if not entry.judged or not isinstance(rejections, list) or not rejections:
        return None
    first = rejections[0] if isinstance(rejections[0], dict) else {}
    message = first.get("message")
    text = f" {show(normalise(message))}" if isinstance(message, str) else ""
    return f"end of session: an unhandled rejection, {_error_kind(first)}{text}, expected none"


# -- a case ----------------------------------------------------------------------------------------


def _first_divergence(transcript: Iterable[TranscriptEntry]) -> str | None:
    for entry in transcript:
        if isinstance(entry, ClientStepEntry) and entry.problem:
            expect = entry.expected if isinstance(entry.expected, dict) and len(entry.expected) == 1 else None
            if expect is None or entry.observed is None:
                return f"{_subject(entry)}: {normalise(entry.problem)}"
            subject = _subject(entry)
            return f"{subject}: {_client_difference(subject, expect, entry.observed)}"
        if isinstance(entry, PeerStepEntry) and entry.problem:
            return f"{entry.action}: {_peer_difference(entry)}"
        if isinstance(entry, SessionEndEntry):
            return _end_difference(entry)
    return None


def _last_action(transcript: Iterable[TranscriptEntry]) -> str | None:
    actions = [entry.action for entry in transcript if isinstance(entry, ClientStepEntry | PeerStepEntry)]
    return actions[-1] if actions else None


def of_case(case: CaseResult) -> str | None:
    """The case's divergence signature; None when it passed or was skipped (nothing diverged)."""
    if case.outcome in (Outcome.PASS, Outcome.SKIP):
        return None
    if case.outcome is Outcome.FAIL:
        found = _first_divergence(case.transcript)
        if found:
            return found
    if case.outcome is Outcome.TIMEOUT:
        last = _last_action(case.transcript)
        return f"timeout: the case exceeded its deadline{f' after {last}' if last else ''}"
    message = case.message.splitlines()[0] if case.message else ""
    prefix = _STEP_PREFIX.match(message)
    subject = f"{prefix.group(1)}: " if prefix else ""
    rest = message[prefix.end() :] if prefix else message
    if case.outcome is Outcome.ERROR:
        fault = f" ({case.fault})" if case.fault else ""
        return f"{subject}error{fault}: {normalise(rest)}"
    return f"{subject}{normalise(rest)}"


@dataclass(frozen=True)
class Group:
    """A signature and the cases it explains, in the order of the run."""

    signature: str
    cases: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"signature": self.signature, "cases": list(self.cases)}


def grouped(cases: Iterable[CaseResult]) -> list[Group]:
    """The signatures of the cases that did not pass, the one explaining most cases first (ties: by text)."""
    return group_ids((case.id, of_case(case)) for case in cases)


def group_ids(signed: Iterable[tuple[str, str | None]]) -> list[Group]:
    """``grouped`` for (case id, signature) pairs already derived (``report compare`` keeps only these)."""
    by_signature: dict[str, list[str]] = defaultdict(list)
    for case_id, signature in signed:
        if signature is not None:
            by_signature[signature].append(case_id)
    ordered = sorted(by_signature.items(), key=lambda item: (-len(item[1]), item[0]))
    return [Group(signature, tuple(ids)) for signature, ids in ordered]
