"""The step interpreter: turns a case into actions and observations into a verdict.

It performs no I/O and reads no clock, like h11's ``Connection``: the runner
asks for the ``next_action()``, performs it (a request to the adapter, a call
of the peer, a sleep) and feeds back what it observed with ``observe()``.
What each step action means comes from the table in ``actions.py``; how an
observation is judged, from ``judging.py``. The first observation that does
not meet its step's expectation decides the outcome; after that the
interpreter only asks for the session to end. This keeps every rule of the
case format testable with plain data, without sockets or event loops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from conformance_peer import Accepted, PeerCall

from ..core.jsshow import string
from ..core.model import Case, Step
from ..core.outcomes import Fault, Outcome
from ..core.substitution import UnknownVariable, substitute
from ..core.transcript import (
    ClientStepEntry,
    PeerStepEntry,
    SessionEndEntry,
    SkippedStepEntry,
    TranscriptEntry,
    VariablesEntry,
)
from ..peer.calls import PeerResult, describe
from ..protocol.replies import EndReport, Reply, Shape, Status
from . import judging
from .actions import ACTIONS, ClientRequest, EndNow, JoinNamed, Kind, SleepFor, SpecRuntimeError
from .values import shorten

DEFAULT_WITHIN = 2.0
END_TIMEOUT_MS = 2000


# -- actions the runner performs -------------------------------------------------


def _modified(request: dict[str, Any]) -> dict[str, Any]:
    """The fields the interpreter set on a built request after the builder (``request``, ``timeout_ms``)."""
    return {key: request[key] for key in ("request", "timeout_ms") if key in request}


@dataclass(frozen=True)
class ClientOp:
    step: Step | None
    request: dict[str, Any]  # without "seq"
    #: What a settled value must look like (an await of a pending read resolves like a read).
    shape: Shape = "any"


@dataclass(frozen=True)
class PeerOp:
    step: Step
    call: PeerCall


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
#: Continues the case with what the runner observed for the action in flight.
Continuation = Callable[[Any], None]


@dataclass
class _Background:
    step: Step
    peer: bool
    shape: Shape = "any"
    reply: Reply | None = None


@dataclass
class CaseInterpreter:
    case: Case
    variables: dict[str, Any]
    transcript: list[TranscriptEntry] = field(default_factory=list)
    outcome: Outcome | None = None
    message: str = ""
    #: Whose fault an ``error`` outcome was.
    fault: Fault | None = None
    #: Record every observation and go on, judging nothing (the differential fuzzer compares
    #: two implementations' transcripts instead); a step that cannot run is recorded as skipped.
    observe_only: bool = False
    #: The case's real server as a ``driver`` step hands it to the scenario (credentials and CA
    #: included; transcripts show it without them); ``None``: the case has no ``server``.
    server_object: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self._steps = list(self.case.steps)
        self._implicit_end = not any(step.action == "end" for step in self._steps)
        self._position = 0
        self._sockets: dict[str, str] = {}
        self._current_socket: str | None = None
        self._connections = 0
        self._current_conn: str | None = None
        self._accepted: set[str] = set()  # names of the connections the peer accepted
        self._promises: dict[str, tuple[str, Shape]] = {}
        self._background: dict[str, _Background] = {}
        self._continue: Continuation | None = None  # what to do with the observation of the action in flight
        self._sent: dict[str, Any] | None = None  # the request of the action in flight, for the transcript
        self._ended = False
        self._finished = False
        # The peer's ports go in the transcript: a report reader can match them to captures.
        self.transcript.append(VariablesEntry(shorten(self.variables)))

    # The runner's side --------------------------------------------------------------

    def next_action(self) -> Action:
        if self._continue is not None:
            raise RuntimeError("observe() the previous action first")
        if self._finished:
            raise RuntimeError("the case is finished")
        if self.outcome is not None or self._position >= len(self._steps):
            if not self._ended:
                return self._end(None, judged=self.outcome is None and self._implicit_end)
            self._finished = True
            return Finished(self.outcome or Outcome.PASS, self.message)
        step = self._steps[self._position]
        self._position += 1
        try:
            return self._plan(step)
        except (SpecRuntimeError, UnknownVariable) as error:
            if self.observe_only:
                self._sent = None
                self.transcript.append(SkippedStepEntry(step.index + 1, step.line, step.action, str(error), step.note))
            else:
                self._decide(Outcome.ERROR, f"{step.describe()}: {error}", Fault.SPEC)
            return self.next_action()

    def observe(self, observation: Any) -> None:
        if self._continue is None:
            raise RuntimeError("no action is waiting for an observation")
        proceed, self._continue = self._continue, None
        proceed(observation)

    def end_with(self, outcome: Outcome, message: str, fault: Fault | None = None) -> None:
        """The runner saw the adapter break (``error``, with whose ``fault``) or the case run out of time."""
        self._continue = None
        self._decide(outcome, message, fault)

    # What builders may ask (actions.Planner) ------------------------------------------------------

    def socket(self, step: Step) -> str:
        if step.socket is not None:
            if step.socket not in self._sockets:
                raise SpecRuntimeError(f"no socket named {string(step.socket)} exists (did its connect fail?)")
            return self._sockets[step.socket]
        if self._current_socket is None:
            raise SpecRuntimeError("no socket exists yet (connect first, or did connect throw?)")
        return self._current_socket

    def connection(self, step: Step) -> str:
        if step.conn is not None:
            if step.conn not in self._accepted:
                raise SpecRuntimeError(f"no peer connection named {string(step.conn)} was accepted")
            return step.conn
        if self._current_conn is None:
            raise SpecRuntimeError("no peer connection accepted yet (add a peer.accept step)")
        return self._current_conn

    def new_connection(self, step: Step) -> str:
        self._connections += 1
        return step.name or f"c{self._connections}"

    def promise(self, name: str) -> tuple[str, Shape] | None:
        return self._promises.get(name)

    def is_background(self, name: str) -> bool:
        return name in self._background

    def within(self, step: Step) -> float:
        if step.within is not None:
            return step.within
        default = ACTIONS[step.action].default_within
        return default if default is not None else DEFAULT_WITHIN

    def server(self) -> dict[str, Any]:
        if self.server_object is None:
            raise SpecRuntimeError("the case has no server (add `server: {kind: ...}` to the case)")
        return dict(self.server_object)

    def timeout_ms(self, step: Step) -> int:
        pending = judging.pending_for(self._expectation(step))
        return int((pending if pending is not None else self.within(step)) * 1000)

    # Planning ------------------------------------------------------------------------------------

    def _expectation(self, step: Step) -> dict[str, Any]:
        if step.expect is not None:
            expect: dict[str, Any] = substitute(step.expect, self.variables)
            return expect
        return dict(ACTIONS[step.action].default_expect or {})

    def _plan(self, step: Step) -> Action:
        spec = ACTIONS[step.action]
        built = spec.build(self, step, substitute(step.arg, self.variables))
        if isinstance(built, SleepFor):
            self._continue = lambda _: None
            return Sleep(step, built.seconds)
        if isinstance(built, EndNow):
            return self._end(step, judged=True)
        if isinstance(built, JoinNamed):
            return self._join(step, built.name)
        if isinstance(built, ClientRequest):
            return self._client(step, built)
        return self._peer(step, built)

    def _client(self, step: Step, built: ClientRequest) -> Action:
        request = built.request
        if step.request is not None:
            request["request"] = step.request
        if step.background:
            request["timeout_ms"] = 0
            self._background[step.background] = _Background(step, peer=False, shape=built.shape)
            self._continue = lambda reply: self._stored_background(step, reply)
        else:
            self._continue = lambda reply: self._judge_client(step, reply, built.shape)
        # The transcript shows what the builder lets it (a server's credentials never), as it was sent.
        self._sent = request if built.shown is None else {**built.shown, **_modified(request)}
        return ClientOp(step, request, built.shape)

    def _peer(self, step: Step, call: PeerCall) -> Action:
        action = PeerOp(step, call)
        if step.background:
            self._background[step.background] = _Background(step, peer=True)
            self._continue = lambda _: None
            self._record(step, {**describe(call), "background": step.background}, None, None)
            return StartBackground(step.background, action)
        self._sent = describe(call)
        self._continue = lambda result: self._judge_peer(step, result)
        return action

    def _join(self, join_step: Step, name: str) -> Action:
        background = self._background.get(name)
        if background is None:
            raise SpecRuntimeError(f"no background step named {string(name)}")
        # An expectation written on the join wins over the background step's own.
        judged = replace(background.step, expect=join_step.expect) if join_step.expect else background.step
        if background.peer:
            self._continue = lambda result: self._judge_peer(judged, result)
            return JoinBackground(join_step, name, self.within(join_step))
        reply = background.reply
        if reply is not None and reply.status is Status.PENDING and reply.promise is not None:
            timeout_ms = int(self.within(join_step) * 1000)
            self._sent = {"op": "await", "promise": reply.promise, "timeout_ms": timeout_ms}
            self._continue = lambda settled: self._judge_client(judged, settled, background.shape)
            return ClientOp(judged, dict(self._sent), background.shape)
        # It had settled already: judge the stored reply, then go on.
        if reply is not None:
            self._judge_client(judged, reply, background.shape)
        return self.next_action()

    def _end(self, step: Step | None, judged: bool) -> Action:
        self._ended = True
        self._continue = lambda reply: self._judge_end(step, judged, reply)
        return EndSession(judged=judged)

    # Judging ---------------------------------------------------------------------------------------

    def _stored_background(self, step: Step, reply: Reply) -> None:
        assert step.background is not None
        self._background[step.background].reply = reply
        self._record(step, None, reply.raw, None)
        if reply.adapter_refused and not self.observe_only:
            self._decide(
                Outcome.ERROR, f"{step.describe()}: adapter answered {reply.status}: {reply.reason}", Fault.ADAPTER
            )
        elif ACTIONS[step.action].yields_socket and reply.status is Status.RETURNED:
            self._take_socket(step, reply)

    def _take_socket(self, step: Step, reply: Reply) -> None:
        if isinstance(reply.typed, str):
            self._current_socket = reply.typed
            if step.name:
                self._sockets[step.name] = reply.typed

    def _judge_client(self, step: Step, reply: Reply, shape: Shape) -> None:
        expect = self._expectation(step)
        if reply.adapter_refused:
            self._record(step, None, reply.raw, expect)
            if not self.observe_only:
                self._decide(
                    Outcome.ERROR, f"{step.describe()}: adapter answered {reply.status}: {reply.reason}", Fault.ADAPTER
                )
            return
        if ACTIONS[step.action].yields_socket and reply.status is Status.RETURNED:
            self._take_socket(step, reply)
        if reply.status is Status.PENDING and step.name and reply.promise is not None:
            self._promises[step.name] = (reply.promise, shape)
        problem = judging.client_problem(expect, reply)
        self._record(step, None, reply.raw, expect, problem)
        if problem:
            self._decide(Outcome.FAIL, f"{step.describe()}: {problem}")

    def _judge_peer(self, step: Step, result: PeerResult) -> None:
        spec = ACTIONS[step.action]
        assert spec.judge is not None, f"{step.action} is not a peer action"
        expect = substitute(step.expect, self.variables) if step.expect is not None else None
        problem = spec.judge(step.action, expect, result)
        if spec.yields_connection and isinstance(result, Accepted):
            self._current_conn = result.name
            self._accepted.add(result.name)
        self._record(step, None, result.as_dict(), expect, problem)
        if problem:
            self._decide(Outcome.FAIL, f"{step.describe()}: {problem}")

    def _judge_end(self, step: Step | None, judged: bool, reply: Reply) -> None:
        self.transcript.append(SessionEndEntry(step.line if step else None, shorten(reply.raw), judged))
        if not judged or self.outcome is not None:
            return
        if reply.status is not Status.RETURNED or not isinstance(reply.typed, EndReport):
            self._decide(
                Outcome.ERROR, f"end of session: adapter answered {reply.status}: {reply.reason}", Fault.ADAPTER
            )
            return
        problem = judging.end_problem(step.expect if step else None, reply.typed)
        if problem:
            where = step.describe() if step else "end of session"
            self._decide(Outcome.FAIL, f"{where}: {problem}")

    # Bookkeeping ------------------------------------------------------------------------------

    def _record(
        self,
        step: Step,
        request: dict[str, Any] | None,
        reply: dict[str, Any] | None,
        expect: Any,
        problem: str | None = None,
    ) -> None:
        # What was sent for this step (to the adapter, or asked of the peer), if not given.
        request, self._sent = (request if request is not None else self._sent), None
        kind = PeerStepEntry if ACTIONS[step.action].kind is Kind.PEER else ClientStepEntry
        self.transcript.append(
            kind(
                step.index + 1,
                step.line,
                step.action,
                request=shorten(request) if request is not None else None,
                observed=shorten(reply) if reply is not None else None,
                expected=expect,
                problem=problem or None,
                note=step.note or None,
            )
        )

    def _decide(self, outcome: Outcome, message: str, fault: Fault | None = None) -> None:
        if self.observe_only and outcome is Outcome.FAIL:
            return
        if self.outcome is None:
            self.outcome = outcome
            self.message = message
            self.fault = fault if outcome is Outcome.ERROR else None
