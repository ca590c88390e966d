"""Cancelling a task the harness started never swallows the cancellation of the harness itself: a run
stopped (Ctrl-C, SIGTERM) while it waits for such a task stops, instead of going on as if nothing happened."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.workerd import WorkerdRuntime, WorkerdTransport
from conformance.core.tasks import cancel_and_wait


class SlowToCancel:
    """A coroutine that, once cancelled, takes its time to finish (as closing a connection does)."""

    def __init__(self) -> None:
        self.cancelling = asyncio.Event()
        self.release = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None

    async def __call__(self, *args: Any) -> None:
        self.task = asyncio.current_task()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelling.set()
            await self.release.wait()
            raise


async def _cancel_while_it_waits(caller: asyncio.Task[Any], slow: SlowToCancel) -> BaseException | None:
    """Cancel ``caller`` while it waits for ``slow`` to finish; what ``caller`` ended with."""
    await asyncio.wait_for(slow.cancelling.wait(), 10)
    caller.cancel()
    await asyncio.sleep(0.01)
    slow.release.set()
    try:
        await asyncio.wait_for(caller, 10)
    except asyncio.CancelledError as cancelled:
        return cancelled
    except Exception as error:
        return error
    return None


def test_cancel_and_wait_lets_the_callers_cancellation_through() -> None:
    async def main() -> BaseException | None:
        slow = SlowToCancel()
        task = asyncio.ensure_future(slow())
        await asyncio.sleep(0)
        caller = asyncio.ensure_future(cancel_and_wait(task))
        ended = await _cancel_while_it_waits(caller, slow)
        await asyncio.wait([task])
        assert task.cancelled()
        return ended

    assert isinstance(asyncio.run(main()), asyncio.CancelledError)


def test_cancel_and_wait_drops_what_the_task_ended_with() -> None:
    async def main() -> None:
        async def fails_when_cancelled() -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                raise OSError("broken pipe while closing") from None

        task = asyncio.ensure_future(fails_when_cancelled())
        await asyncio.sleep(0)
        await cancel_and_wait(task)  # neither raises nor leaves the error unretrieved
        assert isinstance(task.exception(), OSError)

    asyncio.run(main())


class _NeverExits:
    returncode = None
    pid = 0

    async def wait(self) -> int:
        await asyncio.Event().wait()
        return 0


def test_a_cancelled_wait_for_workerds_hello_is_cancelled_not_an_infrastructure_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hello probe gets no answer in time and is cancelled; the run is stopped while the probe ends.
    With ``suppress(BaseException)`` around the probe that stop was swallowed and the wait went on to
    "workerd did not answer hello" (exit 3) instead of ending the run."""

    async def main() -> BaseException | None:
        runtime = WorkerdRuntime(binary=Path("/nonexistent/workerd"), version="1.20261117.1", runtime="workerd")
        transport = WorkerdTransport(runtime, ca_pem="", startup_timeout=0.2)
        slow = SlowToCancel()
        monkeypatch.setattr(transport, "_probe", slow)
        transport._process = _NeverExits()  # type: ignore[assignment]
        caller = asyncio.ensure_future(transport._wait_ready())
        ended = await _cancel_while_it_waits(caller, slow)
        assert slow.task is not None
        await asyncio.wait([slow.task])
        return ended

    ended = asyncio.run(main())
    assert isinstance(ended, asyncio.CancelledError), repr(ended)
