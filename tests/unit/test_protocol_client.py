"""How long the protocol client waits for ``hello``: the first start, and restarts (issue 9, item 13)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conformance.errors import AdapterError, InfrastructureError
from conformance.protocol import client as client_module
from conformance.protocol.client import HELLO_TIMEOUT_S, RESTART_HELLO_MIN_S, AdapterClient

HELLO = {"name": "fake", "version": "0", "runtime": "none", "protocol": 1, "capabilities": []}


class Recorded:
    """A transport that answers hello after ``delay`` s, or never when ``silent``; it records the timeouts."""

    timeouts: list[float] = []

    def __init__(self, delay: float, silent: bool) -> None:
        self.delay = delay
        self.silent = silent

    async def open(self) -> None:
        pass

    async def exchange(self, message: dict[str, Any], timeout: float) -> Any:
        if message["op"] == "hello":
            Recorded.timeouts.append(timeout)
            if self.silent:
                raise AdapterError(f"no answer to hello within {timeout} s")
            await asyncio.sleep(self.delay)
        return {"seq": message["seq"], "status": "returned", "value": HELLO}

    async def close(self) -> None:
        pass

    def diagnostics(self) -> str:
        return ""


def starts(*plan: tuple[float, bool]) -> list[Recorded]:
    return [Recorded(delay, silent) for delay, silent in plan]


def test_a_restart_may_take_ten_times_the_first_start_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "RESTART_HELLO_FACTOR", 10.0)
    transports = iter(starts((0.05, False), (0.0, True), (0.0, False)))
    Recorded.timeouts = []
    client = AdapterClient(lambda: next(transports))

    async def scenario() -> None:
        await client.start()
        with pytest.raises(InfrastructureError, match="did not answer hello"):
            await client.restart()
        await client.restart()

    asyncio.run(scenario())
    first, failed, again = Recorded.timeouts
    assert first == HELLO_TIMEOUT_S
    # 10 x ~0.05 s is below the floor: a restart gets the floor, and keeps the first start's measure.
    assert failed == again == RESTART_HELLO_MIN_S


def test_a_slow_first_start_gives_restarts_more_time_up_to_the_first_hellos_limit() -> None:
    client = AdapterClient(lambda: starts((0.0, False))[0])
    client._first_start_s = 2.0
    assert client._hello_timeout() == 20.0
    client._first_start_s = 9.0
    assert client._hello_timeout() == HELLO_TIMEOUT_S
