"""``connect-conformance adapter-check``: does an adapter speak the adapter protocol?

It checks the adapter, not the implementation behind it (``run`` does that):
hello, ``seq`` echoing, sessions and their leak report, ``protocol_error``
for malformed requests, the encoding of values and errors, a real round trip
with our peer, pending promises and their handles, surviving a line that is
not JSON (stdio), shutdown, and deadlines and schemas over every response.
Like trio's ``check_*_stream`` functions, it is what an adapter author runs
first, and every line says what was expected, what came back and what to do.

The adapter is started as ``run`` starts it: through ``adapters.registry``
and a ``RunContext`` with the run's certificates, so it gets the CA at launch.

Exit codes: 0 every check passed (warnings allowed); 1 a check failed;
3 the adapter would not start (no process, or no answer to ``hello``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from conformance_peer import PeerError

from ..adapters.base import AdapterSpec, RunContext
from ..core.certificates import RunCertificates
from ..errors import InfrastructureError, UsageError
from ..exitcodes import ExitCode
from ..protocol.client import GRACE_S
from .model import CATALOGUE, Check, Recorder, Status, StopProbe
from .probes import (
    Probe,
    judge_all,
    probe_bad_line,
    probe_hello,
    probe_malformed,
    probe_sessions,
    probe_shutdown,
    probe_values,
    say_hello,
)
from .roundtrip import probe_pending, probe_round_trip
from .wire import Wire

#: The probes in order, each with the prefix of the check ids it owns.
PROBES = (
    (probe_sessions, "session."),
    (probe_malformed, "malformed."),
    (probe_values, "values."),
    (probe_round_trip, "roundtrip."),
    (probe_pending, "pending."),
    (probe_bad_line, "stdio."),
    (probe_shutdown, "shutdown."),
)


@dataclass
class CheckReport:
    adapter: str
    checks: list[Check]
    started: bool
    hello: dict[str, Any] | None = None
    diagnostics: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def count(self, status: Status) -> int:
        return sum(1 for check in self.checks if check.status is status)

    @property
    def exit_code(self) -> int:
        if not self.started:
            return ExitCode.INFRASTRUCTURE
        return ExitCode.UNEXPECTED if self.count(Status.FAIL) else ExitCode.OK


async def check_adapter(spec: AdapterSpec, grace_s: float = GRACE_S) -> CheckReport:
    """Runs every check against the adapter ``spec`` names; ``grace_s`` is added to each op's timeout_ms."""
    started = time.monotonic()
    with RunCertificates() as certificates:
        report = await _check(spec, RunContext(certificates), grace_s)
    report.duration_s = time.monotonic() - started
    return report


def _ids(prefix: str) -> list[str]:
    return [check_id for check_id in CATALOGUE if check_id.startswith(prefix)]


async def _check(spec: AdapterSpec, context: RunContext, grace_s: float) -> CheckReport:
    rec = Recorder()
    wires: list[Wire] = []

    async def start() -> Wire:
        wire = Wire(spec.make_transport(context), grace_s)
        wires.append(wire)
        await wire.open()
        return wire

    async def restart() -> Wire:
        wire = await start()
        await say_hello(wire)
        return wire

    report = CheckReport(spec.name, [], started=False)
    try:
        try:
            wire = await start()
        except InfrastructureError as error:
            rec.fail(
                "hello.answers",
                "the adapter to start",
                str(error),
                "check the command: it is run as given, from the current folder",
            )
            return _finish(report, rec, wires)
        if not await probe_hello(Probe(wire, rec, context, grace_s, restart)):
            return _finish(report, rec, wires)
        report.started = True
        hello = wire.exchanges[0].get("value")
        report.hello = hello if isinstance(hello, dict) else None
        for index, (probe, prefix) in enumerate(PROBES):
            if wire.broken:
                await wire.close()
                remaining = [i for _, later in PROBES[index:] for i in _ids(later)]
                try:
                    wire = await restart()
                except InfrastructureError as error:
                    rec.skip_rest(remaining, f"not run: the adapter could not be restarted: {error}")
                    break
                if wire.broken:
                    rec.skip_rest(remaining, "not run: the restarted adapter did not answer hello")
                    break
            try:
                await probe(Probe(wire, rec, context, grace_s, restart))
            except StopProbe:
                pass
            except (PeerError, OSError) as error:
                rec.skip_rest(_ids(prefix), f"not run: the checker's peer failed: {error}")
            if wire.in_session and not wire.broken:
                await wire.end()
            rec.skip_rest(_ids(prefix), "not run: an earlier step of this group failed")
        judge_all(rec, [exchange for each in wires for exchange in each.exchanges])
    finally:
        await asyncio.gather(*(wire.close() for wire in wires), return_exceptions=True)
    return _finish(report, rec, wires)


def _finish(report: CheckReport, rec: Recorder, wires: list[Wire]) -> CheckReport:
    report.checks = rec.checks()
    report.diagnostics = [text for text in (wire.diagnostics() for wire in wires) if text]
    return report


# -- rendering -------------------------------------------------------------------------------------

_SYMBOLS = {Status.PASS: "✓", Status.WARN: "⚠", Status.FAIL: "✗", Status.SKIP: "-"}
_WORDS = {Status.PASS: "ok", Status.WARN: "warn", Status.FAIL: "FAIL", Status.SKIP: "skip"}


def _symbols(encoding: str | None) -> dict[Status, str]:
    try:
        "".join(_SYMBOLS.values()).encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return _WORDS
    return _SYMBOLS


def render(report: CheckReport, encoding: str | None = "utf-8") -> str:
    symbols = _symbols(encoding)
    lines = [f"adapter-check: {report.adapter}"]
    if report.hello:
        hello = report.hello
        capabilities = hello.get("capabilities")
        listed = ", ".join(map(str, capabilities)) if isinstance(capabilities, list) else capabilities
        lines.append(
            f"adapter: {hello.get('name')} {hello.get('version')} on {hello.get('runtime')}, "
            f"protocol {hello.get('protocol')}, capabilities [{listed}]"
        )
    lines.append("")
    width = max(len(check_id) for check_id in CATALOGUE)
    shown = report.checks if report.started else [c for c in report.checks if c.status is not Status.SKIP]
    for check in shown:
        if check.status in (Status.FAIL, Status.WARN):
            text = check.detail
        else:
            text = check.title + (f" ({check.detail})" if check.detail else "")
        lines.append(f"{symbols[check.status]} {check.id.ljust(width)}  {text}")
        if check.hint and check.status in (Status.FAIL, Status.WARN):
            lines.append(f"  {' ' * width}    hint: {check.hint}")
    failed, warned = report.count(Status.FAIL), report.count(Status.WARN)
    if (failed or warned or not report.started) and report.diagnostics:
        lines += ["", *report.diagnostics]
    lines.append("")
    if report.started:
        lines.append(
            f"{len(report.checks)} checks: {report.count(Status.PASS)} passed, "
            f"{warned} warning{'' if warned == 1 else 's'}, "
            f"{failed} failed, {report.count(Status.SKIP)} skipped ({report.duration_s:.1f} s)"
        )
    if not report.started:
        lines.append(
            f"the adapter did not start, so the other {len(report.checks) - len(shown)} checks "
            "did not run; run would exit 3 with this adapter"
        )
    elif failed:
        lines.append("the adapter breaks the protocol: fix the failures above (docs/adapters.md), then run again")
    else:
        lines.append(
            f"the adapter speaks the protocol; next: connect-conformance run --adapter {_quoted(report.adapter)}"
        )
    return "\n".join(lines)


def _quoted(value: str) -> str:
    if value.startswith("stdio:"):
        return "stdio:'" + value[len("stdio:") :].replace("'", "'\\''") + "'"
    return value


def command(adapter: str, timeout: float = GRACE_S) -> int:
    """The ``adapter-check`` subcommand: resolve, check, print, exit code."""
    from ..adapters import registry

    if not timeout > 0:
        raise UsageError("--timeout must be a positive number of seconds")
    spec = registry.resolve(adapter)
    report = asyncio.run(check_adapter(spec, timeout))
    print(render(report, sys.stdout.encoding), flush=True)
    return report.exit_code
