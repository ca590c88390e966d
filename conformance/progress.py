"""Progress of a run on stderr: a line per case that did not pass (every case with ``-v``), a running count.

On a terminal the count is one line rewritten in place; in a pipe or a CI log
(no terminal) it is printed every ``PIPE_STATUS_EVERY_S`` seconds instead,
so a log shows that the run is alive without a line per passing case. With
an expectations file, a non-pass outcome that the file lists prints as
``XFAIL`` (expected) and is counted as ``xfail``. Adapter text is printed
through ``display_text``: no control character reaches the terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from .outcomes import CaseResult, Outcome
from .report.output import display_text

PIPE_STATUS_EVERY_S = 30.0
XFAIL = "xfail"


class Progress:
    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        verbose: bool = False,
        expected: Callable[[CaseResult], bool] | None = None,
    ) -> None:
        """``expected(result)`` says whether a non-pass outcome is listed in the expectations file."""
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.expected = expected
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.last_status = self.started
        self.counts: dict[str, int] = {}

    def _status(self) -> str:
        columns = [o.value for o in Outcome] + [XFAIL]
        shown = ", ".join(f"{self.counts[c]} {c}" for c in columns if self.counts.get(c))
        return f"[{self.done}/{self.total}] {shown} ({time.monotonic() - self.started:.1f} s)"

    def label(self, result: CaseResult) -> str:
        if result.outcome is not Outcome.PASS and self.expected is not None and self.expected(result):
            return XFAIL
        return result.outcome.value

    def __call__(self, result: CaseResult) -> None:
        self.done += 1
        label = self.label(result)
        self.counts[label] = self.counts.get(label, 0) + 1
        interesting = result.outcome is not Outcome.PASS
        if self.tty:
            self.stream.write("\r\033[K")
        if interesting or self.verbose:
            text = display_text(result.message)
            first = text.splitlines()[0] if text else ""
            line = f"{label.upper():7} {display_text(result.id)} ({result.duration_ms:.0f} ms)"
            if interesting and first:
                line += f"\n        {first}"
            self.stream.write(line + "\n")
        if self.tty:
            self.stream.write(self._status())
        elif time.monotonic() - self.last_status >= PIPE_STATUS_EVERY_S:
            self.last_status = time.monotonic()
            self.stream.write(self._status() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        # A run that ended before any case (an adapter that would not start) says only why.
        if self.done:
            self.stream.write(self._status() + "\n")
        self.stream.flush()
