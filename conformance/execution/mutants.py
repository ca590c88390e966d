"""``connect-conformance mutants``: is every deliberately broken reference caught by some case?

A suite that passes against a broken implementation proves nothing; each
mutant is one plausible bug, and at least one case must turn it into a
non-pass outcome. The unbroken reference runs first: a case it does not pass
would "catch" every mutant for the wrong reason.

Nearly all of a case is deliberate waiting, so several mutant suites of a
process run at once in one event loop (each on the reference's ``-n auto``
lanes, ``SUITES_AT_ONCE`` at a time); what is left is CPU, so the mutants are
shared among one process per core. A mutant's suite stops at its first catching
case, so the order is most of the cost: the quickest case that caught it last time
(``$CONNECT_CONFORMANCE_CACHE/mutants.json``) runs alone first; otherwise (or when it
no longer catches) the cases citing a behaviour the mutant's description names (its
``(B28)``), then a case of every spec file in turn, the ones that move megabytes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

from ..adapters import registry
from ..adapters.npm_cache import cache_root
from ..core import units
from ..core.model import Case
from ..core.outcomes import CaseResult, Outcome
from ..core.text import plural
from . import durations
from .runner import run_cases

CATCHERS_FILE = "mutants.json"

#: Per mutant, the cases that did not pass: (case id, outcome, milliseconds).
Caught = dict[str, list[tuple[str, str, float]]]


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


def mutant_order(cases: Sequence[Case], behaviours: Collection[str] = ()) -> list[Case]:
    """The order a mutant's suite runs in: the cases citing one of ``behaviours`` (the ids the
    mutant's description names: its bug breaks them), then a case of every spec file in turn (a
    file's first cases are its plainest; in spec order the starttls and streams mutants waited
    behind 220 policy cases), the ones that move megabytes last."""
    rank: dict[str, int] = {}
    seen: dict[str, int] = {}
    for case in cases:
        rank[case.id] = seen.get(case.file, 0)
        seen[case.file] = rank[case.id] + 1
    wanted = set(behaviours)
    return sorted(
        cases,
        key=lambda case: (not wanted & set(case.source), _bytes_moved(case) > 0, rank[case.id], _bytes_moved(case)),
    )


def behaviours_of(description: str) -> set[str]:
    """The behaviour ids a mutant's description cites, e.g. ``(B28)``."""
    return set(re.findall(r"\bB\d+\b", description))


def load_catchers() -> dict[str, list[str]]:
    """Per mutant, the cases that caught it in an earlier run, quickest first (empty when none:
    only the order depends on it)."""
    data = durations.read_hint(cache_root() / CATCHERS_FILE)
    return {
        name: [case for case in ids if isinstance(case, str)] for name, ids in data.items() if isinstance(ids, list)
    }


def save_catchers(earlier: Mapping[str, list[str]], caught: Caught) -> None:
    quickest = {name: sorted(found, key=lambda row: row[2]) for name, found in caught.items() if found}
    merged = {**earlier, **{name: [case for case, _, _ in found[:4]] for name, found in quickest.items()}}
    durations.write_hint(cache_root() / CATCHERS_FILE, merged)


def _catching(result: CaseResult) -> bool:
    return result.outcome not in (Outcome.PASS, Outcome.SKIP)


#: Mutant suites one process runs at once. The suite moves megabytes (64 MiB writes that must
#: stall, a 32 MiB write): with every suite of a process at once, one core falls so far behind
#: that ordinary 2 s step deadlines expire, and unrelated cases "catch" a mutant.
SUITES_AT_ONCE = 4
#: Known catchers (one or a few cases per mutant) at once: little CPU, mostly their planned waits.
CATCHERS_AT_ONCE = 16


async def _run_all(
    cases: Sequence[Case], names: Sequence[str], workers: int | None, every: bool, catchers: Mapping[str, list[str]]
) -> Caught:
    from ..adapters.reference.mutants import MUTANTS

    gate = asyncio.Semaphore(SUITES_AT_ONCE)
    catchers_gate = asyncio.Semaphore(CATCHERS_AT_ONCE)

    async def suite(name: str, chosen: Sequence[Case], lanes: int | None) -> list[tuple[str, str, float]]:
        caught: list[CaseResult] = []

        def enough() -> bool:
            return not every and bool(caught)

        done = await run_cases(
            chosen,
            registry.resolve(f"reference+{name}"),
            workers=lanes,
            enough=enough,
            on_result=lambda result: caught.append(result) if _catching(result) else None,
        )
        return [(r.id, r.outcome.value, r.duration_ms) for r in done[1] if _catching(r)]

    async def one(name: str) -> tuple[str, list[tuple[str, str, float]]]:
        if every:
            async with gate:
                return name, await suite(name, cases, workers)
        known = catchers.get(name, [])[:1]
        first = [case for case in cases if case.id in known]
        if first:
            # Alone: a whole suite's first round (some cases wait seconds on purpose) would
            # otherwise run to its end after the catch.
            async with catchers_gate:
                found = await suite(name, first, 1)
            if found:
                return name, found
        rest = mutant_order([case for case in cases if case.id not in known], behaviours_of(MUTANTS[name]))
        async with gate:
            return name, await suite(name, rest, workers)

    return dict(await asyncio.gather(*(one(name) for name in names)))


def _run_share(
    cases: Sequence[Case], names: Sequence[str], workers: int | None, every: bool, catchers: Mapping[str, list[str]]
) -> Caught:
    return asyncio.run(_run_all(cases, names, workers, every, catchers))


def _run_everywhere(
    cases: Sequence[Case], names: Sequence[str], workers: int | None, every: bool, catchers: Mapping[str, list[str]]
) -> Caught:
    processes = min(len(names), os.cpu_count() or 1)
    if processes <= 1:
        return _run_share(cases, names, workers, every, catchers)
    shares = [names[index::processes] for index in range(processes)]
    caught: Caught = {}
    # fork: no event loop runs at this point, and the children need the loaded cases only.
    with ProcessPoolExecutor(processes) as pool:
        for share in pool.map(
            _run_share,
            [cases] * processes,
            shares,
            [workers] * processes,
            [every] * processes,
            [catchers] * processes,
        ):
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
    catchers = load_catchers()
    runs = _run_everywhere(cases, names, workers, every, catchers)
    save_catchers(catchers, runs)
    escaped = []
    width = max(len(name) for name in names)
    for name in names:
        catching = [case_id for case_id, _, _ in runs[name]]
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
