"""``connect-conformance fuzz --find-mutants``: how many of the planted bugs does the fuzzer find?

Each mutant of the reference (``connect-conformance mutants``) is fuzzed
against the faithful reference, in a process of its own, several at once,
each with the same seed, example budget and time limit. A search stops at its
first finding written as a case. That case is then replayed from its file,
judged, on both sides: it must fail on the mutant and pass on the reference,
or the table says it does not.

The table gives, per mutant: found or not, the examples and seconds the search
had spent when it first saw the divergence it wrote (before shrinking; for a
miss, all it spent), and the case file. A mutant counts as found only with a
written case that fails on it and passes on the reference; one that diverged
on replay without such a case (inexpressible, or not separating them) is
listed as "diverged".
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from ..core.outcomes import Outcome
from ..core.text import plural
from ..exitcodes import ExitCode


@dataclass(frozen=True)
class Hunt:
    """One mutant's search, as it crosses back from its process."""

    mutant: str
    #: A divergence that came back on replay (written as a case or not); ``proven`` says whether its
    #: case fails on the mutant and passes on the reference, which is what counts as found.
    diverged: bool
    examples: int | None = None
    seconds: float | None = None
    case: str | None = None
    #: The written case replayed from its file, judged: (outcome on the mutant, on the reference).
    replayed: tuple[str, str] | None = None
    #: Why nothing was found, written or proven.
    problem: str | None = None
    signature: str | None = None
    total_examples: int = 0
    total_seconds: float = 0.0

    @property
    def proven(self) -> bool:
        return self.replayed == (Outcome.FAIL.value, Outcome.PASS.value)

    @property
    def found(self) -> bool:
        """Found: a written case that fails on the mutant and passes on the reference."""
        return self.diverged and self.proven

    def line(self) -> str:
        """One line for the progress log (a scan cut short still shows what each search did)."""
        if self.found:
            return f"found after {self.examples} examples, {_cell(self.seconds)} s: {self.case}"
        if self.diverged:
            return f"diverged after {self.examples} examples, no proven case: {self.problem or self.replayed}"
        return f"missed ({self.total_examples} examples, {self.total_seconds:.0f} s): {self.problem}"


@dataclass(frozen=True)
class HuntOptions:
    examples: int = 300
    #: Seconds each mutant's search may take (it stops at whichever of the budgets comes first).
    seconds: float = 600.0
    seed: int = 0
    against: str = "reference"
    out: Path = Path("reports/fuzz/mutants")
    spec: Sequence[Path] = ()


def hunt(options: HuntOptions, mutant: str) -> Hunt:
    """Fuzz ``reference+<mutant>`` against the reference until the first written finding or the budget."""
    from ..adapters import registry
    from ..cases.loader import load_file
    from ..cases.selection import load_strict_selection, spec_paths
    from .observations import Normaliser, message_patterns
    from .search import Pair, Search

    started = time.monotonic()
    patterns = message_patterns(load_strict_selection(spec_paths(options.spec), None, ()))
    pair = Pair(registry.resolve(f"reference+{mutant}"), registry.resolve(options.against))
    try:

        def say(text: str) -> None:
            print(f"[{mutant}] {text}", file=sys.stderr, flush=True)

        search = Search(
            pair,
            Normaliser(patterns),
            options.examples,
            started + options.seconds,
            options.seed,
            options.out / mutant,
            say,
            until_written=True,
        )
        report = search.run()
        confirmed = [finding for finding in report.findings if not finding.flaky]
        written = next((finding for finding in confirmed if finding.path), None)
        chosen = written or (confirmed[0] if confirmed else None)
        replayed = None
        if written is not None and written.path is not None:
            # Proof from the file as `run` reads it, judged, one side after the other.
            (case,), _ = load_file(written.path)
            ours, theirs = pair.run(case, observe_only=False, apart=True)
            replayed = (ours.outcome.value, theirs.outcome.value)
    finally:
        pair.close()
    flaky = [finding for finding in report.findings if finding.flaky]
    problem = None
    if chosen is None:
        problem = f"{len(flaky)} flaky: {flaky[0].divergence.signature()}" if flaky else "no divergence"
    elif written is None:
        problem = chosen.problem
    return Hunt(
        mutant,
        diverged=chosen is not None,
        examples=chosen.examples if chosen else None,
        seconds=chosen.seconds if chosen else None,
        case=str(written.path) if written and written.path else None,
        replayed=replayed,
        problem=problem,
        signature=chosen.divergence.signature() if chosen else None,
        total_examples=report.examples,
        total_seconds=time.monotonic() - started,
    )


def run_find_mutants(options: HuntOptions, only: Sequence[str] = (), jobs: int | None = None) -> ExitCode:
    from ..adapters.reference.mutants import MUTANTS

    unknown = [name for name in only if name not in MUTANTS]
    if unknown:
        print(f"error: unknown mutant(s) {', '.join(unknown)}; known: {', '.join(sorted(MUTANTS))}", file=sys.stderr)
        return ExitCode.USAGE
    names = list(dict.fromkeys(only)) or sorted(MUTANTS)
    # Nearly all of a search is waiting (ops left pending, peer reads): several per core.
    jobs = max(1, min(len(names), jobs or 4 * (os.cpu_count() or 1)))
    started = time.monotonic()
    print(
        f"fuzzing {plural(len(names), 'mutant')} against {options.against}: up to {options.examples} examples or "
        f"{options.seconds:g} s each, seed {options.seed}, {jobs} at once; cases go to {options.out}/<mutant>/",
        file=sys.stderr,
    )
    hunts: dict[str, Hunt] = {}
    with ProcessPoolExecutor(jobs) as pool:
        running: dict[Future[Hunt], str] = {pool.submit(hunt, options, name): name for name in names}
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                try:
                    hunts[name] = future.result()
                except Exception as error:  # one mutant's broken search must not lose the others
                    hunts[name] = Hunt(
                        name, diverged=False, problem=f"the search failed: {type(error).__name__}: {error}"
                    )
                print(f"[{name}] {hunts[name].line()} ({len(hunts)}/{len(names)} done)", file=sys.stderr, flush=True)
    ordered = [hunts[name] for name in names]
    print(table(ordered))
    print(summary(ordered, time.monotonic() - started))
    return ExitCode.OK if all(result.found for result in ordered) else ExitCode.UNEXPECTED


def _cell(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def table(hunts: Sequence[Hunt]) -> str:
    """The results as a Markdown table (a terminal shows it as well as a README)."""
    rows = [
        "| mutant | found | examples | seconds | case | replayed (mutant / reference) |",
        "|---|---|---:|---:|---|---|",
    ]
    for result in hunts:
        found = "yes" if result.found else ("diverged" if result.diverged else "**no**")
        case = f"`{result.case}`" if result.case else (result.problem or "")
        replayed = " / ".join(result.replayed) if result.replayed else ""
        if result.replayed and not result.proven:
            replayed += " **not proven**"
        examples = result.examples if result.diverged else result.total_examples
        seconds = result.seconds if result.diverged else result.total_seconds
        rows.append(f"| {result.mutant} | {found} | {examples or ''} | {_cell(seconds)} | {case} | {replayed} |")
    return "\n".join(rows)


def summary(hunts: Sequence[Hunt], seconds: float) -> str:
    found = [result for result in hunts if result.found]
    share = 100 * len(found) / len(hunts) if hunts else 0.0
    lines = [
        f"{len(found)} of {len(hunts)} mutants found ({share:.0f}%): a written case that fails on the mutant and "
        f"passes on the reference; {sum(r.total_examples for r in hunts)} examples in {seconds:.0f} s",
    ]
    unproven = [result.mutant for result in hunts if result.diverged and not result.found]
    missed = [result.mutant for result in hunts if not result.diverged]
    if unproven:
        lines.append(f"diverged, no proven case: {', '.join(unproven)}")
    if missed:
        lines.append(f"missed: {', '.join(missed)}")
    return "\n".join(lines)
