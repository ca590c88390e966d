"""The adapter protocol (docs/adapter-protocol.md, version 1) over a Python ``connect()``: the
Python twin of ``js/interpreter.js``. The dispatcher and the session ops (hello, begin, end,
shutdown) are here; the client ops are in ops.py.

    adapter = create_adapter(name="toy", version="0.1.0", runtime="CPython 3.12", connect=connect)
    response = await adapter.handle(request)   # request: the decoded JSON object
    adapter.note_unhandled(reason)             # from the implementation's unhandled-rejection hook

``handle`` never raises: a malformed request is ``protocol_error``, and so is a bug of the kit
(with the reason). Requests come one at a time, as the harness sends them.

Behaviour notes (the same as interpreter.js):
- No handler is attached to ``opened``/``closed`` unless an op awaits them (B22); ``end`` looks
  at ``closed`` only when the session is over, counts the sockets whose ``closed`` has not
  settled, closes them and waits at most ``timeout_ms``.
- A request with ``request`` (another request's handler), or a ``begin`` with ``environment``,
  answers ``unsupported``.
- ``ops``: the client ops this adapter serves (default: all of them); the others answer
  ``unsupported``, for an implementation brought up op by op.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from ..core.jsshow import show
from .errors import JSThrow, ProtocolError, Unsupported, describe
from .ops import CLIENT_OPS, Op, Response, Threw, invoke, member, timeout_of
from .session import AdapterState, Session
from .values import encode_error

PROTOCOL_VERSION = 1


async def hello(state: AdapterState, message: dict[str, Any]) -> Response:
    if message.get("protocol", PROTOCOL_VERSION) != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol {show(message.get('protocol'))} is not supported; this is 1")
    value = {
        "name": state.name,
        "version": state.version,
        "runtime": state.runtime,
        "protocol": PROTOCOL_VERSION,
        "capabilities": list(state.capabilities),
    }
    return {"status": "returned", "value": value}


async def begin(state: AdapterState, message: dict[str, Any]) -> Response:
    state.session.discard()  # a session left open by a broken case ends here
    case = message.get("case")
    state.session = Session(case if isinstance(case, str) else None)
    return {"status": "returned"}


async def end(state: AdapterState, message: dict[str, Any]) -> Response:
    seconds = timeout_of(message)
    ending = state.session
    entries = list(ending.sockets.values())
    open_entries = []
    for entry in entries:
        try:
            closed = member(entry.socket, "closed", "the socket")
        except (Threw, Unsupported):
            continue  # no closed to look at: counted as closed
        if not ending.track(closed).settled:
            open_entries.append(entry)
    closing = []
    for entry in open_entries:
        with contextlib.suppress(Threw, Unsupported):  # close() raised: nothing to wait for
            closing.append(ending.track(invoke(entry.socket, "close", "the socket")))
    deadline = time.monotonic() + seconds
    for tracked in closing:
        await tracked.within(max(0.0, deadline - time.monotonic()))
    await asyncio.sleep(0)  # rejections the implementation reports in this turn reach note_unhandled first
    report = {"open_sockets": len(open_entries), "unhandled_rejections": list(ending.unhandled)}
    ending.clear()
    if state.session is ending:
        state.session = Session()
    return {"status": "returned", "value": report}


async def shutdown(state: AdapterState, message: dict[str, Any]) -> Response:
    state.shut_down = True
    state.session.discard()
    state.session = Session()
    return {"status": "returned"}


SESSION_OPS: dict[str, Op] = {"hello": hello, "begin": begin, "end": end, "shutdown": shutdown}
HANDLERS: dict[str, Op] = {**SESSION_OPS, **CLIENT_OPS}
#: Every op ``handle`` serves: the session ops, then the client ops.
OPS: tuple[str, ...] = tuple(HANDLERS)


def seq_of(message: object) -> int:
    """The seq to answer with: the request's own when it is a non-negative integer, else 0."""
    seq = message.get("seq") if isinstance(message, dict) else None
    return seq if type(seq) is int and seq >= 0 else 0


class Adapter:
    """The protocol over one implementation (make it with ``create_adapter``)."""

    def __init__(self, state: AdapterState) -> None:
        self._state = state

    @property
    def is_shut_down(self) -> bool:
        """True once ``shutdown`` was answered: the transport then stops."""
        return self._state.shut_down

    async def handle(self, message: object) -> Response:
        """The response to one request (``{seq, status, ...}``); never raises."""
        state = self._state
        body: Response
        try:
            if not isinstance(message, dict):
                raise ProtocolError("a request must be a JSON object")
            if state.shut_down:
                raise ProtocolError("the adapter has shut down")
            op = message.get("op")
            run = HANDLERS.get(op) if isinstance(op, str) else None
            if run is None or not isinstance(op, str):
                raise ProtocolError(f"unknown op {show(op)}")
            if message.get("request") is not None:
                raise Unsupported(
                    f"this adapter runs ops only in the session's own request, not {show(message['request'])}"
                )
            if op == "begin" and message.get("environment") is not None:
                raise Unsupported(f"this adapter has no environment {show(message['environment'])}")
            if op in CLIENT_OPS and op not in state.ops:
                raise Unsupported(f"{state.name} does not serve {op}")
            body = await run(state, message)
        except Threw as threw:
            body = {"status": "threw", "error": encode_error(threw.error)}
        except ProtocolError as error:
            body = {"status": "protocol_error", "reason": str(error)}
        except Unsupported as error:
            body = {"status": "unsupported", "reason": str(error)}
        except Exception as error:  # a bug of the kit: say so, and keep serving
            body = {"status": "protocol_error", "reason": f"the adapter kit failed: {describe(error)}"}
        return {"seq": seq_of(message), **body}

    def note_unhandled(self, reason: object) -> None:
        """Records a rejection the implementation saw go unhandled; ``end`` reports the session's."""
        try:
            error = reason if isinstance(reason, BaseException) else JSThrow(reason)
            self._state.session.unhandled.append(encode_error(error))
        except Exception:  # never let the implementation's hook raise
            pass


def create_adapter(
    *,
    name: str,
    version: str,
    runtime: str,
    connect: Callable[..., Any],
    capabilities: Sequence[str] = (),
    ops: Collection[str] | None = None,
) -> Adapter:
    """An adapter for ``connect`` (``connect()``, ``connect(address)`` or ``connect(address, options)``).

    ``name``, ``version``, ``runtime`` and ``capabilities`` are what ``hello`` answers
    (spec/README.md, Capabilities); ``ops`` the client ops served (default: every one).
    """
    served = frozenset(CLIENT_OPS if ops is None else ops)
    unknown = served - set(CLIENT_OPS)
    if unknown:
        raise ValueError(f"unknown client op(s) {', '.join(sorted(unknown))}; known: {', '.join(CLIENT_OPS)}")
    state = AdapterState(name, version, runtime, list(capabilities), connect, served)
    return Adapter(state)
