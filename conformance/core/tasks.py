"""Cancelling a task without swallowing the canceller's own cancellation.

``task.cancel()`` then ``with suppress(CancelledError): await task`` (or
``suppress(BaseException)``) also swallows a ``CancelledError`` meant for the
caller: a run being stopped (Ctrl-C, SIGTERM) while it waits there goes on as if
nothing happened. ``cancel_and_wait`` waits with ``asyncio.wait``, which never
raises the task's own outcome but lets the caller's cancellation through.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has finished; what it ended with is dropped, but a cancellation of
    the caller while it waits propagates (the task then finishes on its own)."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: an error while it was being cancelled is not the caller's to handle
