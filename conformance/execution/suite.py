"""One run of the suite as the ``run`` command does it: select, run with progress, gate, write the reports.

``run_suite(RunOptions(...))`` is what ``connect-conformance run`` and
``report publish`` call; it returns the run's exit code (``ExitCode``) and
never raises for a failing implementation. A spec problem costs only its own
case: the other cases run and the problems are written to ``results.json``.
The report folder is checked before anything runs; a Ctrl-C or SIGTERM at any
moment still writes the reports (``interrupts``).
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from .. import interrupts, sandbox
from ..adapters import registry
from ..adapters.base import MAX_LANES, AdapterSpec
from ..cases import selection
from ..cases.shards import Shard, Split, pick
from ..core.model import Case
from ..core.outcomes import CaseResult, Fault, Outcome
from ..core.text import plural
from ..errors import InfrastructureError, UsageError
from ..exitcodes import ExitCode
from ..peer import choice as peers
from ..protocol.replies import HelloInfo
from ..report import model, results, run_files, summary
from ..report.model import RunHeader, RunReport, ShardInfo
from ..report.output import display_text
from . import expectations
from .progress import NOT_RUN_HERE, XFAIL, Label, Progress, Verbosity
from .runner import Breaker, lane_count, run_cases

DEFAULT_REPORT_DIR = Path("reports/latest")
#: Unused expectations listed by name without -v (a run of a few cases leaves many unused).
UNUSED_SHOWN = 10


@dataclass(frozen=True)
class RunOptions:
    adapter: str = "reference"
    paths: Sequence[Path] = ()
    keyword: str | None = None
    tags: Sequence[str] = ()
    expectations: Path | None = None
    update_expectations: Path | None = None
    report_dir: Path = DEFAULT_REPORT_DIR
    #: Lanes (cases run at once); ``None`` is ``-n auto``: what suits the adapter.
    workers: int | None = None
    #: -q (only the summary and the unexpected outcomes), default, -v (a line for every case).
    verbosity: Verbosity = Verbosity.NORMAL
    #: Where the peer runs (``--peer``): ``in-process``, ``docker`` or ``tcp://HOST:PORT``.
    peer: str = "in-process"
    #: Run only this shard of the selection (``--shard I/N``; ``cases/shards.py``).
    shard: Shard | None = None
    #: A results.json whose case durations balance the split (``--durations``); None: the published
    #: run of the adapter (``reports/<name>/results.json``) when there is one, else a stable hash alone.
    durations: Path | None = None


@dataclass
class RunState:
    """What a run has gathered so far; still there when it is interrupted."""

    hello: HelloInfo | None = None
    results: list[CaseResult] = field(default_factory=list)
    #: The real servers the drivers cases used: kind -> its version line.
    servers: dict[str, str] = field(default_factory=dict)


def check_workers(workers: int | None) -> None:
    if workers is not None and not 1 <= workers <= MAX_LANES:
        raise UsageError(f"-n {workers}: expected auto or a lane count from 1 to {MAX_LANES}")


def run_suite(options: RunOptions) -> ExitCode:
    check_workers(options.workers)
    run_files.check_folder(options.report_dir)
    started = datetime.now(UTC)
    clock = time.monotonic()
    try:
        interrupts.deliver()
        paths = selection.spec_paths(options.paths)
        cases, spec_errors = selection.load_selection(paths, options.keyword, options.tags)
        # The revision of the whole selection: every shard records the one an unsharded run would.
        revision = results.spec_revision([c.file for c in cases])
        cases, split, durations_file = _shard(options, cases)
        known = expectations.load(options.expectations) if options.expectations else None
        adapter = registry.resolve(options.adapter)
        peer = peers.parse(options.peer)
    except KeyboardInterrupt:
        return _interrupted_before_cases(options, started, clock)
    lanes = lane_count(adapter, options.workers, len(cases))
    today = started.date()

    def label(result: CaseResult) -> Label:
        return _label(result, applicable(), today)

    def applicable() -> expectations.Expectations | None:
        """The entries that hold for the version the adapter reported (``versions``)."""
        if known is None:
            return None
        return known.for_version(state.hello.version if state.hello else None)

    state = RunState()
    progress = Progress(len(cases), verbosity=options.verbosity, label=label)
    where = "inside the network sandbox" if sandbox.current() is not None else "outside any sandbox"
    if peer != peers.IN_PROCESS:
        where += f", peer {peer}"
    if options.verbosity is not Verbosity.QUIET:
        part = f" (shard {split.shard} of {split.selected} selected)" if split else ""
        print(
            f"running {plural(len(cases), 'case')}{part} against {adapter.name} on {plural(lanes, 'lane')}, {where}",
            file=sys.stderr,
        )
    interrupted = False
    infrastructure: str | None = None
    internal: str | None = None
    breaker = Breaker()
    try:
        execute(cases, adapter, lanes, progress, state, breaker, peer)
    except KeyboardInterrupt:
        interrupted = True
    except InfrastructureError as error:
        infrastructure = str(error)
    except Exception:  # a bug of ours: keep what ran, say where it is
        internal = traceback.format_exc()
    with interrupts.shielded() as late_signals:
        if breaker.tripped:
            infrastructure = f"gave up: {breaker.message.removeprefix('not run: ')}"
        internal = internal or _harness_errors(state.results)
        order = {case.id: index for index, case in enumerate(cases)}
        done = sorted(state.results, key=lambda r: order[r.id])
        verdict: expectations.GateResult | None = None
        try:
            progress.finish()
            verdict = expectations.gate(done, applicable(), today)
        except Exception:  # a bug of ours while judging: the results are still written (exit 4)
            internal = (internal or "") + traceback.format_exc()
        header = RunHeader(
            adapter=state.hello.as_dict() if state.hello else {"name": adapter.name},
            adapter_spec=adapter.name,
            started=started.isoformat(timespec="seconds"),
            duration_s=time.monotonic() - clock,
            workers=lanes,
            spec_revision=revision,
            selection=_selection(options, paths, len(cases)),
            interrupted=interrupted,
            error=infrastructure or (f"internal error: {internal.strip().splitlines()[-1]}" if internal else None),
            spec_errors=[str(error) for error in spec_errors],
            sandboxed=sandbox.current() is not None,
            servers=state.servers,
            shard=_shard_info(split, durations_file, done, cases),
        )
        report = RunReport(header, done, verdict.record() if verdict else None)
        try:
            run_files.write_reports(options.report_dir, report)
        except Exception:
            # Whatever broke a report format, results.json (the record of what ran) is written on its own.
            internal = (internal or "") + traceback.format_exc()
            results.write(options.report_dir / "results.json", report)
    interrupted = interrupted or bool(late_signals)
    interrupts.deliver()  # asyncio.run left SIGTERM at its default (death by signal); a signal now ends in 130
    if options.update_expectations and not interrupted and not infrastructure and not internal:
        target = options.update_expectations
        previous = expectations.load(target) if target.is_file() else None
        # The name the adapter reported (e.g. "workerd"), not how it was reached (a stdio: command line).
        implementation = state.hello.name if state.hello and state.hello.name else adapter.name
        expectations.write(target, expectations.updated(done, previous, implementation))
        print(f"expectations rewritten: {target}")
    if internal:
        print(display_text(internal.rstrip()), file=sys.stderr)
        print(
            f"internal error: this is a bug of connect-conformance, not of the implementation; "
            f"the {plural(len(done), 'result')} so far are in {options.report_dir}/",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL
    if infrastructure:
        print(f"error: {display_text(infrastructure)}", file=sys.stderr)
        if done:
            print(f"the {plural(len(done), 'result')} so far are in {options.report_dir}/", file=sys.stderr)
        return ExitCode.INFRASTRUCTURE
    assert verdict is not None  # set unless internal, which returned above
    print(summary.text_table(done, report.expected))
    fix_first = summary.text_signatures(done, everything=options.verbosity is Verbosity.VERBOSE)
    if fix_first and options.verbosity is not Verbosity.QUIET:
        print(fix_first)
    _print_gate(verdict, applicable(), options.verbosity)
    if options.verbosity is not Verbosity.QUIET:
        print(f"reports written to {options.report_dir}/ (results.json, junit.xml, summary.md)")
    if interrupted:
        print(f"interrupted: {len(done)} of {plural(len(cases), 'case')} ran; partial results written", file=sys.stderr)
        return ExitCode.INTERRUPTED
    if spec_errors:
        print(f"{plural(len(spec_errors), 'problem')} in the spec (listed above and in results.json)", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.OK if verdict.ok else ExitCode.UNEXPECTED


def published_durations(adapter: str) -> Path | None:
    """``reports/<name>/results.json`` of a built-in adapter (``workerd@V`` and ``reference+M`` too), if there."""
    name = re.split(r"[@+]", adapter, maxsplit=1)[0]
    if registry.builtin(name) is None:
        return None
    path = Path("reports") / name / model.RESULTS_FILE
    return path if path.is_file() else None


def read_durations(path: Path) -> dict[str, float]:
    """Each case's recorded duration (ms) in a results.json (or its folder); ``ResultsFileError`` if invalid."""
    durations: dict[str, float] = {}

    def keep(case: CaseResult) -> None:
        durations[case.id] = case.duration_ms

    model.scan(path, keep)
    return durations


def _shard(options: RunOptions, cases: list[Case]) -> tuple[list[Case], Split | None, Path | None]:
    """The cases of ``options.shard`` (all of them without one), the split's record and the durations file."""
    if options.shard is None:
        return cases, None, None
    source = options.durations or published_durations(options.adapter)
    durations = read_durations(source) if source is not None else None
    chosen, split = pick(cases, [case.id for case in cases], options.shard, durations)
    return chosen, split, source


def _shard_info(
    split: Split | None, source: Path | None, done: Sequence[CaseResult], cases: list[Case]
) -> ShardInfo | None:
    if split is None:
        return None
    # An interrupted shard records the positions of the cases that ran: report merge finds the rest missing.
    ran = {result.id for result in done}
    positions = tuple(p for p, case in zip(split.positions, cases, strict=True) if case.id in ran)
    return ShardInfo(
        split.shard.index,
        split.shard.total,
        split.selected,
        positions,
        str(source) if source is not None else None,
    )


def execute(
    cases: list[Case],
    adapter: AdapterSpec,
    lanes: int,
    progress: Progress | None,
    state: RunState,
    breaker: Breaker | None = None,
    peer: peers.PeerChoice = peers.IN_PROCESS,
) -> None:
    def on_result(result: CaseResult) -> None:
        state.results.append(result)
        if progress is not None:
            progress(result)

    async def go() -> None:
        # SIGTERM ends a run like Ctrl-C: cancelled cases, partial results, everything cleaned up.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)

        def on_hello(hello: HelloInfo) -> None:
            state.hello = hello

        def on_servers(versions: dict[str, str]) -> None:
            state.servers = versions

        state.hello, _ = await run_cases(
            cases,
            adapter,
            workers=lanes,
            on_result=on_result,
            breaker=breaker,
            peer=peer,
            on_hello=on_hello,
            on_servers=on_servers,
        )

    try:
        asyncio.run(go())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


def _label(result: CaseResult, known: expectations.Expectations | None, today: date) -> Label:
    """How progress shows a result: what the gate thinks of it decides whether it gets a line of its own."""
    entry = known.expected(result.id) if known else None
    judgement = expectations.judge(result.outcome, entry, today, result.level)
    verdict = judgement.verdict
    if verdict is expectations.Verdict.UNGATED:
        return Label(result.outcome.value, listed=True, note=f" (info, not gated; expected {judgement.expected})")
    if result.outcome is Outcome.PASS:
        return Label(Outcome.PASS.value, listed=not judgement.ok)
    if verdict in (expectations.Verdict.EXPECTED_NON_PASS, expectations.Verdict.FLAKY):
        return Label(XFAIL, listed=judgement.expired)
    if result.outcome is Outcome.SKIP and judgement.ok:
        return Label(NOT_RUN_HERE if result.not_run_here else Outcome.SKIP.value, listed=False)
    return Label(result.outcome.value, listed=True)


def _harness_errors(done: Sequence[CaseResult]) -> str | None:
    broken = [result for result in done if result.outcome is Outcome.ERROR and result.fault is Fault.HARNESS]
    if not broken:
        return None
    shown = "\n".join(f"  {result.id}: {result.message}" for result in broken[:10])
    return f"{plural(len(broken), 'case')} hit a bug of the harness:\n{shown}"


def _selection(options: RunOptions, paths: Sequence[Path], selected: int) -> dict[str, object]:
    return {
        "keyword": options.keyword,
        "tags": list(options.tags),
        "paths": [str(p) for p in paths],
        "selected": selected,
        "expectations": str(options.expectations) if options.expectations else None,
        "peer": options.peer,
    }


def _interrupted_before_cases(options: RunOptions, started: datetime, clock: float) -> ExitCode:
    """Ctrl-C or SIGTERM while the spec loads or the adapter is prepared: an empty, interrupted report."""
    with interrupts.shielded():
        header = RunHeader(
            adapter={"name": options.adapter or "?"},
            adapter_spec=options.adapter,
            started=started.isoformat(timespec="seconds"),
            duration_s=time.monotonic() - clock,
            workers=options.workers or 1,  # no lane ran; the schema wants a count
            spec_revision=results.spec_revision([]),
            selection=_selection(options, list(options.paths), 0),
            interrupted=True,
        )
        run_files.write_reports(options.report_dir, RunReport(header, [], expectations.gate([], None).record()))
    print(f"interrupted before any case ran; empty report written to {options.report_dir}/", file=sys.stderr)
    return ExitCode.INTERRUPTED


def _print_gate(
    verdict: expectations.GateResult, known: expectations.Expectations | None, verbosity: Verbosity
) -> None:
    for result, expected in verdict.unexpected:
        first = result.message.splitlines()[0] if result.message else ""
        print(f"UNEXPECTED {result.outcome.value} (expected {expected}): {result.id}  {result.file}:{result.line}")
        if first:
            print(f"    {display_text(first)}")
    for result, expected in verdict.ungated:
        print(
            f"warning: info case {result.id} was {result.outcome.value} (expected {expected}); "
            "info cases are recorded, not gated"
        )
    if known is not None:
        print(
            f"expectations {known.path}: {verdict.expected_failures} expected non-pass, "
            f"{len(verdict.unexpected)} unexpected, {verdict.flaky} flaky, {len(verdict.unused)} unused, "
            f"{len(verdict.expired)} expired"
        )
        shown = verdict.unused if verbosity is Verbosity.VERBOSE else verdict.unused[:UNUSED_SHOWN]
        for case_id in shown:
            print(f"    unused expectation: {case_id}")
        if len(verdict.unused) > len(shown):
            print(f"    and {plural(len(verdict.unused) - len(shown), 'more unused expectation')} (-v lists them)")
        for case_id in verdict.expired:
            entry = known.expected(case_id)
            print(f"EXPIRED expectation (until {entry.until if entry else '?'}): {case_id}: look at it again")
        for warning in expectations.review_warnings(known):
            print(f"warning: {warning}")
