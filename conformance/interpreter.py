"""The step interpreter: turns a case into actions and observations into a verdict.

It performs no I/O and reads no clock, like h11's ``Connection``: the runner
asks for the ``next_action()``, performs it (a request to the adapter, an
operation of the peer, a sleep) and feeds back what it observed with
``observe()``. The first observation that does not meet its step's
expectation decides the outcome; after that the interpreter only asks for the
session to end. This keeps every rule of the case format testable with plain
data, without sockets or event loops.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from . import units
from .jsvalues import b64
from .matching import describe_bytes, match, match_error, show
from .model import SYNC_ACTIONS, Case, Step
from .outcomes import Outcome
from .substitution import UnknownVariable, substitute

DEFAULT_WITHIN = 2.0
END_TIMEOUT_MS = 2000
#: Transcripts keep at most this much of any byte payload.
TRANSCRIPT_BYTES = 256


# -- actions the runner performs -------------------------------------------------


@dataclass(frozen=True)
class ClientOp:
    step: Step | None
    request: dict[str, Any]  # without "seq"


@dataclass(frozen=True)
class PeerOp:
    step: Step
    method: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Sleep:
    step: Step
    seconds: float


@dataclass(frozen=True)
class StartBackground:
    name: str
    action: PeerOp


@dataclass(frozen=True)
class JoinBackground:
    step: Step
    name: str
    timeout: float


@dataclass(frozen=True)
class EndSession:
    judged: bool
    timeout_ms: int = END_TIMEOUT_MS


@dataclass(frozen=True)
class Finished:
    outcome: Outcome
    message: str


Action = ClientOp | PeerOp | Sleep | StartBackground | JoinBackground | EndSession | Finished


class SpecRuntimeError(Exception):
    """The case asked for something impossible at run time (a harness-side error)."""


# -- bytes as written in cases -----------------------------------------------------


def to_bytes(spec: Any) -> bytes:
    if isinstance(spec, str):
        return spec.encode("utf-8")
    if "text" in spec:
        return str(spec["text"]).encode("utf-8")
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if "b64" in spec:
        return base64.b64decode(spec["b64"])
    seed = str(spec["pattern"]).encode("utf-8")
    total = units.size(spec["size"])
    return (seed * (total // len(seed) + 1))[:total]


def to_protocol_value(spec: Any) -> Any:
    """A ``write`` argument as the adapter protocol carries it."""
    if isinstance(spec, dict) and "raw" in spec:
        return spec["raw"]
    view = spec.get("view", "Uint8Array") if isinstance(spec, dict) else "Uint8Array"
    if isinstance(spec, dict) and "pattern" in spec:
        seed = str(spec["pattern"]).encode("utf-8")
        return {"$type": "pattern", "seed": b64(seed), "size": units.size(spec["size"]), "view": view}
    return {"$type": "bytes", "b64": b64(to_bytes(spec)), "view": view}


def _reply_bytes(value: Any) -> bytes | None:
    if isinstance(value, dict) and value.get("$type") == "bytes":
        return base64.b64decode(value["b64"])
    return None


def shorten(value: Any) -> Any:
    """A copy of a protocol value fit for a transcript (large payloads summarised)."""
    if isinstance(value, dict):
        if value.get("$type") == "bytes" and len(value.get("b64", "")) > TRANSCRIPT_BYTES:
            data = base64.b64decode(value["b64"])
            return {
                "$type": "bytes",
                "view": value.get("view"),
                "length": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "starts": describe_bytes(data[:32]),
            }
        return {key: shorten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shorten(item) for item in value]
    if isinstance(value, bytes):
        return (
            describe_bytes(value)
            if len(value) <= TRANSCRIPT_BYTES
            else {"length": len(value), "sha256": hashlib.sha256(value).hexdigest()}
        )
    return value


# -- the interpreter -------------------------------------------------------------------


@dataclass
class _Background:
    step: Step
    peer: bool
    reply: dict[str, Any] | None = None


@dataclass
class CaseInterpreter:
    case: Case
    variables: dict[str, Any]
    transcript: list[dict[str, Any]] = field(default_factory=list)
    outcome: Outcome | None = None
    message: str = ""

    def __post_init__(self) -> None:
        self._steps = list(self.case.steps)
        if not any(step.action == "end" for step in self._steps):
            self._implicit_end = True
        else:
            self._implicit_end = False
        self._position = 0
        self._sockets: dict[str, str] = {}
        self._current_socket: str | None = None
        self._connections = 0
        self._current_conn: str | None = None
        self._promises: dict[str, str] = {}
        self._background: dict[str, _Background] = {}
        self._awaiting: tuple[str, Any] | None = None  # (kind, context) of the action in flight
        self._sent: dict[str, Any] | None = None  # the request of the action in flight, for the transcript
        self._ended = False
        self._finished = False
        # The peer's ports go in the transcript: a report reader can match them to captures.
        self.transcript.append({"variables": shorten(self.variables)})

    # The runner's side --------------------------------------------------------------

    def next_action(self) -> Action:
        if self._awaiting is not None:
            raise RuntimeError("observe() the previous action first")
        if self._finished:
            raise RuntimeError("the case is finished")
        if self.outcome is not None or self._position >= len(self._steps):
            if not self._ended:
                self._ended = True
                judged = self.outcome is None and self._implicit_end
                self._awaiting = ("end", (None, judged))
                return EndSession(judged=judged)
            self._finished = True
            outcome = self.outcome or Outcome.PASS
            return Finished(outcome, self.message)
        step = self._steps[self._position]
        self._position += 1
        try:
            return self._action_for(step)
        except (SpecRuntimeError, UnknownVariable) as error:
            self._decide(Outcome.ERROR, f"{step.describe()}: {error}")
            return self.next_action()

    def observe(self, observation: Any) -> None:
        if self._awaiting is None:
            raise RuntimeError("no action is waiting for an observation")
        kind, context = self._awaiting
        self._awaiting = None
        handler = getattr(self, f"_observe_{kind}")
        handler(context, observation)

    def fault(self, outcome: Outcome, message: str) -> None:
        """The runner saw the adapter break (``error``) or the case run out of time (``timeout``)."""
        self._awaiting = None
        self._decide(outcome, message)

    # Building actions -------------------------------------------------------------------

    def _within(self, step: Step) -> float:
        return step.within if step.within is not None else DEFAULT_WITHIN

    def _expectation(self, step: Step) -> dict[str, Any]:
        if step.expect is not None:
            expect: dict[str, Any] = substitute(step.expect, self.variables)
            return expect
        if step.action in ("connect", "start_tls"):
            return {"returns": "socket"}
        if step.action in SYNC_ACTIONS:
            return {"returns": {"$any": True}}
        return {"resolves": {"$any": True}}

    def _socket(self, step: Step) -> str:
        if step.socket is not None:
            if step.socket not in self._sockets:
                raise SpecRuntimeError(f"no socket named {step.socket!r} exists (did its connect fail?)")
            return self._sockets[step.socket]
        if self._current_socket is None:
            raise SpecRuntimeError("no socket exists yet (connect first, or did connect throw?)")
        return self._current_socket

    def _conn(self) -> str:
        if self._current_conn is None:
            raise SpecRuntimeError("no peer connection accepted yet (add a peer.accept step)")
        return self._current_conn

    def _timeout_ms(self, step: Step) -> int:
        pending = _pending_for(self._expectation(step))
        if pending is not None:
            return int(pending * 1000)
        return int(self._within(step) * 1000)

    def _client_request(self, step: Step) -> dict[str, Any]:
        arg = substitute(step.arg, self.variables)
        action = step.action
        if action == "connect":
            request: dict[str, Any] = {"op": "connect", "address": arg["address"]}
            if "options" in arg:
                request["options"] = arg["options"]
            return request
        if action == "start_tls":
            request = {"op": "start_tls", "socket": self._socket(step)}
            if "options" in arg:
                request["options"] = arg["options"]
            return request
        if action == "await":
            if arg in ("opened", "closed"):
                return {
                    "op": "await",
                    "socket": self._socket(step),
                    "promise": arg,
                    "timeout_ms": self._timeout_ms(step),
                }
            if arg in self._promises:
                return {"op": "await", "promise": self._promises[arg], "timeout_ms": self._timeout_ms(step)}
            raise SpecRuntimeError(f"nothing to await named {arg!r}")
        request = {"op": action, "socket": self._socket(step)}
        if action == "get":
            request["property"] = arg
        elif action == "read_bytes":
            request["n"] = None if arg["n"] is None else units.size(arg["n"])
            request["digest"] = bool(arg.get("digest", False))
        elif action == "write":
            request["data"] = to_protocol_value(arg)
        elif action == "release_lock":
            request["stream"] = arg
        elif action in ("abort_writer", "cancel_reader") and "reason" in arg:
            request["reason"] = arg["reason"]
        if action not in SYNC_ACTIONS:
            request["timeout_ms"] = self._timeout_ms(step)
        return request

    def _peer_op(self, step: Step) -> PeerOp:
        arg = substitute(step.arg, self.variables)
        within = self._within(step)
        action = step.action
        if action == "peer.accept":
            expect = self._expectation(step)
            self._connections += 1
            name = step.name or f"c{self._connections}"
            timeout = units.seconds(expect["no_connection"]["for"]) if "no_connection" in expect else within
            return PeerOp(step, "accept", {"name": name, "timeout": timeout})
        conn = self._conn()
        if action == "peer.send":
            data = arg["data"] if isinstance(arg, dict) and "data" in arg else arg
            chunks = arg.get("chunks") if isinstance(arg, dict) and "data" in arg else None
            return PeerOp(step, "send", {"conn": conn, "data": to_bytes(data), "chunks": chunks, "timeout": within})
        if action == "peer.recv":
            n = None if arg["n"] is None else units.size(arg["n"])
            return PeerOp(
                step, "recv", {"conn": conn, "n": n, "timeout": within, "digest": bool(arg.get("digest", False))}
            )
        if action in ("peer.expect_eof", "peer.expect_reset"):
            return PeerOp(step, "wait_end", {"conn": conn, "timeout": within})
        if action == "peer.expect_silence":
            return PeerOp(step, "wait_end", {"conn": conn, "timeout": units.seconds(arg["for"])})
        if action == "peer.echo":
            return PeerOp(step, "echo", {"conn": conn, "chunks": arg.get("chunks"), "timeout": within})
        if action == "peer.start_tls":
            return PeerOp(step, "start_tls", {"conn": conn, "timeout": within})
        method = {"peer.shutdown": "shutdown_write", "peer.close": "close", "peer.reset": "reset"}[action]
        return PeerOp(step, method, {"conn": conn})

    def _action_for(self, step: Step) -> Action:
        if step.action == "sleep":
            self._awaiting = ("nothing", step)
            return Sleep(step, units.seconds(step.arg))
        if step.action == "end":
            self._ended = True
            self._awaiting = ("end", (step, True))
            return EndSession(judged=True)
        if step.action == "join" or (step.action == "await" and step.arg in self._background):
            return self._join(step, step.arg)
        if step.action.startswith("peer."):
            action = self._peer_op(step)
            if step.background:
                self._background[step.background] = _Background(step, peer=True)
                self._awaiting = ("nothing", step)
                self._record(step, {"peer": action.method, "background": step.background}, None, None)
                return StartBackground(step.background, action)
            self._awaiting = ("peer", step)
            self._sent = {"peer": action.method, **{k: v for k, v in action.kwargs.items() if v is not None}}
            return action
        request = self._client_request(step)
        self._sent = request
        if step.background:
            request["timeout_ms"] = 0
            self._background[step.background] = _Background(step, peer=False)
            self._awaiting = ("client_background", step)
        else:
            self._awaiting = ("client", step)
        return ClientOp(step, request)

    def _join(self, join_step: Step, name: str) -> Action:
        background = self._background.get(name)
        if background is None:
            raise SpecRuntimeError(f"no background step named {name!r}")
        # An expectation written on the join wins over the background step's own.
        judged = replace(background.step, expect=join_step.expect) if join_step.expect else background.step
        if background.peer:
            self._awaiting = ("peer_join", judged)
            return JoinBackground(join_step, name, self._within(join_step))
        reply = background.reply or {}
        if reply.get("status") == "pending":
            self._awaiting = ("client", judged)
            timeout_ms = int(self._within(join_step) * 1000)
            self._sent = {"op": "await", "promise": reply["promise"], "timeout_ms": timeout_ms}
            return ClientOp(judged, dict(self._sent))
        # It had settled already: judge the stored reply, then go on.
        self._judge_client(judged, reply)
        return self.next_action()

    # Observations --------------------------------------------------------------------------

    def _observe_nothing(self, step: Step, observation: Any) -> None:
        pass

    def _observe_client_background(self, step: Step, reply: dict[str, Any]) -> None:
        assert step.background is not None
        self._background[step.background].reply = reply
        self._record(step, None, reply, None)
        if reply.get("status") in ("unsupported", "protocol_error"):
            self._decide(
                Outcome.ERROR, f"{step.describe()}: adapter answered {reply.get('status')}: {reply.get('reason', '')}"
            )
        elif step.action == "connect" and reply.get("status") == "returned":
            self._take_socket(step, reply)

    def _observe_client(self, step: Step, reply: dict[str, Any]) -> None:
        self._judge_client(step, reply)

    def _observe_peer(self, step: Step, result: dict[str, Any]) -> None:
        self._judge_peer(step, result)

    def _observe_peer_join(self, step: Step, result: dict[str, Any]) -> None:
        self._judge_peer(step, result)

    def _observe_end(self, context: tuple[Step | None, bool], reply: dict[str, Any]) -> None:
        step, judged = context
        self.transcript.append(
            {"step": "end", "line": step.line if step else None, "reply": shorten(reply), "judged": judged}
        )
        if not judged or self.outcome is not None:
            return
        status = reply.get("status")
        if status != "returned":
            self._decide(Outcome.ERROR, f"end of session: adapter answered {status}: {reply.get('reason', '')}")
            return
        expected: Any = []
        if step is not None and step.expect is not None:
            expected = step.expect.get("unhandled_rejections", [])
        value = reply.get("value") or {}
        problem = match(expected, value.get("unhandled_rejections", []), "unhandled rejections")
        if problem:
            where = step.describe() if step else "end of session"
            self._decide(Outcome.FAIL, f"{where}: {problem} (B22: opened/closed are marked handled)")

    # Judging -----------------------------------------------------------------------------

    def _take_socket(self, step: Step, reply: dict[str, Any]) -> None:
        handle = (reply.get("value") or {}).get("socket")
        if isinstance(handle, str):
            self._current_socket = handle
            if step.name:
                self._sockets[step.name] = handle

    def _judge_client(self, step: Step, reply: dict[str, Any]) -> None:
        expect = self._expectation(step)
        status = reply.get("status")
        if status in ("unsupported", "protocol_error"):
            self._record(step, None, reply, expect)
            self._decide(Outcome.ERROR, f"{step.describe()}: adapter answered {status}: {reply.get('reason', '')}")
            return
        if step.action in ("connect", "start_tls") and status == "returned":
            self._take_socket(step, reply)
        if status == "pending" and step.name and "promise" in reply:
            self._promises[step.name] = reply["promise"]
        problem = self._client_problem(step, expect, reply)
        self._record(step, None, reply, expect, problem)
        if problem:
            self._decide(Outcome.FAIL, f"{step.describe()}: {problem}")

    def _client_problem(self, step: Step, expect: dict[str, Any], reply: dict[str, Any]) -> str | None:
        ((kind, wanted),) = expect.items()
        status = reply.get("status")
        value = reply.get("value")
        seen = _seen(reply)
        if kind == "any_of":
            problems = [self._client_problem(step, option, reply) for option in wanted]
            if all(problems):
                return "none of the allowed outcomes happened: " + "; ".join(str(p) for p in problems)
            return None
        if kind == "returns":
            if status != "returned":
                return f"expected the call to return, but it {seen}"
            if wanted == "socket":
                return None if isinstance((value or {}).get("socket"), str) else f"expected a socket, got {show(value)}"
            return match(wanted, value)
        if kind == "throws":
            if status != "threw":
                return f"expected a synchronous throw {show(wanted)}, but it {seen}"
            return match_error(wanted, reply.get("error"))
        if kind == "resolves":
            if status != "resolved":
                return f"expected it to resolve, but it {seen}"
            return match(wanted, value)
        if kind == "rejects":
            if status != "rejected":
                return f"expected a rejection {show(wanted)}, but it {seen}"
            return match_error(wanted, reply.get("error"))
        if kind == "settles":
            return None if status in ("resolved", "rejected") else f"expected it to settle, but it {seen}"
        if kind == "pending":
            return None if status == "pending" else f"expected it to stay pending for {wanted['for']}, but it {seen}"
        if status != "resolved":
            return f"expected it to resolve ({kind}), but it {seen}"
        value = value or {}
        if kind == "done":
            return None if value.get("done") is True else f"expected done, got {show(shorten(value))}"
        if kind == "chunk":
            data = _reply_bytes(value.get("value"))
            if value.get("done") or data is None:
                return f"expected a chunk, got {show(shorten(value))}"
            want = to_bytes(wanted)
            if data != want:
                return f"expected chunk {describe_bytes(want)}, got {describe_bytes(data)}"
            view = wanted.get("view") if isinstance(wanted, dict) else None
            got_view = value["value"].get("view")
            return None if view is None or view == got_view else f"expected a {view} chunk, got a {got_view}"
        if kind in ("bytes", "size"):
            return _compare_received(kind, wanted, value)
        return f"unknown expectation {kind!r}"

    def _judge_peer(self, step: Step, result: dict[str, Any]) -> None:
        expect = step.expect
        problem = _peer_problem(step, expect, result)
        if step.action == "peer.accept" and result.get("accepted"):
            self._current_conn = result.get("name")
        self._record(step, None, result, expect, problem)
        if problem:
            self._decide(Outcome.FAIL, f"{step.describe()}: {problem}")

    # Bookkeeping ------------------------------------------------------------------------------

    def _record(self, step: Step, request: Any, reply: Any, expect: Any, problem: str | None = None) -> None:
        entry: dict[str, Any] = {"step": step.index + 1, "line": step.line, "action": step.action}
        # What was sent for this step (to the adapter, or asked of the peer), if not given.
        request, self._sent = (request if request is not None else self._sent), None
        if request is not None:
            entry["request"] = shorten(request)
        if reply is not None:
            entry["observed"] = shorten(reply)
        if expect is not None:
            entry["expected"] = expect
        if problem:
            entry["problem"] = problem
        if step.note:
            entry["note"] = step.note
        self.transcript.append(entry)

    def _decide(self, outcome: Outcome, message: str) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.message = message


def _pending_for(expect: dict[str, Any]) -> float | None:
    """How long a ``pending`` expectation (possibly inside ``any_of``) asks the adapter to wait."""
    if "pending" in expect:
        return units.seconds(expect["pending"]["for"])
    durations = [d for option in expect.get("any_of", []) if (d := _pending_for(option)) is not None]
    return max(durations) if durations else None


def _seen(reply: dict[str, Any]) -> str:
    status = reply.get("status")
    if status == "returned":
        return f"returned {show(shorten(reply.get('value')))}"
    if status == "threw":
        return f"threw {show(reply.get('error'))}"
    if status == "resolved":
        return f"resolved with {show(shorten(reply.get('value')))}"
    if status == "rejected":
        return f"rejected with {show(reply.get('error'))}"
    if status == "pending":
        return "was still pending"
    return f"answered {show(reply)}"


def _compare_received(kind: str, wanted: Any, value: dict[str, Any]) -> str | None:
    length = value.get("length")
    if kind == "size":
        want_size = units.size(wanted)
        return None if length == want_size else f"expected {want_size} bytes, got {length}"
    want = to_bytes(wanted)
    if "sha256" in value and "data" not in value:
        if length != len(want):
            return f"expected {len(want)} bytes, got {length}"
        digest = hashlib.sha256(want).hexdigest()
        return None if value["sha256"] == digest else f"the {length} bytes differ from the expected ones (sha256)"
    data = value.get("data")
    got = _reply_bytes(data) if isinstance(data, dict) else data
    if got is None:
        return f"expected bytes, got {show(shorten(value))}"
    if got == want:
        return None
    same = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
    return f"expected {describe_bytes(want)}, got {describe_bytes(got)} (first difference at byte {same})"


def _tls_problem(wanted: Any, tls: Any) -> str | None:
    if tls is None:
        return "no TLS handshake happened (is the listener plain?)"
    problem = match(wanted, tls, "handshake")
    if problem and tls.get("error"):
        problem += f" (handshake error: {tls['error']})"
    return problem


def _peer_problem(step: Step, expect: dict[str, Any] | None, result: dict[str, Any]) -> str | None:
    action = step.action
    if expect and "any_of" in expect:
        problems = [_peer_problem(step, option, result) for option in expect["any_of"]]
        return None if not all(problems) else "none of the allowed outcomes happened: " + "; ".join(map(str, problems))
    if action == "peer.accept":
        if expect and "no_connection" in expect:
            return None if not result.get("accepted") else "a connection arrived, but none was expected"
        if not result.get("accepted"):
            return f"no connection arrived within {result.get('waited_s', '?')} s"
        if expect and "tls" in expect:
            return _tls_problem(expect["tls"], result.get("tls"))
        return None
    if action == "peer.start_tls":
        return _tls_problem(expect["tls"] if expect and "tls" in expect else {"ok": True}, result.get("tls"))
    if action in ("peer.expect_eof", "peer.expect_reset", "peer.expect_silence"):
        wanted = {"peer.expect_eof": "eof", "peer.expect_reset": "reset", "peer.expect_silence": "silence"}[action]
        kind = result.get("kind")
        if kind == wanted:
            return None
        names = {"eof": "EOF (FIN)", "reset": "a reset (RST)", "silence": "nothing", "data": "data"}
        extra = f" {describe_bytes(base64.b64decode(result['data_b64']))}" if result.get("data_b64") else ""
        return f"the peer expected {names[wanted]}, but saw {names.get(str(kind), str(kind))}{extra}"
    if result.get("timed_out"):
        got = result.get("length")
        return f"the peer's {action} did not complete in time" + (f" ({got} bytes so far)" if got is not None else "")
    if result.get("error"):
        return f"the peer's {action} failed: {result['error']}"
    if action == "peer.recv" and expect:
        kind = "bytes" if "bytes" in expect else "size" if "size" in expect else None
        if kind:
            return _compare_received(kind, expect[kind], result)
    if action == "peer.echo" and expect and "size" in expect:
        return _compare_received("size", expect["size"], result)
    if action in ("peer.recv", "peer.echo") and result.get("ended") == "reset":
        return "the connection was reset"
    return None
