"""The ``connect-conformance`` entry point: what concerns the process as a whole.

- Signals are taken over before the heavy imports (jsonschema, yaml, the
  adapters take a noticeable fraction of a second): a Ctrl-C or SIGTERM then
  still ends in exit 130 and a written report (see ``interrupts``).
- Printing never fails on a string from an adapter: text the terminal's
  encoding cannot carry (a lone surrogate) is written as a backslash escape.
- A closed output pipe (``connect-conformance list | head -1``) ends the
  command quietly with 141, the status of a Unix tool stopped by SIGPIPE.
  (SIGPIPE itself stays ignored, as Python sets it: a write to a dead
  adapter's pipe must be an error the harness handles, not its death.)
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Sequence

from . import interrupts

EXIT_BROKEN_PIPE = 141


def _tolerant_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _stdout_is_closed() -> bool:
    """Whether nobody reads our stdout any more (the write end of a pipe reports an error then)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    interrupts.hold()
    _tolerant_output()
    from .cli import main as command

    try:
        return command(argv)
    except BrokenPipeError:
        if not _stdout_is_closed():
            raise
        # Python flushes stdout once more at exit; point it at /dev/null so that flush is silent too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
