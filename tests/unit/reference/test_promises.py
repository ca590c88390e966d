"""The Promise model: settle-once, and unhandled-rejection tracking (B22)."""

from __future__ import annotations

import asyncio

import pytest

from conformance.adapters.reference.errors import JSError, JSThrow
from conformance.adapters.reference.promises import Promise, PromiseState, RejectionTracker

from .support import run


def test_settles_once() -> None:
    async def scenario() -> None:
        tracker = RejectionTracker()
        promise: Promise[int] = Promise(tracker, handled=True)
        promise.resolve(1)
        promise.resolve(2)
        promise.reject(JSError("Error", "late"))
        assert promise.state is PromiseState.FULFILLED
        assert promise.result() == 1

    run(scenario())


def test_rejection_without_handler_is_reported_after_the_turn() -> None:
    async def scenario() -> list[object]:
        tracker = RejectionTracker()
        error = JSError("Error", "boom")
        Promise.rejected(tracker, error)
        assert tracker.unhandled == []  # not yet: a handler may still come this turn
        await asyncio.sleep(0)
        return tracker.unhandled

    unhandled = run(scenario())
    assert len(unhandled) == 1
    assert isinstance(unhandled[0], JSError)
    assert unhandled[0].message == "boom"


def test_a_handler_attached_in_the_same_turn_counts() -> None:
    async def scenario() -> list[object]:
        tracker = RejectionTracker()
        promise: Promise[None] = Promise.rejected(tracker, "reason")
        promise.mark_handled()
        await asyncio.sleep(0)
        return tracker.unhandled

    assert run(scenario()) == []


def test_a_handler_attached_later_does_not_undo_the_report() -> None:
    async def scenario() -> list[object]:
        tracker = RejectionTracker()
        promise: Promise[None] = Promise.rejected(tracker, "reason")
        await asyncio.sleep(0)
        with pytest.raises(JSThrow):
            await promise.join()
        return tracker.unhandled

    assert run(scenario()) == ["reason"]


def test_promises_created_handled_never_report() -> None:
    async def scenario() -> list[object]:
        tracker = RejectionTracker()
        promise: Promise[None] = Promise(tracker, handled=True)
        promise.reject(JSError("Error", "x"))
        await asyncio.sleep(0)
        return tracker.unhandled

    assert run(scenario()) == []


def test_wait_settled_is_not_a_handler() -> None:
    async def scenario() -> list[object]:
        tracker = RejectionTracker()
        promise: Promise[None] = Promise(tracker)
        waiting = asyncio.ensure_future(promise.wait_settled())
        await asyncio.sleep(0)
        promise.reject("x")
        await waiting
        await asyncio.sleep(0)
        return tracker.unhandled

    assert run(scenario()) == ["x"]


def test_flush_reports_due_checks_at_once() -> None:
    async def scenario() -> list[object]:
        tracker = RejectionTracker()
        Promise.rejected(tracker, 1)
        tracker.flush()
        reported = list(tracker.unhandled)
        await asyncio.sleep(0)  # the cancelled check must not report twice
        assert tracker.unhandled == reported
        return reported

    assert run(scenario()) == [1]


def test_join_returns_or_raises_the_reason() -> None:
    async def scenario() -> None:
        tracker = RejectionTracker()
        ok: Promise[str] = Promise(tracker)
        asyncio.get_running_loop().call_soon(ok.resolve, "v")
        assert await ok.join() == "v"
        bad: Promise[str] = Promise(tracker)
        asyncio.get_running_loop().call_soon(bad.reject, "why")
        with pytest.raises(JSThrow) as raised:
            await bad.join()
        assert raised.value.value == "why"
        await asyncio.sleep(0)
        assert tracker.unhandled == []

    run(scenario())


def test_settle_within_times_out_and_leaves_no_waiter() -> None:
    async def scenario() -> None:
        tracker = RejectionTracker()
        promise: Promise[int] = Promise(tracker)
        assert await promise.settle_within(0) is False
        assert await promise.settle_within(0.01) is False
        assert promise._waiters == []
        promise.resolve(3)
        assert await promise.settle_within(0) is True

    run(scenario())
