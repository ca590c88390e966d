"""Executing cases: the peer on one side, the adapter on the other, the interpreter in between.

One *lane* runs one case at a time with its own adapter connection; ``-n N``
runs N lanes in this event loop. Cases mostly wait on sockets and timers, so
lanes overlap well even on one core. The runner is the only place that does
I/O for a case: every decision is the interpreter's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance_peer import ListenerSpec, PeerError

from . import peers
from .certificates import RunCertificates
from .errors import AdapterError, InfrastructureError
from .interpreter import (
    CaseInterpreter,
    ClientOp,
    EndSession,
    Finished,
    JoinBackground,
    PeerOp,
    Sleep,
    StartBackground,
)
from .model import Case
from .outcomes import CaseResult, Outcome
from .peer_results import normalise, prepare
from .protocol.client import AdapterClient, Hello
from .protocol.transports import Transport


@dataclass(frozen=True)
class RunContext:
    """What every adapter and peer session of one run shares: the run's certificates.

    Runtime processes are not shared: each lane's transport owns its own (workerd),
    so unhandled rejections of one session cannot be blamed on another.
    """

    certificates: RunCertificates
    peers: peers.PeerProvider = field(default_factory=peers.InProcessPeers)
    """Where the cases' peer sessions are opened (``--peer``)."""

    @property
    def ca_pem(self) -> str:
        return self.certificates.ca_pem

    @property
    def ca_file(self) -> str:
        return str(self.certificates.ca_file)


@dataclass(frozen=True)
class AdapterSpec:
    """How to reach one implementation: a display name and a transport factory.

    The factory gets the run's context at launch, because some runtimes read
    their trust anchors only when they start.
    """

    name: str
    make_transport: Callable[[RunContext], Transport]


class Lane:
    def __init__(self, adapter: AdapterSpec, context: RunContext, validate: bool = True) -> None:
        self.adapter = adapter
        self.context = context
        self.client = AdapterClient(lambda: adapter.make_transport(context), validate=validate)

    async def start(self) -> Hello:
        return await self.client.start()

    async def close(self) -> None:
        await self.client.close()

    async def run_case(self, case: Case) -> CaseResult:
        started = time.perf_counter()
        result = CaseResult(
            id=case.id,
            outcome=Outcome.PASS,
            level=case.level,
            tags=case.tags,
            source=case.source,
            file=case.file,
            line=case.line,
            title=case.title,
        )
        try:
            await self._run(case, result)
        except Exception as error:  # a bug of ours must not take the other cases down
            result.outcome = Outcome.ERROR
            result.message = f"harness error: {type(error).__name__}: {error}"
        finally:
            result.duration_ms = (time.perf_counter() - started) * 1000
        return result

    async def _ensure_adapter(self) -> Hello | None:
        if self.client.broken or self.client.hello is None:
            try:
                return await self.client.restart()
            except InfrastructureError:
                return None
        return self.client.hello

    async def _run(self, case: Case, result: CaseResult) -> None:
        hello = await self._ensure_adapter()
        if hello is None:
            result.outcome = Outcome.ERROR
            result.message = "the adapter could not be restarted after an earlier failure"
            return
        missing = [c for c in case.requires if c not in hello.capabilities]
        if missing:
            result.outcome = Outcome.SKIP
            result.message = f"the adapter lacks capability: {', '.join(missing)}"
            return
        try:
            spec = ListenerSpec(kind=case.peer.kind, host=case.peer.host, cert=case.peer.cert)
            peer = await self.context.peers.open_session(spec, self.context.certificates.peer_files())
        except (OSError, PeerError) as error:
            result.outcome = Outcome.ERROR
            result.message = f"the peer could not listen on {case.peer.host}: {error}"
            return
        interpreter = CaseInterpreter(case, {**case.variables, **peer.variables})
        background: dict[str, asyncio.Task[dict[str, Any]]] = {}
        try:
            await self._drive_case(case, interpreter, peer, background)
        finally:
            for task in background.values():
                task.cancel()
            for task in background.values():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await peer.aclose()
            with contextlib.suppress(Exception):
                await self.client.close_session()
        result.outcome = interpreter.outcome or Outcome.PASS
        result.message = interpreter.message
        result.transcript = interpreter.transcript

    async def _drive_case(
        self,
        case: Case,
        interpreter: CaseInterpreter,
        peer: peers.PeerSessionLike,
        background: dict[str, asyncio.Task[dict[str, Any]]],
    ) -> None:
        try:
            await self.client.open_session()
            begin = await self.client.call({"op": "begin", "case": case.id})
            if begin.get("status") != "returned":
                raise AdapterError(f"begin answered {begin.get('status')}: {begin.get('reason', '')}")
            deadline = asyncio.timeout(case.timeout)
            try:
                async with deadline:
                    await self._drive(interpreter, peer, background)
            except TimeoutError:
                if not deadline.expired():
                    raise
                # An operation was cut off mid-exchange: the transport's state is unknown,
                # so the adapter is restarted rather than trusted with an `end`.
                self.client.broken = True
                interpreter.fault(Outcome.TIMEOUT, f"the case exceeded its deadline of {case.timeout:g} s")
        except AdapterError as error:
            self.client.broken = True
            details = self.client.diagnostics()
            interpreter.fault(Outcome.ERROR, f"adapter failure: {error}" + (f"\n{details}" if details else ""))
        except TimeoutError:
            self.client.broken = True
            interpreter.fault(Outcome.ERROR, "the adapter did not finish the session in time")

    async def _drive(
        self,
        interpreter: CaseInterpreter,
        peer: peers.PeerSessionLike,
        background: dict[str, asyncio.Task[dict[str, Any]]],
    ) -> None:
        while True:
            action = interpreter.next_action()
            if isinstance(action, Finished):
                return
            if isinstance(action, ClientOp):
                interpreter.observe(await self.client.call(action.request))
            elif isinstance(action, EndSession):
                interpreter.observe(await self.client.call({"op": "end", "timeout_ms": action.timeout_ms}))
            elif isinstance(action, PeerOp):
                interpreter.observe(await _peer_call(peer, action))
            elif isinstance(action, Sleep):
                await asyncio.sleep(action.seconds)
                interpreter.observe(None)
            elif isinstance(action, StartBackground):
                background[action.name] = asyncio.create_task(_peer_call(peer, action.action))
                interpreter.observe(None)
            elif isinstance(action, JoinBackground):
                interpreter.observe(await _join(background[action.name], action.timeout))


async def _peer_call(peer: peers.PeerSessionLike, action: PeerOp) -> dict[str, Any]:
    method: Callable[..., Awaitable[Any]] = getattr(peer, action.method)
    return normalise(action.method, await method(**prepare(action.kwargs)))


async def _join(task: asyncio.Task[dict[str, Any]], timeout: float) -> dict[str, Any]:
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.shield(task)
    except TimeoutError:
        return {"timed_out": True, "error": f"the background step had not finished after {timeout:g} s"}


ResultCallback = Callable[[CaseResult], None]


async def run_cases(
    cases: Sequence[Case],
    adapter: AdapterSpec,
    workers: int = 1,
    on_result: ResultCallback | None = None,
    validate: bool = True,
    peer: peers.PeerChoice = peers.IN_PROCESS,
) -> tuple[Hello, list[CaseResult]]:
    """Run ``cases`` on ``workers`` lanes; results come back in case order.

    Raises ``InfrastructureError`` when the adapter or the peer (``--peer``) cannot start at all.
    """
    with RunCertificates() as certificates:
        async with peers.opened(peer) as provider:
            return await _run_lanes(cases, adapter, RunContext(certificates, provider), workers, on_result, validate)


async def _run_lanes(
    cases: Sequence[Case],
    adapter: AdapterSpec,
    context: RunContext,
    workers: int,
    on_result: ResultCallback | None,
    validate: bool,
) -> tuple[Hello, list[CaseResult]]:
    lanes = [Lane(adapter, context, validate=validate) for _ in range(max(1, min(workers, len(cases) or 1)))]
    results: list[CaseResult | None] = [None] * len(cases)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(cases)):
        queue.put_nowait(index)
    try:
        hellos = await asyncio.gather(*(lane.start() for lane in lanes))

        async def work(lane: Lane) -> None:
            while not queue.empty():
                index = queue.get_nowait()
                result = await lane.run_case(cases[index])
                results[index] = result
                if on_result is not None:
                    on_result(result)

        await asyncio.gather(*(work(lane) for lane in lanes))
    finally:
        await asyncio.gather(*(lane.close() for lane in lanes), return_exceptions=True)
    return hellos[0], [r for r in results if r is not None]
