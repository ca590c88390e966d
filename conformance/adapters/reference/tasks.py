"""The background tasks of one adapter session, so that ``end`` can stop all of them.

Every coroutine the reference runs in the background (connecting, pumping
writes, closing, multi-chunk reads) is spawned here. Nothing escapes: after
``cancel_all`` no task of the session is left on the event loop, and a task
that crashed is logged instead of vanishing as "exception never retrieved".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskSet:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Exceptions that escaped a task: bugs in the reference, kept for tests to assert on.
        self.crashes: list[BaseException] = []

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.crashes.append(error)
            log.error("reference adapter task crashed", exc_info=error)

    async def cancel_all(self) -> None:
        # Cancelled tasks may spawn (e.g. cleanup); repeat until none is left.
        while self._tasks:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
