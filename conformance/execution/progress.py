"""Progress of a run on stderr: a line per case worth a look, a running count, and what was left out.

What gets a line of its own (``Verbosity.NORMAL``): an outcome nobody expected
(a failure without an expectations entry, an unexpected pass). Outcomes that
are as expected are counted, not listed: non-passes the expectations file lists
(``XFAIL``), and skips, which are grouped by their reason at the end ("13
cases skipped: the adapter lacks capability: tls"); cases not run here (no
sandbox) are counted, and the closing table says why. ``-v`` lists every case,
``-q`` lists nothing while the run goes on (the closing summary says the rest).

On a terminal the count is one line rewritten in place; in a pipe or a CI log
(no terminal) it is printed every ``PIPE_STATUS_EVERY_S`` seconds instead,
so a log shows that the run is alive without a line per passing case. Adapter
text is printed through ``display_text``: no control character reaches the
terminal.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from enum import IntEnum
from typing import TextIO

from ..core.outcomes import CaseResult, Outcome
from ..core.text import plural
from ..report.output import display_text

PIPE_STATUS_EVERY_S = 30.0
XFAIL = "xfail"
#: Skipped for want of what this run lacks (the sandbox): the closing table says why, once.
NOT_RUN_HERE = "not run here"


class Verbosity(IntEnum):
    QUIET = -1
    NORMAL = 0
    VERBOSE = 1


class Label:
    """How a case is shown: its outcome, or xfail; ``ungated`` marks an info case's unexpected outcome."""

    def __init__(self, shown: str, listed: bool, note: str = "") -> None:
        self.shown = shown
        #: Worth a line of its own at normal verbosity.
        self.listed = listed
        self.note = note


class Progress:
    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        verbosity: Verbosity = Verbosity.NORMAL,
        label: Callable[[CaseResult], Label] | None = None,
    ) -> None:
        """``label(result)`` says how the expectations file sees a result (default: no expectations file)."""
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.verbosity = verbosity
        self.label = label or plain_label
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.last_status = self.started
        self.counts: dict[str, int] = {}
        #: Outcomes counted but not listed, by kind and reason, for the closing lines.
        self.unlisted: Counter[tuple[str, str]] = Counter()

    def _status(self) -> str:
        columns = [o.value for o in Outcome] + [XFAIL, NOT_RUN_HERE]
        shown = ", ".join(f"{self.counts[c]} {c}" for c in columns if self.counts.get(c))
        return f"[{self.done}/{self.total}] {shown} ({time.monotonic() - self.started:.1f} s)"

    def __call__(self, result: CaseResult) -> None:
        self.done += 1
        label = self.label(result)
        self.counts[label.shown] = self.counts.get(label.shown, 0) + 1
        listed = self.verbosity is Verbosity.VERBOSE or (self.verbosity is Verbosity.NORMAL and label.listed)
        if not listed and label.shown not in (Outcome.PASS.value, NOT_RUN_HERE):
            self.unlisted[(label.shown, _reason(result) if label.shown == Outcome.SKIP.value else "")] += 1
        if self.verbosity is Verbosity.QUIET:
            return
        if self.tty:
            self.stream.write("\r\033[K")
        if listed:
            text = display_text(result.message)
            first = text.splitlines()[0] if text else ""
            line = f"{label.shown.upper():7} {display_text(result.id)} ({result.duration_ms:.0f} ms){label.note}"
            if result.outcome is not Outcome.PASS and result.source:
                # What the case checks is in its sources (spec/behaviours.md): the message alone may not say why.
                line += f"  cites {display_text(', '.join(result.source))}"
            if result.outcome is not Outcome.PASS and first:
                line += f"\n        {first}"
            self.stream.write(line + "\n")
        if self.tty:
            self.stream.write(self._status())
        elif self.done < self.total and time.monotonic() - self.last_status >= PIPE_STATUS_EVERY_S:
            # (the last case's status is the closing line ``finish`` writes)
            self.last_status = time.monotonic()
            self.stream.write(self._status() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.verbosity is Verbosity.QUIET:
            return
        if self.tty:
            self.stream.write("\r\033[K")
        # A run that ended before any case (an adapter that would not start) says only why.
        if self.done:
            self.stream.write(self._status() + "\n")
            for line in self.unlisted_lines():
                self.stream.write(line + "\n")
        self.stream.flush()

    def unlisted_lines(self) -> list[str]:
        """One line per kind of outcome that was counted but not listed: skips by reason, expected non-passes."""
        lines = []
        for (shown, reason), count in sorted(self.unlisted.items()):
            if shown == XFAIL:
                lines.append(
                    f"{plural(count, 'expected non-pass outcome')} (XFAIL, in the expectations file; -v lists them)"
                )
            elif shown == Outcome.SKIP.value:
                lines.append(f"{plural(count, 'case')} skipped: {reason} (-v lists them)")
            else:
                lines.append(f"{plural(count, 'case')} {shown} (-v lists them)")
        return lines


def _reason(result: CaseResult) -> str:
    return display_text(result.message.splitlines()[0] if result.message else "")


def plain_label(result: CaseResult) -> Label:
    """Without an expectations file: every non-pass is listed but skips (a declared gap or not run here)."""
    if result.not_run_here:
        return Label(NOT_RUN_HERE, listed=False)
    if result.outcome is Outcome.SKIP:
        return Label(Outcome.SKIP.value, listed=False)
    return Label(result.outcome.value, listed=result.outcome is not Outcome.PASS)
