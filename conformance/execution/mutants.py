"""``connect-conformance mutants``: is every deliberately broken reference caught by some case?

A suite that passes against a broken implementation proves nothing; each
mutant is one plausible bug, and at least one case must turn it into a
non-pass outcome. The unbroken reference runs first: a case it does not pass
would "catch" every mutant for the wrong reason.

Nearly all of a case is deliberate waiting, so several mutant suites of a
process run at once in one event loop (each on the reference's ``-n auto``
lanes, ``SUITES_AT_ONCE`` at a time); what is left is CPU, so the mutants are
shared among one process per core.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

from ..adapters import registry
from ..core import units
from ..core.model import Case
from ..core.outcomes import CaseResult, Outcome
from ..core.text import plural
from .runner import run_cases

#: Per mutant, the cases that did not pass: (case id, outcome).
Caught = dict[str, list[tuple[str, str]]]


async def _run(
    cases: Sequence[Case], adapter: str, workers: int | None, enough: Callable[[], bool] | None = None
) -> list[CaseResult]:
    _, done = await run_cases(cases, registry.resolve(adapter), workers=workers, enough=enough)
    return done


def _bytes_moved(case: Case) -> int:
    """How many bytes a case's steps write, send or read: what costs CPU in the reference."""
    total = 0
    for step in case.steps:
        arg = step.arg.get("data", step.arg) if isinstance(step.arg, dict) else step.arg
        size = arg.get("size") if isinstance(arg, dict) else None
        if size is None and isinstance(step.arg, dict):
            size = step.arg.get("n")
        if isinstance(size, int | str):
            with contextlib.suppress(ValueError):
                total += units.size(size)
    return total


def cheapest_first(cases: Sequence[Case]) -> list[Case]:
    """The cases in the order mutants run them: the ones that move megabytes last, since a mutant's
    suite stops at its first catching case and most are caught long before."""
    return sorted(cases, key=_bytes_moved)


def _catching(result: CaseResult) -> bool:
    return result.outcome not in (Outcome.PASS, Outcome.SKIP)


#: Mutant suites one process runs at once. The suite moves megabytes (64 MiB writes that must
#: stall, a 32 MiB write): with every suite of a process at once, one core falls so far behind
#: that ordinary 2 s step deadlines expire, and unrelated cases "catch" a mutant.
SUITES_AT_ONCE = 4


async def _run_all(cases: Sequence[Case], names: Sequence[str], workers: int | None, every: bool) -> Caught:
    gate = asyncio.Semaphore(SUITES_AT_ONCE)

    async def one(name: str) -> tuple[str, list[tuple[str, str]]]:
        caught: list[CaseResult] = []

        def enough() -> bool:
            return not every and bool(caught)

        async with gate:
            done = await run_cases(
                cases,
                registry.resolve(f"reference+{name}"),
                workers=workers,
                enough=enough,
                on_result=lambda result: caught.append(result) if _catching(result) else None,
            )
        return name, [(r.id, r.outcome.value) for r in done[1] if _catching(r)]

    return dict(await asyncio.gather(*(one(name) for name in names)))


def _run_share(cases: Sequence[Case], names: Sequence[str], workers: int | None, every: bool) -> Caught:
    return asyncio.run(_run_all(cases, names, workers, every))


def _run_everywhere(cases: Sequence[Case], names: Sequence[str], workers: int | None, every: bool) -> Caught:
    processes = min(len(names), os.cpu_count() or 1)
    if processes <= 1:
        return _run_share(cases, names, workers, every)
    shares = [names[index::processes] for index in range(processes)]
    caught: Caught = {}
    # fork: no event loop runs at this point, and the children need the loaded cases only.
    with ProcessPoolExecutor(processes) as pool:
        for share in pool.map(_run_share, [cases] * processes, shares, [workers] * processes, [every] * processes):
            caught.update(share)
    return caught


def run_mutants(
    cases: Sequence[Case], workers: int | None = None, only: Sequence[str] = (), every: bool = False
) -> int:
    """Run each mutant's suite; by default a suite stops at its first catching case (``every``: all cases)."""
    from ..adapters.reference.mutants import MUTANTS

    unknown = [name for name in only if name not in MUTANTS]
    if unknown:
        print(f"error: unknown mutant(s) {', '.join(unknown)}; known: {', '.join(sorted(MUTANTS))}", file=sys.stderr)
        return 2
    names = list(only) or sorted(MUTANTS)
    started = time.monotonic()
    baseline = asyncio.run(_run(cases, "reference", workers))
    broken = [r for r in baseline if r.outcome not in (Outcome.PASS, Outcome.SKIP)]
    if broken:
        print("the unmutated reference does not pass these cases, so mutant results would mean nothing:")
        for result in broken:
            print(f"  {result.outcome.value} {result.id}: {result.message.splitlines()[0] if result.message else ''}")
        return 1
    print(f"reference: {plural(len(baseline), 'case')} pass; running {plural(len(names), 'mutant')}", file=sys.stderr)
    runs = _run_everywhere(cases if every else cheapest_first(cases), names, workers, every)
    escaped = []
    width = max(len(name) for name in names)
    for name in names:
        catching = [case_id for case_id, _ in runs[name]]
        shown = ", ".join(catching[:4]) + (f" (+{len(catching) - 4} more)" if len(catching) > 4 else "")
        status = ("caught by " + str(len(catching)) if every else "caught by") if catching else "ESCAPED"
        print(f"{name.ljust(width)}  {status:14}  {MUTANTS[name]}")
        if catching:
            print(f"{''.ljust(width)}  {'':14}  {shown}")
        else:
            escaped.append(name)
    print(f"{len(names) - len(escaped)} of {len(names)} mutants caught in {time.monotonic() - started:.1f} s")
    if escaped:
        print(f"escaped: {', '.join(escaped)}")
        return 1
    return 0
