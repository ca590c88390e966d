"""Ctrl-C and SIGTERM in the ``connect-conformance`` command: both mean "interrupted" (exit 130).

The command never dies of a signal and never prints a ``KeyboardInterrupt``
traceback, whenever the signal comes:

1. ``launch.main`` calls ``hold()`` before importing anything heavy: a signal
   during the imports (a few hundred ms) is only recorded.
2. The command calls ``deliver()`` where it can handle an interruption: from
   then on both signals raise ``KeyboardInterrupt`` (SIGINT through Python's
   own handler, which ``asyncio.run`` recognises and turns into a clean
   cancellation), and a signal recorded meanwhile raises at once. ``run``
   catches it and still writes its reports.
3. ``shielded()`` around the writing of the reports: a second Ctrl-C cannot
   cut them short; it is only recorded.

When ``run`` re-executes itself inside the network sandbox, ``block_for_exec()``
blocks both signals first: the mask and any pending signal survive ``exec``
(through ``unshare`` and the sandbox's inner stage), and the new process's
``hold()`` unblocks them with its recorder in place, so a signal in between is
recorded there, not fatal. A signal recorded before the re-execution stops it:
the command then ends as interrupted where it is.

Without ``launch`` (the command called in-process, from tests or ``report
publish``), ``deliver()`` leaves the process's handlers alone. A signal that
arrives while the Python interpreter itself starts, before ``launch`` runs, is
the interpreter's to handle.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []
_launched = False


def _record(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def hold() -> None:
    """From now on SIGINT and SIGTERM are only recorded, until ``deliver()``."""
    global _launched
    _launched = True
    for number in SIGNALS:
        signal.signal(number, _record)
    # Blocked by a process that re-executed into this one (block_for_exec): pending ones are recorded now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def pending() -> bool:
    """A signal was recorded while held (the command should end as interrupted, not start anew)."""
    return bool(_received)


def block_for_exec() -> None:
    """Before re-executing this command: keep SIGINT and SIGTERM pending until the new process holds them."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


def unblock() -> None:
    """Undo ``block_for_exec`` (the re-execution did not happen)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def deliver() -> None:
    """SIGINT and SIGTERM raise ``KeyboardInterrupt`` from now on; one recorded while held raises now."""
    if not _launched:
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    if _received:
        _received.clear()
        raise KeyboardInterrupt


@contextmanager
def shielded() -> Iterator[list[int]]:
    """Within the block signals are only recorded (the list it yields); the handlers are restored after."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received  # only the main thread may set handlers; signals go to it anyway
        return
    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}

    def record(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    for number in SIGNALS:
        previous[number] = signal.getsignal(number)
        signal.signal(number, record)
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
