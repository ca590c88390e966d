"""Running scenarios on two implementations side by side, and hypothesis's search for divergences.

``Pair`` keeps one lane per implementation (each with its own peer session per
scenario, driven by the same script) in an event loop that lives for the whole
search, so a slow runtime starts once. ``Search`` asks hypothesis for the
smallest scenario whose normalised observations differ (``hypothesis.find``
shrinks it, within ``SHRINK_EXAMPLES``), checks that it diverges the same way
on replay (else it is reported as flaky, not written), turns it into a case with
the against side's observations as expectations, replays that case judged (it
must pass on the against side and not on the other), and goes on looking for
divergences of a kind not seen yet until the example budget or the time is
spent. Each example also reports how far it got in degree (``targets.py``), so
hypothesis steers towards more bytes queued and more ops left waiting.
"""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, find, settings, target
from hypothesis.errors import Flaky, NoSuchExample

from ..adapters.base import AdapterSpec, RunContext
from ..cases.loader import load_file
from ..core.certificates import RunCertificates
from ..core.jsshow import show
from ..core.model import Case
from ..core.outcomes import CaseResult, Outcome
from ..core.text import plural
from ..errors import ConformanceError, InfrastructureError
from ..execution.runner import FixedPorts, Lane
from .emit import Inexpressible, expected_steps
from .features import Profile
from .observations import Divergence, Normaliser, Observation, first_divergence
from .scenarios import Scenario, case_yaml, scenarios
from .targets import scores

T = TypeVar("T")

#: Replays of a divergent scenario that must all diverge the same way before it counts.
REPLAYS = 2
#: Examples hypothesis may spend shrinking one divergence; then the smallest seen so far is kept.
SHRINK_EXAMPLES = 150
#: Examples of one round (one ``hypothesis.find`` with a randomness of its own). Within a long run,
#: hypothesis spends half its budget climbing the targets from one example, and mutates around the
#: examples it has: a few hundred examples cluster on a few scenarios. Short rounds start afresh.
ROUND_EXAMPLES = 40
#: One round in this many climbs the targets (``Phase.target``: more bytes queued, more ops waiting).
TARGET_EVERY = 3


class TimeUp(ConformanceError):
    pass


class _ShrunkEnough(Exception):
    """The shrink budget of a divergence is spent."""


@dataclass
class Finding:
    divergence: Divergence
    scenario: Scenario
    case_text: str | None = None
    #: Why no case was written: flaky on replay, inexpressible, or the replayed case did not separate them.
    problem: str | None = None
    path: Path | None = None
    #: Examples run and seconds spent in this search when the divergence was first seen (before shrinking).
    examples: int = 0
    seconds: float = 0.0
    #: The written case replayed judged: (outcome on ours, outcome on the against side).
    replayed: tuple[str, str] | None = None

    @property
    def flaky(self) -> bool:
        return (self.problem or "").startswith("flaky")


@dataclass
class Report:
    examples: int = 0
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0


class Pair:
    """The implementation under test and the one it is compared with, each on a lane of its own."""

    def __init__(self, adapter: AdapterSpec, against: AdapterSpec) -> None:
        self.loop = asyncio.new_event_loop()
        self.certificates = RunCertificates()
        context = RunContext(self.certificates)
        # One FixedPorts for both: the two sides' listeners on a fixed port get addresses of their own.
        ports = FixedPorts()
        self.lanes = (Lane(adapter, context, ports=ports), Lane(against, context, ports=ports))
        self.folder = tempfile.TemporaryDirectory(prefix="connect-conformance-fuzz-")
        try:
            hellos = self.loop.run_until_complete(_together(*(lane.start() for lane in self.lanes)))
        except InfrastructureError:
            self.close()
            raise
        #: What both sides and this machine can do: the features scenarios may use.
        self.profile = Profile.shared(
            *(
                hello.capabilities | lane.environment.capabilities
                for hello, lane in zip(hellos, self.lanes, strict=True)
            )
        )

    def case(self, scenario: Scenario, text: str | None = None) -> Case:
        path = Path(self.folder.name) / "scenario.yaml"
        path.write_text(text or case_yaml(scenario, "fuzz.scenario", "a generated scenario"), encoding="utf-8")
        cases, errors = load_file(path)
        if errors or len(cases) != 1:
            raise ValueError("; ".join(map(str, errors)) or "no case")  # a bug of the strategies
        return cases[0]

    def run(self, case: Case, observe_only: bool = True, apart: bool = False) -> tuple[CaseResult, CaseResult]:
        """Both sides at once (the search), or ``apart``: one after the other, so that neither
        side's timing is shaped by the other sharing the loop (replays)."""
        if apart:
            ours = self.loop.run_until_complete(self.lanes[0].run_case(case, observe_only=observe_only))
            theirs = self.loop.run_until_complete(self.lanes[1].run_case(case, observe_only=observe_only))
            return ours, theirs
        both = self.loop.run_until_complete(
            _together(*(lane.run_case(case, observe_only=observe_only) for lane in self.lanes))
        )
        return both[0], both[1]

    def close(self) -> None:
        self.loop.run_until_complete(_together(*(lane.close() for lane in self.lanes)))
        self.loop.close()
        self.certificates.close()
        self.folder.cleanup()


class Search:
    def __init__(
        self,
        pair: Pair,
        normaliser: Normaliser,
        examples: int,
        deadline: float | None,
        seed: int,
        out: Path,
        progress: Callable[[str], None] = lambda text: None,
        stop_after: int | None = None,
        until_written: bool = False,
        profile: Profile | None = None,
    ) -> None:
        self.pair = pair
        #: Stop at the first finding written as a case (``fuzz --find-mutants``).
        self.until_written = until_written
        self.profile = profile or (pair.profile if pair is not None else Profile())
        self.normaliser = normaliser
        self.examples = examples
        self.deadline = deadline
        self.seed = seed
        self.out = out
        self.progress = progress
        self.stop_after = stop_after
        self.report = Report()
        self.known: set[str] = set()
        #: The latest scenario that diverged, for when hypothesis gives up on an unreliable one.
        self.last: tuple[Scenario, Divergence] | None = None
        self.started = time.monotonic()
        #: Examples and seconds at the round's first divergence, and examples run since (shrinking).
        self.first_seen: tuple[int, float] | None = None
        self.since_first = 0

    # -- one scenario ---------------------------------------------------------------------------

    def observe(
        self, scenario: Scenario, apart: bool = False
    ) -> tuple[list[Observation], list[Observation], Divergence | None]:
        ours, theirs = self.pair.run(self.pair.case(scenario), apart=apart)
        mine = self.normaliser.transcript(ours.transcript) if ours.outcome is not Outcome.ERROR else _broken(ours)
        other = (
            self.normaliser.transcript(theirs.transcript) if theirs.outcome is not Outcome.ERROR else _broken(theirs)
        )
        return mine, other, first_divergence(mine, other)

    def _diverges(self, scenario: Scenario) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeUp
        if self.first_seen is not None:
            self.since_first += 1
            if self.since_first > SHRINK_EXAMPLES:
                raise _ShrunkEnough
        self.report.examples += 1
        if self.report.examples % 25 == 0:
            self.progress(f"{self.report.examples} examples, {plural(len(self.report.findings), 'finding')}")
        _, other, divergence = self.observe(scenario)
        for label, score in scores(scenario, other).items():
            target(score, label=label)
        if divergence is None or divergence.signature() in self.known:
            return False
        if self.first_seen is None:
            self.first_seen = (self.report.examples, time.monotonic() - self.started)
        self.last = (scenario, divergence)
        return True

    # -- the search -----------------------------------------------------------------------------

    def run(self) -> Report:
        self.started = time.monotonic()
        rounds = 0
        while self.report.examples < self.examples and not self._enough():
            before = self.report.examples
            chosen = settings(
                max_examples=min(ROUND_EXAMPLES, self.examples - self.report.examples),
                deadline=None,
                database=None,
                derandomize=False,
                phases=[Phase.generate, Phase.shrink] + ([Phase.target] if rounds % TARGET_EVERY == 1 else []),
                suppress_health_check=list(HealthCheck),
                verbosity=Verbosity.quiet,
            )
            self.first_seen, self.since_first = None, 0
            try:
                scenario = find(scenarios(self.profile), self._diverges, settings=chosen, random=self._random(rounds))
            except NoSuchExample:
                rounds += 1
                if self.report.examples == before:
                    break  # nothing left to generate
                continue
            except (TimeUp, _ShrunkEnough) as stop:
                # Shrinking was cut short: the smallest divergent scenario seen so far stands for it.
                if self.first_seen is not None and self.last is not None:
                    self._settle(self.last[0])
                if isinstance(stop, TimeUp):
                    break
                rounds += 1
                continue
            except Flaky:
                # Hypothesis saw a divergence it could not reproduce while shrinking.
                rounds += 1
                self._unreliable()
                continue
            rounds += 1
            self._settle(scenario)
        self.report.seconds = time.monotonic() - self.started
        return self.report

    def _random(self, rounds: int) -> random.Random:
        """The randomness of one round: seed S's later rounds must not be seed S+1's first,
        or the lanes of ``-n`` (seeds S, S+1, ...) would search the same scenarios."""
        return random.Random(self.seed if rounds == 0 else f"{self.seed}:{rounds}")

    def _enough(self) -> bool:
        if self.until_written and any(finding.path for finding in self.report.findings):
            return True
        found = [finding for finding in self.report.findings if not finding.flaky]
        return self.stop_after is not None and len(found) >= self.stop_after

    def _unreliable(self) -> None:
        """Hypothesis saw the latest divergent scenario pass once while shrinking (side by side, one
        side's timing shapes the other's): it gets the replays apart that every finding gets, which
        decide whether it is flaky."""
        if self.last is None:
            return
        self._settle(self.last[0])

    def prove(self, scenario: Scenario) -> Finding:
        """What the search does with a divergent scenario it found, for one given scenario: replay it,
        write it as a case and replay that case judged. The finding says where it went (or why not)."""
        before = len(self.report.findings)
        self._settle(scenario)
        if len(self.report.findings) == before:
            raise ValueError("the scenario was not settled")  # _settle records every outcome
        return self.report.findings[-1]

    def _settle(self, scenario: Scenario) -> None:
        """Replay the shrunk scenario; write it as a case if it diverges the same way every time.

        The replays run the two sides apart: a difference that only timing side by side made
        (how a large send was cut into reads) does not come back then."""
        _, against, divergence = self.observe(scenario, apart=True)
        if divergence is None:
            # Report what the search saw, so the flaky finding says where it diverged.
            seen = self.last[1] if self.last is not None and self.last[0] == scenario else None
            if seen is not None:
                self.known.add(seen.signature())
            shown = seen or Divergence(0, "?", None, None)
            self._record(Finding(shown, scenario, problem="flaky: no divergence on replay"))
            return
        self.known.add(divergence.signature())
        finding = Finding(divergence, scenario)
        for _ in range(REPLAYS - 1):
            _, _, again = self.observe(scenario, apart=True)
            # The same kind of difference, and the against side doing exactly the same: how many bytes
            # a dropped flush let through varies per run, what the behaviour should be does not (when
            # it does, the difference is timing: how much of a large send arrived before a timeout).
            if again is None or again.signature() != divergence.signature() or again.theirs != divergence.theirs:
                finding.problem = "flaky: it diverged differently on replay"
                self._record(finding)
                return
        try:
            steps = expected_steps(scenario, against, divergence)
        except Inexpressible as why:
            finding.problem = f"inexpressible: {why}"
            self._record(finding)
            return
        case_id = f"fuzz.d{scenario.digest()}"
        # Everything of the scenario but its steps carries over: behind an Outbound Worker (its
        # ``environment``) a connect fails that, written without it, connects.
        text = case_yaml(
            replace(scenario, steps=tuple(steps)),
            case_id,
            f"found by the fuzzer: {divergence.signature()}",
            comments=_comments(self.pair, divergence),
        )
        ours, theirs = self.pair.run(self.pair.case(scenario, text), observe_only=False, apart=True)
        finding.replayed = (ours.outcome.value, theirs.outcome.value)
        if theirs.outcome is not Outcome.PASS or ours.outcome is Outcome.PASS:
            finding.problem = (
                f"the written case did not separate them (ours {ours.outcome.value}, against {theirs.outcome.value})"
            )
            self._record(finding)
            return
        finding.case_text = text
        finding.path = self.out / f"{case_id.replace('.', '-')}.yaml"
        self.out.mkdir(parents=True, exist_ok=True)
        finding.path.write_text(text, encoding="utf-8")
        self._record(finding)

    def _record(self, finding: Finding) -> None:
        if self.first_seen is not None:
            finding.examples, finding.seconds = self.first_seen
        broken = [
            f"{seen['status']}: {seen['message']}"
            for seen in (finding.divergence.ours, finding.divergence.theirs)
            if isinstance(seen, dict) and seen.get("status") in ("error", "timeout") and "message" in seen
        ]
        if finding.problem and broken:
            # A side that could not finish the scenario: its message is the first thing to triage.
            finding.problem += "; " + " / ".join(broken)
        self.report.findings.append(finding)
        what = f"wrote {finding.path}" if finding.path else finding.problem
        self.progress(f"divergence at {finding.divergence.signature()}: {what}")


async def _together(*work: Awaitable[T]) -> list[T]:
    """``gather`` inside the pair's own loop (built outside it, it would bind to another)."""
    return list(await asyncio.gather(*work))


def _broken(result: CaseResult) -> list[Observation]:
    """A run that could not finish is one observation: its error, with its measured times left out."""
    first = result.message.splitlines()[0] if result.message else ""
    return [Observation(0, "error", {"status": result.outcome.value, "message": _TIMES.sub("N s", first)})]


_TIMES = re.compile(r"\b\d+(\.\d+)? ?(ms|s)\b")


def _comments(pair: Pair, divergence: Divergence) -> tuple[str, ...]:
    ours, theirs = (lane.adapter.name for lane in pair.lanes)
    return (
        "Written by `connect-conformance fuzz`: the two implementations diverged here.",
        f"step {divergence.index or 'end'} ({divergence.action}):",
        f"  {ours}: {show(divergence.ours)}",
        f"  {theirs} (expected below): {show(divergence.theirs)}",
        "Triage it (docs/writing-cases.md, section fuzz) before it joins spec/.",
    )
