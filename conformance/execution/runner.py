"""Executing cases: the peer on one side, the adapter on the other, the interpreter in between.

One *lane* runs one case at a time with its own adapter connection; ``-n N``
runs N lanes in this event loop. Cases mostly wait on sockets and timers, so
lanes overlap well even on one core. The runner is the only place that does
I/O for a case: every decision is the interpreter's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from conformance_peer import CertificateFiles, ListenerSpec, PeerError

from .. import sandbox
from ..adapters.base import DRIVERS, AdapterSpec, RunContext
from ..core.certificates import RunCertificates
from ..core.model import LOOPBACK_HOSTS, LOOPBACK_OF_ITS_OWN, SANDBOX_HOSTS, Case
from ..core.outcomes import CaseResult, Fault, Outcome, SkipCause
from ..engine.actions import SERVER_SECRETS
from ..engine.interpreter import (
    CaseInterpreter,
    ClientOp,
    EndSession,
    Finished,
    JoinBackground,
    PeerOp,
    Sleep,
    StartBackground,
)
from ..errors import AdapterError, InfrastructureError
from ..peer import choice as peers
from ..peer.calls import JoinTimedOut, PeerResult
from ..protocol.client import AdapterClient
from ..protocol.replies import HelloInfo, Status
from ..sandbox.description import Description
from . import durations
from .servers import RunServers


@dataclass(frozen=True)
class Environment:
    """What the run's surroundings give cases, beyond the adapter: the sandbox, when the run is in one.

    ``sandbox`` is a capability of the harness, not of the adapter: the run was
    re-executed in fresh namespaces that were checked before anything ran
    (``conformance.sandbox``). Outside one, cases that need it are skipped and
    never dial their forbidden destinations.
    """

    sandbox: Description | None = None

    @classmethod
    def of_this_process(cls) -> Environment:
        return _environment()

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"sandbox"}) if self.sandbox is not None else frozenset()

    @property
    def variables(self) -> dict[str, Any]:
        return self.sandbox.variables() if self.sandbox is not None else {}

    def host(self, name: str) -> str:
        """A listener host as the peer binds it: sandbox roles become the sandbox's addresses; an
        address written out must be loopback's or one the sandbox put on its ``lo``."""
        if name in LOOPBACK_HOSTS:
            return name
        if self.sandbox is None:
            raise InfrastructureError(f"the listener host {name} exists only in the sandbox (run --sandbox)")
        role = SANDBOX_HOSTS.get(name)
        if role is not None:
            return str(self.sandbox.variables()[role])
        if name not in self.sandbox.on_lo:
            raise InfrastructureError(f"the listener host {name} is not an address of the sandbox (docs/sandbox.md)")
        return name


@functools.cache
def _environment() -> Environment:
    """Checked once per process: a description in the environment is trusted only if the sandbox holds."""
    description = sandbox.current()
    if description is None:
        return Environment()
    problems = sandbox.problems(description)
    if problems:
        raise InfrastructureError("the sandbox does not hold, so no case that needs it may run: " + "; ".join(problems))
    return Environment(description)


class FixedPorts:
    """Loopback addresses of their own for listeners on a fixed port (25), shared by every lane of a run.

    A listener on ``sandbox-loopback`` gets an address of its own (``127.A.B.C``:
    all of 127.0.0.0/8 is on the sandbox's ``lo``), so cases on port 25 never
    wait for each other, nor for concurrent runs (``mutants`` runs several at
    once); such cases write ``${peer.host}:25``. On a shared address (``localhost``
    is 127.0.0.1) they take turns: ``_open_peer`` waits while the port is held.
    """

    def __init__(self) -> None:
        self._next = 0

    def loopback(self) -> str:
        self._next += 1
        # The process id keeps concurrent runs apart; a rare clash is waited out (_open_peer).
        return f"127.{os.getpid() % 250 + 1}.{self._next // 250 % 250}.{self._next % 250 + 1}"


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
    def __init__(
        self,
        adapter: AdapterSpec,
        context: RunContext,
        breaker: Breaker | None = None,
        ports: FixedPorts | None = None,
        peer_provider: peers.PeerProvider | None = None,
        servers: RunServers | None = None,
    ) -> None:
        self.adapter = adapter
        self.context = context
        self._own_servers = servers is None
        self.servers = servers or RunServers(context.certificates)
        """The run's real servers (drivers cases); a lane made on its own has its own, stopped by ``close``."""
        self.peers = peer_provider or peers.InProcessPeers()
        """Where the cases' peer sessions are opened (``--peer``)."""
        self.client = AdapterClient(lambda: adapter.make_transport(context))
        self.breaker = breaker or Breaker()
        self.ports = ports or FixedPorts()
        self.environment = Environment.of_this_process()

    async def start(self) -> HelloInfo:
        return await self.client.start()

    async def close(self) -> None:
        try:
            await self.client.close()
        finally:
            if self._own_servers:
                self.servers.close()

    async def run_case(self, case: Case, observe_only: bool = False) -> CaseResult:
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
                result.fault = Fault.ADAPTER
                result.message = self.breaker.message
            else:
                await self._run(case, result, observe_only)
                if self.client.broken and result.outcome is Outcome.ERROR:
                    self.breaker.failed(result.message)
                elif result.outcome is not Outcome.ERROR:
                    self.breaker.succeeded()
        except Exception as error:  # a bug of ours must not take the other cases down
            result.outcome = Outcome.ERROR
            result.fault = Fault.HARNESS
            result.message = f"harness error: {type(error).__name__}: {error}"
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

    async def _run(self, case: Case, result: CaseResult, observe_only: bool = False) -> None:
        hello = await self._ensure_adapter()
        if isinstance(hello, str):
            result.outcome = Outcome.ERROR
            result.fault = Fault.ADAPTER
            result.message = f"the adapter could not be restarted after an earlier failure: {hello}"
            self.client.broken = True
            return
        if "sandbox" in case.requires and "sandbox" not in self.environment.capabilities:
            result.outcome = Outcome.SKIP
            result.skipped_by = SkipCause.ENVIRONMENT
            result.message = "needs the network sandbox: run with --sandbox (docs/sandbox.md); nothing was dialled"
            return
        missing = [c for c in case.requires if c not in hello.capabilities | self.environment.capabilities]
        if DRIVERS in missing and self.context.drivers_missing:
            # This adapter runs the drivers once they are installed: the machine's lack, not the adapter's.
            result.outcome = Outcome.SKIP
            result.skipped_by = SkipCause.ENVIRONMENT
            result.message = self.context.drivers_missing
            return
        if missing:
            result.outcome = Outcome.SKIP
            result.skipped_by = SkipCause.ADAPTER
            result.message = f"the adapter lacks capability: {', '.join(missing)}"
            return
        server: dict[str, Any] | None = None
        if case.server is not None:
            server = await self._server(case, result)
            if server is None:
                return
        try:
            host = (
                self.ports.loopback()
                if case.peer.host == LOOPBACK_OF_ITS_OWN
                else self.environment.host(case.peer.host)
            )
            spec = ListenerSpec(kind=case.peer.kind, host=host, cert=case.peer.cert, port=case.peer.port)
            peer = await _open_peer(self.peers, spec, self.context.certificates.peer_files())
        except (OSError, PeerError) as error:
            result.outcome = Outcome.ERROR
            result.fault = Fault.PEER
            result.message = f"the peer could not listen on {case.peer.host}: {error}"
            return
        variables = {**self.environment.variables, **case.variables, **peer.variables, **server_variables(server)}
        interpreter = CaseInterpreter(case, variables, observe_only=observe_only, server_object=server)
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
        result.fault = interpreter.fault
        result.transcript = interpreter.transcript

    async def _server(self, case: Case, result: CaseResult) -> dict[str, Any] | None:
        """The case's real server (started on first use), or ``None`` with the result saying why not."""
        from ..drivers.servers import ProgramMissing, Unavailable

        assert case.server is not None
        try:
            info = await self.servers.get(case.server)
        except ProgramMissing as error:
            if in_ci():
                result.outcome = Outcome.ERROR
                result.fault = Fault.PEER
                result.message = f"{error}; CI is set, where every server must run (spec/README.md, section 6)"
            else:
                result.outcome = Outcome.SKIP
                result.skipped_by = SkipCause.ENVIRONMENT
                result.message = str(error)
            return None
        except Unavailable as error:
            result.outcome = Outcome.ERROR
            result.fault = Fault.PEER
            result.message = f"the {case.server.kind} server could not start: {error}"
            return None
        return info.variables()

    async def _drive_case(
        self,
        case: Case,
        interpreter: CaseInterpreter,
        peer: peers.PeerSessionLike,
        background: dict[str, asyncio.Task[PeerResult]],
    ) -> None:
        try:
            await self.client.open_session()
            opening: dict[str, Any] = {"op": "begin", "case": case.id}
            if case.environment is not None:
                opening["environment"] = case.environment
            begin = await self.client.call(opening)
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
                interpreter.end_with(Outcome.TIMEOUT, f"the case exceeded its deadline of {case.timeout:g} s")
        except AdapterError as error:
            self.client.broken = True
            details = self.client.diagnostics()
            message = f"adapter failure: {error}" + (f"\n{details}" if details else "")
            interpreter.end_with(Outcome.ERROR, message, Fault.ADAPTER)
        except TimeoutError:
            self.client.broken = True
            interpreter.end_with(Outcome.ERROR, "the adapter did not finish the session in time", Fault.ADAPTER)
        except PeerError as error:
            # The case's peer script asked for what its connection cannot do any more (a read
            # after a failed handshake): the script's fault, not the adapter's nor a bug of ours.
            interpreter.end_with(Outcome.ERROR, f"the peer script could not go on: {error}", Fault.SPEC)

    async def _drive(
        self, interpreter: CaseInterpreter, peer: peers.PeerSessionLike, background: dict[str, asyncio.Task[PeerResult]]
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
                interpreter.observe(await peer.perform(action.call))
            elif isinstance(action, Sleep):
                await asyncio.sleep(action.seconds)
                interpreter.observe(None)
            elif isinstance(action, StartBackground):
                background[action.name] = asyncio.create_task(peer.perform(action.action.call))
                interpreter.observe(None)
            elif isinstance(action, JoinBackground):
                interpreter.observe(await _join(background[action.name], action.timeout))


def server_variables(server: dict[str, Any] | None) -> dict[str, Any]:
    """``${server.*}``: the case's server as a case may write it (no password, no CA)."""
    if server is None:
        return {}
    return {f"server.{key}": value for key, value in server.items() if key not in SERVER_SECRETS}


def in_ci() -> bool:
    """``CI=true`` (what CI services set): a server this machine cannot run fails the case instead of skipping it."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_context(adapter: AdapterSpec, certificates: RunCertificates, drivers: bool = True) -> RunContext:
    """The run's context: with the adapter's driver bundles when ``drivers`` (a case needs them) and they are
    installed (built now if need be, offline); else why not, for the skip message."""
    if adapter.driver_target is None or not drivers:
        return RunContext(certificates)
    from ..drivers import bundle

    try:
        found = bundle.driver_set(adapter.driver_target)
    except InfrastructureError as error:
        return RunContext(certificates, drivers_missing=f"the driver bundles could not be built: {error}")
    if found is None:
        return RunContext(certificates, drivers_missing=f"the drivers are not installed ({INSTALL_DRIVERS})")
    return RunContext(certificates, drivers=found)


#: The command that installs the drivers area's npm packages and builds its bundles.
INSTALL_DRIVERS = "connect-conformance install drivers"


#: How long a case waits for a fixed port (25) that another run of this machine's sandbox holds.
FIXED_PORT_WAIT_S = 30.0


async def _open_peer(
    provider: peers.PeerProvider, spec: ListenerSpec, files: CertificateFiles
) -> peers.PeerSessionLike:
    """The case's peer; a fixed port held by a concurrent run (``mutants`` runs several) is waited for."""
    deadline = time.monotonic() + FIXED_PORT_WAIT_S
    while True:
        try:
            return await provider.open_session(spec, files)
        except OSError as error:
            if spec.port == 0 or error.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


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
    peer: peers.PeerChoice = peers.IN_PROCESS,
    enough: Callable[[], bool] | None = None,
    on_hello: Callable[[HelloInfo], None] | None = None,
    on_servers: Callable[[dict[str, str]], None] | None = None,
) -> tuple[HelloInfo, list[CaseResult]]:
    """Run ``cases`` on ``workers`` lanes (``None``: what suits the adapter); results come back in case order.

    ``on_hello`` hears the adapter's hello before the first case runs (who it is, its version);
    ``on_servers`` the real servers the drivers cases used (kind -> version), once they are stopped.

    Raises ``InfrastructureError`` when the adapter or the peer (``--peer``) cannot start at all.
    ``breaker`` (made here when not given) tells afterwards whether the run gave up on a broken adapter.
    ``enough``, asked after each case, stops starting new ones once it says so (``mutants``: a mutant
    already caught needs no more cases); the cases not run are left out of the results.
    """
    with RunCertificates() as certificates:
        lanes = lane_count(adapter, workers, len(cases))
        wanted = any(DRIVERS in case.requires for case in cases)
        context = await asyncio.to_thread(run_context, adapter, certificates, wanted)
        servers = RunServers(certificates)
        try:
            async with peers.opened(peer) as provider:
                return await _run_lanes(
                    cases,
                    adapter,
                    context,
                    lanes,
                    on_result,
                    breaker or Breaker(),
                    provider,
                    enough,
                    on_hello,
                    servers,
                )
        finally:
            servers.close()
            if on_servers is not None:
                on_servers(servers.versions())


async def _run_lanes(
    cases: Sequence[Case],
    adapter: AdapterSpec,
    context: RunContext,
    lanes_wanted: int,
    on_result: ResultCallback | None,
    breaker: Breaker,
    provider: peers.PeerProvider | None = None,
    enough: Callable[[], bool] | None = None,
    on_hello: Callable[[HelloInfo], None] | None = None,
    servers: RunServers | None = None,
) -> tuple[HelloInfo, list[CaseResult]]:
    ports = FixedPorts()
    lanes = [Lane(adapter, context, breaker, ports, provider, servers) for _ in range(lanes_wanted)]
    results: list[CaseResult | None] = [None] * len(cases)
    queue: asyncio.Queue[int] = asyncio.Queue()
    earlier = durations.load(adapter.name)
    for index in durations.start_order(list(cases), earlier, stops_early=enough is not None):
        queue.put_nowait(index)
    try:
        hellos = await _start_all(lanes)
        if on_hello is not None:
            on_hello(hellos[0])

        async def work(lane: Lane) -> None:
            while not queue.empty() and not (enough is not None and enough()):
                index = queue.get_nowait()
                result = await lane.run_case(cases[index])
                results[index] = result
                if on_result is not None:
                    on_result(result)

        await asyncio.gather(*(work(lane) for lane in lanes))
        if enough is None:  # a run that stops at a finding (a mutant's) times a bug, not the implementation
            durations.save(adapter.name, (r for r in results if r is not None), earlier)
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
