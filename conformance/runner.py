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
from collections.abc import Callable, Sequence

from conformance_peer import ListenerSpec, PeerError, PeerSession, open_session

from .adapters.base import AdapterSpec, RunContext
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
from .outcomes import HARNESS_ERROR, CaseResult, Outcome
from .peer_calls import JoinTimedOut, PeerResult, perform
from .protocol.client import AdapterClient
from .protocol.replies import HelloInfo, Status


class Breaker:
    """Stops a run whose adapter keeps breaking (a circuit breaker, shared by every lane).

    Each case that ends because the adapter broke (a crash, silence, a protocol
    violation) and each restart that fails counts; a case the adapter got
    through resets the count. After ``budget`` in a row (Bowtie's budget is 10)
    the remaining cases end at once as ``error`` with one message, instead of
    costing a hello timeout each, and the run exits as an infrastructure error.
    """

    def __init__(self, budget: int = 10) -> None:
        self.budget = budget
        self.failures = 0
        self.last = ""
        self.tripped = False

    def failed(self, message: str) -> None:
        self.failures += 1
        self.last = message.splitlines()[0] if message else ""
        self.tripped = self.tripped or self.failures >= self.budget

    def succeeded(self) -> None:
        if not self.tripped:
            self.failures = 0

    @property
    def message(self) -> str:
        return f"not run: the adapter broke {self.failures} times in a row (last: {self.last})"


def lane_count(adapter: AdapterSpec, requested: int | None, cases: int) -> int:
    """``-n N``, or for ``-n auto`` (``None``) what suits the adapter; never more lanes than cases."""
    wanted = adapter.default_lanes if requested is None else requested
    return max(1, min(wanted, cases or 1))


class Lane:
    def __init__(self, adapter: AdapterSpec, context: RunContext, breaker: Breaker | None = None) -> None:
        self.adapter = adapter
        self.context = context
        self.client = AdapterClient(lambda: adapter.make_transport(context))
        self.breaker = breaker or Breaker()

    async def start(self) -> HelloInfo:
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
            if self.breaker.tripped:
                result.outcome = Outcome.ERROR
                result.message = self.breaker.message
            else:
                await self._run(case, result)
                if self.client.broken and result.outcome is Outcome.ERROR:
                    self.breaker.failed(result.message)
                elif result.outcome is not Outcome.ERROR:
                    self.breaker.succeeded()
        except Exception as error:  # a bug of ours must not take the other cases down
            result.outcome = Outcome.ERROR
            result.message = f"{HARNESS_ERROR}{type(error).__name__}: {error}"
        finally:
            result.duration_ms = (time.perf_counter() - started) * 1000
        return result

    async def _ensure_adapter(self) -> HelloInfo | str:
        """The adapter's hello, restarting it first if it broke; or why it would not restart."""
        if self.client.broken or self.client.hello is None:
            try:
                return await self.client.restart()
            except InfrastructureError as error:
                return str(error)
        return self.client.hello

    async def _run(self, case: Case, result: CaseResult) -> None:
        hello = await self._ensure_adapter()
        if isinstance(hello, str):
            result.outcome = Outcome.ERROR
            result.message = f"the adapter could not be restarted after an earlier failure: {hello}"
            self.client.broken = True
            return
        missing = [c for c in case.requires if c not in hello.capabilities]
        if missing:
            result.outcome = Outcome.SKIP
            result.message = f"the adapter lacks capability: {', '.join(missing)}"
            return
        try:
            spec = ListenerSpec(kind=case.peer.kind, host=case.peer.host, cert=case.peer.cert)
            peer = await open_session(spec, self.context.certificates.peer_files())
        except (OSError, PeerError) as error:
            result.outcome = Outcome.ERROR
            result.message = f"the peer could not listen on {case.peer.host}: {error}"
            return
        interpreter = CaseInterpreter(case, {**case.variables, **peer.variables})
        background: dict[str, asyncio.Task[PeerResult]] = {}
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
        peer: PeerSession,
        background: dict[str, asyncio.Task[PeerResult]],
    ) -> None:
        try:
            await self.client.open_session()
            begin = await self.client.call({"op": "begin", "case": case.id})
            if begin.status is not Status.RETURNED:
                raise AdapterError(f"begin answered {begin.status}: {begin.reason}")
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
        self, interpreter: CaseInterpreter, peer: PeerSession, background: dict[str, asyncio.Task[PeerResult]]
    ) -> None:
        while True:
            action = interpreter.next_action()
            if isinstance(action, Finished):
                return
            if isinstance(action, ClientOp):
                interpreter.observe(await self.client.call(action.request, shape=action.shape))
            elif isinstance(action, EndSession):
                interpreter.observe(await self.client.call({"op": "end", "timeout_ms": action.timeout_ms}))
            elif isinstance(action, PeerOp):
                interpreter.observe(await perform(peer, action.call))
            elif isinstance(action, Sleep):
                await asyncio.sleep(action.seconds)
                interpreter.observe(None)
            elif isinstance(action, StartBackground):
                background[action.name] = asyncio.create_task(perform(peer, action.action.call))
                interpreter.observe(None)
            elif isinstance(action, JoinBackground):
                interpreter.observe(await _join(background[action.name], action.timeout))


async def _join(task: asyncio.Task[PeerResult], timeout: float) -> PeerResult:
    try:
        async with asyncio.timeout(timeout):
            return await asyncio.shield(task)
    except TimeoutError:
        return JoinTimedOut(timeout)


ResultCallback = Callable[[CaseResult], None]


async def run_cases(
    cases: Sequence[Case],
    adapter: AdapterSpec,
    workers: int | None = None,
    on_result: ResultCallback | None = None,
    breaker: Breaker | None = None,
) -> tuple[HelloInfo, list[CaseResult]]:
    """Run ``cases`` on ``workers`` lanes (``None``: what suits the adapter); results come back in case order.

    Raises ``InfrastructureError`` when the adapter cannot start at all. ``breaker``
    (made here when not given) tells afterwards whether the run gave up on a broken adapter.
    """
    with RunCertificates() as certificates:
        lanes = lane_count(adapter, workers, len(cases))
        return await _run_lanes(cases, adapter, RunContext(certificates), lanes, on_result, breaker or Breaker())


async def _run_lanes(
    cases: Sequence[Case],
    adapter: AdapterSpec,
    context: RunContext,
    lanes_wanted: int,
    on_result: ResultCallback | None,
    breaker: Breaker,
) -> tuple[HelloInfo, list[CaseResult]]:
    lanes = [Lane(adapter, context, breaker) for _ in range(lanes_wanted)]
    results: list[CaseResult | None] = [None] * len(cases)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(cases)):
        queue.put_nowait(index)
    try:
        hellos = await _start_all(lanes)

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


async def _start_all(lanes: Sequence[Lane]) -> list[HelloInfo]:
    """Every lane's hello; when one lane cannot start, the others' starts are cancelled and
    awaited, so their processes are there for ``Lane.close`` instead of left to the garbage collector."""
    starts = [asyncio.ensure_future(lane.start()) for lane in lanes]
    try:
        return await asyncio.gather(*starts)
    except BaseException:
        for start in starts:
            start.cancel()
        await asyncio.gather(*starts, return_exceptions=True)
        raise
