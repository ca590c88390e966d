"""Exit codes of every ``connect-conformance`` command (the README's table)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: A case did not do what was expected (or a comparison found a regression).
    UNEXPECTED = 1
    #: Usage or spec error: the message names the flag or the ``file:line``.
    USAGE = 2
    #: Infrastructure: an adapter, runtime or engine the run needs would not start (or kept breaking).
    INFRASTRUCTURE = 3
    #: A bug of connect-conformance itself: the traceback is printed, the results so far are still written.
    INTERNAL = 4
    #: Interrupted (Ctrl-C or SIGTERM): the cases that ran are still written.
    INTERRUPTED = 130
