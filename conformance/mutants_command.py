"""``connect-conformance mutants``: is every deliberately broken reference caught by some case?

A suite that passes against a broken implementation proves nothing; each
mutant is one plausible bug, and at least one case must turn it into a
non-pass outcome. The unbroken reference runs first: a case it does not pass
would "catch" every mutant for the wrong reason.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence

from .adapters import registry
from .model import Case
from .outcomes import CaseResult, Outcome
from .runner import run_cases


async def _run(cases: Sequence[Case], adapter: str, workers: int) -> list[CaseResult]:
    _, done = await run_cases(cases, registry.resolve(adapter), workers=workers)
    return done


async def _run_all(
    cases: Sequence[Case], names: Sequence[str], workers: int, parallel: int
) -> dict[str, list[CaseResult]]:
    # Cases mostly wait on sockets and timers, so several mutant suites share the loop well.
    gate = asyncio.Semaphore(parallel)

    async def one(name: str) -> tuple[str, list[CaseResult]]:
        async with gate:
            return name, await _run(cases, f"reference+{name}", workers)

    return dict(await asyncio.gather(*(one(name) for name in names)))


def run_mutants(cases: Sequence[Case], workers: int = 2, only: Sequence[str] = (), parallel: int = 4) -> int:
    from .adapters.reference.mutants import MUTANTS

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
    print(f"reference: {len(baseline)} cases pass; running {len(names)} mutant(s)", file=sys.stderr)
    runs = asyncio.run(_run_all(cases, names, workers, parallel))
    escaped = []
    width = max(len(name) for name in names)
    for name in names:
        catching = [r for r in runs[name] if r.outcome not in (Outcome.PASS, Outcome.SKIP)]
        shown = ", ".join(r.id for r in catching[:4]) + (f" (+{len(catching) - 4} more)" if len(catching) > 4 else "")
        status = f"caught by {len(catching)}" if catching else "ESCAPED"
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
