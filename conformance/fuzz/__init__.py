"""``connect-conformance fuzz``: differential fuzzing of two implementations with generated scenarios.

Hypothesis generates scenarios in the step language (``scenarios.py``); each
runs on the implementation under test and on the one it is compared with
(``--against``, the reference by default), each against its own peer driven
by the same script, with every observation recorded and none judged
(``CaseInterpreter(observe_only=True)``). Normalised observations are compared
(``observations.py``); the smallest scenario that shows a divergence is written
as a valid case that expects what the against side did (``emit.py``), and is
kept only if it diverges the same way on replay and its replay as a judged case
passes on the against side and not on the other (``search.py``).

Exit codes: 0 no divergence (scenarios that diverged once but not on replay
are listed as flaky, with their steps, and do not count); 1 divergences found
(cases written, or reported as inexpressible); 2 usage; 3 an adapter would not
start.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..core.text import plural
from ..exitcodes import ExitCode


@dataclass(frozen=True)
class FuzzOptions:
    adapter: str
    against: str = "reference"
    examples: int = 200
    #: Seconds; the search stops at whichever of ``examples`` and ``seconds`` comes first.
    seconds: float | None = None
    seed: int = 0
    out: Path = Path("reports/fuzz")
    #: Independent searches at once (seeds ``seed``, ``seed + 1``...), one process each.
    lanes: int = 1
    spec: Sequence[Path] = ()
    #: Stop once this many divergences (flaky ones aside) are found; None: search the whole budget.
    stop_after: int | None = None


@dataclass(frozen=True)
class Found:
    """A finding as it crosses back from a search process."""

    signature: str
    path: str | None
    problem: str | None
    #: The scenario's steps on one line, to reproduce a finding that was not written as a case.
    steps: str = ""
    #: It diverged once but not on replay: listed, not counted.
    flaky: bool = False


def _search(options: FuzzOptions, seed: int, examples: int) -> tuple[int, list[Found]]:
    from ..adapters import registry
    from ..cases.selection import load_strict_selection, spec_paths
    from .observations import Normaliser, message_patterns
    from .search import Pair, Search

    patterns = message_patterns(load_strict_selection(spec_paths(options.spec), None, ()))
    deadline = time.monotonic() + options.seconds if options.seconds else None
    pair = Pair(registry.resolve(options.adapter), registry.resolve(options.against))
    try:

        def say(text: str) -> None:
            print(f"[seed {seed}] {text}", file=sys.stderr, flush=True)

        search = Search(pair, Normaliser(patterns), examples, deadline, seed, options.out, say, options.stop_after)
        report = search.run()
    finally:
        pair.close()
    found = [
        Found(f.divergence.signature(), str(f.path) if f.path else None, f.problem, f.scenario.one_line(), f.flaky)
        for f in report.findings
    ]
    return report.examples, found


def run_fuzz(options: FuzzOptions) -> ExitCode:
    started = time.monotonic()
    lanes = max(1, options.lanes)
    share = max(1, options.examples // lanes)
    seeds = [options.seed + lane for lane in range(lanes)]
    print(
        f"fuzzing {options.adapter} against {options.against}: up to {options.examples} examples"
        + (f" or {options.seconds:g} s" if options.seconds else "")
        + f", seed {options.seed}, {plural(lanes, 'lane')}; cases go to {options.out}/",
        file=sys.stderr,
    )
    if lanes == 1:
        results = [_search(options, options.seed, options.examples)]
    else:
        with ProcessPoolExecutor(lanes) as pool:
            results = list(pool.map(_search, [options] * lanes, seeds, [share] * lanes))
    examples = sum(count for count, _ in results)
    seen: dict[str, Found] = {}
    for _, found in results:
        for finding in found:
            if finding.signature not in seen or (finding.path and not seen[finding.signature].path):
                seen[finding.signature] = finding
    divergent = [finding for finding in seen.values() if not finding.flaky]
    flaky = [finding for finding in seen.values() if finding.flaky]
    print(
        f"{examples} examples in {time.monotonic() - started:.1f} s; {plural(len(divergent), 'distinct divergence')}"
        + (f", {len(flaky)} flaky (diverged once, not on replay)" if flaky else "")
    )
    for finding in divergent + flaky:
        print(f"  {'flaky: ' if finding.flaky else ''}{finding.signature}")
        print(f"    {'case: ' + finding.path if finding.path else finding.problem}")
        if not finding.path:
            print(f"    peer {finding.steps}")
    return ExitCode.UNEXPECTED if divergent else ExitCode.OK
