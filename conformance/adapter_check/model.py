"""What ``adapter-check`` checks, and how each check came out.

The catalogue fixes every check's id, title and order, so the report always
lists the same lines: a check that could not run (the adapter broke earlier,
or the check is for stdio adapters only) is listed as skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..errors import ConformanceError
from .wire import Exchange


class Status(Enum):
    PASS = "pass"
    WARN = "warn"
    """The harness copes, but the adapter is not doing what the protocol asks."""
    FAIL = "fail"
    SKIP = "skip"


#: Every check, in report order: id -> what it checks.
CATALOGUE: dict[str, str] = {
    "hello.answers": "hello is answered: status returned, its seq echoed",
    "hello.schema": "the hello response matches its schema",
    "hello.fields": "name, version and runtime are non-empty strings",
    "hello.protocol": "protocol is 1",
    "hello.capabilities": "capabilities are known names",
    "session.begin": "begin answers returned",
    "session.end": "end reports open_sockets (0 here) and unhandled_rejections",
    "session.seq-large": "a large seq (2^53-1) is echoed exactly",
    "session.seq-unordered": "seq values that are not sequential are echoed",
    "malformed.unknown-op": "an unknown op answers protocol_error with a reason",
    "malformed.unknown-socket": "an unknown socket handle answers protocol_error",
    "malformed.unknown-promise": "an unknown promise handle answers protocol_error",
    "malformed.missing-field": "a request missing a required field answers protocol_error",
    "values.address-object": "connect({}) answers threw or returned; a throw is {name, message}",
    "values.address-nonsense": 'connect("nonsense") answers threw or returned; a throw is {name, message}',
    "values.rejection": "a refused connection rejects opened with an error {name, message}",
    "roundtrip.connect": "connect to the peer returns a socket handle",
    "roundtrip.opened": "await opened resolves with a SocketInfo object; the peer sees the connection",
    "roundtrip.write": "write delivers the bytes to the peer",
    "roundtrip.read": "read returns the peer's bytes as {$type: bytes, b64, view}",
    "roundtrip.get": "get secureTransport answers returned with value and typeof (or unsupported)",
    "roundtrip.end-closes": "end closes the open socket (the peer sees EOF or reset) and counts it",
    "pending.timeout": "await closed with timeout_ms 200 answers pending with a handle, in time",
    "pending.await-handle": "await {promise: handle} stays pending, then settles after close",
    "stdio.bad-line": "the adapter survives a line that is not JSON",
    "shutdown.answers": "shutdown answers returned, then the adapter exits",
    "wire.seq-echo": "every response echoes its request's seq",
    "wire.schemas": "every response matches its op's schema",
    "wire.deadlines": "every response arrived within its deadline",
}


@dataclass(frozen=True)
class Check:
    id: str
    status: Status
    detail: str = ""
    """What was seen; for a failure or warning: what was expected and what came back."""
    hint: str = ""
    """What to change in the adapter (failures and warnings)."""

    @property
    def title(self) -> str:
        return CATALOGUE[self.id]


class StopProbe(ConformanceError):
    """A probe cannot go on (no usable answer); its remaining checks are not run."""


class Recorder:
    """Collects the outcome of each check; the first outcome of a check stands."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def _put(self, check: Check) -> None:
        if check.id not in CATALOGUE:
            raise KeyError(f"checker bug: {check.id!r} is not in the catalogue")
        self._checks.setdefault(check.id, check)

    def done(self, check_id: str) -> bool:
        return check_id in self._checks

    def ok(self, check_id: str, detail: str = "") -> None:
        self._put(Check(check_id, Status.PASS, detail))

    def fail(self, check_id: str, expected: str, got: str, hint: str = "") -> None:
        self._put(Check(check_id, Status.FAIL, f"expected {expected}; got {got}", hint))

    def warn(self, check_id: str, expected: str, got: str, hint: str = "") -> None:
        self._put(Check(check_id, Status.WARN, f"expected {expected}; got {got}", hint))

    def skip(self, check_id: str, reason: str) -> None:
        self._put(Check(check_id, Status.SKIP, reason))

    def need(self, exchange: Exchange, check_id: str, expected: str, hint: str = "") -> Exchange:
        """The exchange, if it was answered; else ``check_id`` fails and the probe stops."""
        if not exchange.answered:
            self.fail(check_id, expected, exchange.describe(), no_answer_hint(exchange.failure, hint))
            raise StopProbe(check_id)
        return exchange

    def skip_rest(self, check_ids: list[str], reason: str) -> None:
        for check_id in check_ids:
            if not self.done(check_id):
                self.skip(check_id, reason)

    def checks(self) -> list[Check]:
        """Every check in catalogue order; one that never ran is skipped as not run."""
        return [self._checks.get(check_id) or Check(check_id, Status.SKIP, "not run") for check_id in CATALOGUE]


def no_answer_hint(failure: str | None, fallback: str = "") -> str:
    """What to do about an exchange that got no usable answer, from how it broke."""
    failure = failure or ""
    if "not JSON" in failure or "JSON " in failure:
        return (
            "only protocol responses may appear on stdout, one JSON object per line: "
            "send logs to stderr (docs/adapters.md, section 14, Pitfalls)"
        )
    if "exited" in failure or "closed its stdout" in failure or "stdin is closed" in failure:
        return (
            "the adapter died (its stderr is shown below): catch errors per request and answer "
            "them; exit only after shutdown or at the end of stdin"
        )
    if "no answer" in failure:
        return fallback or (
            "answer every request within its timeout_ms: answer pending rather than "
            "wait longer, and flush stdout after each response (docs/adapters.md, section 8)"
        )
    return fallback or (
        "answer every request with exactly one JSON line carrying its seq "
        "(docs/adapters.md, section 3, The message loop)"
    )
