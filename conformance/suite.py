"""One run of the suite as the ``run`` command does it: select, run with progress, gate, write the reports.

``run_suite(RunOptions(...))`` is what ``connect-conformance run`` and
``report publish`` call; it returns the run's exit code (``ExitCode``) and
never raises for a failing implementation. A spec problem costs only its own
case: the other cases run and the problems are written to ``results.json``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import expectations, selection
from ._version import __version__
from .adapters import registry
from .adapters.base import MAX_LANES, AdapterSpec
from .errors import InfrastructureError, UsageError
from .exitcodes import ExitCode
from .model import Case
from .outcomes import HARNESS_ERROR, CaseResult, Outcome
from .progress import Progress
from .protocol.replies import HelloInfo
from .report import junit, links, results, summary
from .runner import Breaker, lane_count, run_cases

DEFAULT_REPORT_DIR = Path("reports/latest")


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
    verbose: bool = False


@dataclass
class RunState:
    """What a run has gathered so far; still there when it is interrupted."""

    hello: HelloInfo | None = None
    results: list[CaseResult] = field(default_factory=list)


def check_workers(workers: int | None) -> None:
    if workers is not None and not 1 <= workers <= MAX_LANES:
        raise UsageError(f"-n {workers}: expected auto or a lane count from 1 to {MAX_LANES}")


def run_suite(options: RunOptions) -> ExitCode:
    check_workers(options.workers)
    paths = selection.spec_paths(options.paths)
    cases, spec_errors = selection.load_selection(paths, options.keyword, options.tags)
    known = expectations.load(options.expectations) if options.expectations else None
    adapter = registry.resolve(options.adapter)
    lanes = lane_count(adapter, options.workers, len(cases))
    started = datetime.now(UTC)
    clock = time.monotonic()
    state = RunState()
    progress = Progress(len(cases), verbose=options.verbose)
    print(f"running {len(cases)} cases against {adapter.name} on {lanes} lane(s)", file=sys.stderr)
    interrupted = False
    infrastructure: str | None = None
    internal: str | None = None
    breaker = Breaker()
    try:
        execute(cases, adapter, lanes, progress, state, breaker)
    except KeyboardInterrupt:
        interrupted = True
    except InfrastructureError as error:
        infrastructure = str(error)
    except Exception:  # a bug of ours: keep what ran, say where it is
        internal = traceback.format_exc()
    progress.finish()
    if breaker.tripped:
        infrastructure = f"gave up: {breaker.message.removeprefix('not run: ')}"
    internal = internal or _harness_errors(state.results)
    order = {case.id: index for index, case in enumerate(cases)}
    done = sorted(state.results, key=lambda r: order[r.id])
    verdict = expectations.gate(done, known)
    header = results.RunHeader(
        adapter=state.hello.as_dict() if state.hello else {"name": adapter.name},
        adapter_spec=adapter.name,
        started=started.isoformat(timespec="seconds"),
        duration_s=time.monotonic() - clock,
        workers=lanes,
        spec_revision=results.spec_revision([c.file for c in cases]),
        selection={
            "keyword": options.keyword,
            "tags": list(options.tags),
            "paths": [str(p) for p in paths],
            "selected": len(cases),
            "expectations": str(options.expectations) if options.expectations else None,
        },
        interrupted=interrupted,
        error=infrastructure or (f"internal error: {internal.strip().splitlines()[-1]}" if internal else None),
        spec_errors=[str(error) for error in spec_errors],
    )
    write_reports(options.report_dir, header, done, verdict)
    if options.update_expectations and not interrupted and not infrastructure:
        target = options.update_expectations
        previous = expectations.load(target) if target.is_file() else None
        expectations.write(target, expectations.updated(done, previous, adapter.name))
        print(f"expectations rewritten: {target}")
    if internal:
        print(internal.rstrip(), file=sys.stderr)
        print(
            f"internal error: this is a bug of connect-conformance, not of the implementation; "
            f"the {len(done)} results so far are in {options.report_dir}/",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL
    if infrastructure:
        print(f"error: {infrastructure}", file=sys.stderr)
        if done:
            print(f"the {len(done)} results so far are in {options.report_dir}/", file=sys.stderr)
        return ExitCode.INFRASTRUCTURE
    print(summary.text_table(done))
    _print_gate(verdict, known)
    print(f"reports written to {options.report_dir}/ (results.json, junit.xml, summary.md)")
    if interrupted:
        print(f"interrupted: {len(done)} of {len(cases)} cases ran; partial results written", file=sys.stderr)
        return ExitCode.INTERRUPTED
    if spec_errors:
        print(f"{len(spec_errors)} problem(s) in the spec (listed above and in results.json)", file=sys.stderr)
        return ExitCode.USAGE
    return ExitCode.OK if verdict.ok else ExitCode.UNEXPECTED


def _harness_errors(done: Sequence[CaseResult]) -> str | None:
    broken = [result for result in done if result.outcome is Outcome.ERROR and result.message.startswith(HARNESS_ERROR)]
    if not broken:
        return None
    shown = "\n".join(f"  {result.id}: {result.message}" for result in broken[:10])
    return f"{len(broken)} case(s) hit a bug of the harness:\n{shown}"


def execute(
    cases: list[Case],
    adapter: AdapterSpec,
    lanes: int,
    progress: Progress | None,
    state: RunState,
    breaker: Breaker | None = None,
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
        state.hello, _ = await run_cases(cases, adapter, workers=lanes, on_result=on_result, breaker=breaker)

    try:
        asyncio.run(go())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


def write_reports(
    directory: Path, header: results.RunHeader, done: list[CaseResult], verdict: expectations.GateResult
) -> None:
    results.write_json(directory / "results.json", results.results_document(header, done, verdict.as_dict()))
    junit.write_junit(directory / "junit.xml", f"connect-conformance: {header.adapter_spec}", done)
    notes = [
        f"Adapter `{header.adapter_spec}` ({header.adapter.get('runtime', '?')}), suite {__version__}, "
        f"spec revision `{header.spec_revision}`, {header.duration_s:.1f} s."
    ]
    if header.interrupted:
        notes.append("**Interrupted**: partial results.")
    cited = {source for result in done for source in result.source}
    (directory / "summary.md").write_text(
        summary.markdown("connect-conformance results", done, notes, links.source_links(cited, directory)),
        encoding="utf-8",
    )


def _print_gate(verdict: expectations.GateResult, known: expectations.Expectations | None) -> None:
    for result, expected in verdict.unexpected:
        first = result.message.splitlines()[0] if result.message else ""
        print(f"UNEXPECTED {result.outcome.value} (expected {expected}): {result.id}  {result.file}:{result.line}")
        if first:
            print(f"    {first}")
    if known is not None:
        print(
            f"expectations {known.path}: {verdict.expected_failures} expected non-pass, "
            f"{len(verdict.unexpected)} unexpected, {verdict.flaky} flaky, {len(verdict.unused)} unused, "
            f"{len(verdict.expired)} expired"
        )
        for case_id in verdict.unused:
            print(f"    unused expectation: {case_id}")
        for case_id in verdict.expired:
            entry = known.expected(case_id)
            print(f"EXPIRED expectation (until {entry.until if entry else '?'}): {case_id}: look at it again")
