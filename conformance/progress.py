"""Progress of a run on stderr: one line per case that did not pass, a running count."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from .outcomes import CaseResult, Outcome


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.counts: dict[Outcome, int] = dict.fromkeys(Outcome, 0)

    def _status(self) -> str:
        shown = ", ".join(f"{self.counts[o]} {o.value}" for o in Outcome if self.counts[o])
        return f"[{self.done}/{self.total}] {shown} ({time.monotonic() - self.started:.1f} s)"

    def __call__(self, result: CaseResult) -> None:
        self.done += 1
        self.counts[result.outcome] += 1
        interesting = result.outcome is not Outcome.PASS
        if self.tty:
            self.stream.write("\r\033[K")
        if interesting or self.verbose or not self.tty:
            first = result.message.splitlines()[0] if result.message else ""
            line = f"{result.outcome.value.upper():7} {result.id} ({result.duration_ms:.0f} ms)"
            if interesting and first:
                line += f"\n        {first}"
            self.stream.write(line + "\n")
        if self.tty:
            self.stream.write(self._status())
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(self._status() + "\n")
        self.stream.flush()
