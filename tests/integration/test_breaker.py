"""An adapter that keeps breaking costs the run a bounded time: the circuit breaker (issue 9, item 13)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from conformance.adapters.base import AdapterSpec, RunContext
from conformance.cases.loader import load_strict
from conformance.core.outcomes import Fault, Outcome
from conformance.errors import AdapterError
from conformance.execution.runner import Breaker, run_cases
from tests.helpers import REPO


class HelloThenSilence:
    """Answers hello on the lanes' first starts only; then every request breaks, and every restart fails."""

    starts = 0
    lanes = 2

    def __init__(self) -> None:
        HelloThenSilence.starts += 1
        self.first = HelloThenSilence.starts <= self.lanes

    async def open(self) -> None:
        pass

    async def exchange(self, message: dict[str, Any], timeout: float) -> Any:
        if message["op"] == "hello" and self.first:
            value = {"name": "fake", "version": "0", "runtime": "none", "protocol": 1, "capabilities": []}
            return {"seq": message["seq"], "status": "returned", "value": value}
        if message["op"] == "shutdown":
            return {"seq": message["seq"], "status": "returned"}
        raise AdapterError(f"no answer to {message['op']} (adapter silent)")

    async def open_session(self) -> None:
        pass

    async def close_session(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def diagnostics(self) -> str:
        return ""


def test_the_breaker_counts_failures_in_a_row_and_a_success_resets_it() -> None:
    breaker = Breaker(budget=3)
    breaker.failed("one")
    breaker.failed("two")
    breaker.succeeded()
    breaker.failed("three")
    breaker.failed("four")
    assert not breaker.tripped
    breaker.failed("five\nmore")
    assert breaker.tripped
    breaker.succeeded()
    assert breaker.tripped, "once open, it stays open"
    assert breaker.message == "not run: the adapter broke 3 times in a row (last: five)"


def test_a_run_on_an_adapter_that_keeps_breaking_ends_fast_with_one_message() -> None:
    cases = load_strict([REPO / "spec" / "lifecycle"])
    HelloThenSilence.starts = 0

    def make(context: RunContext) -> HelloThenSilence:
        return HelloThenSilence()

    breaker = Breaker()
    started = time.monotonic()
    spec = AdapterSpec("fake", make)
    _, results = asyncio.run(run_cases(cases, spec, workers=HelloThenSilence.lanes, breaker=breaker))
    assert time.monotonic() - started < 10
    assert breaker.tripped
    assert {result.outcome for result in results} == {Outcome.ERROR}
    assert {result.fault for result in results} == {Fault.ADAPTER}
    skipped = [result for result in results if result.message.startswith("not run: the adapter broke 10 times")]
    assert len(skipped) >= len(results) - 12, [r.message for r in results][:12]
    # It gave up after its budget: the fake was not restarted for every case.
    assert HelloThenSilence.starts <= 12
