"""The stdio transport (docs/adapter-protocol.md, section 1), the Python twin of ``js/stdio.js``:
requests on stdin and responses on stdout, one JSON object per line, handled one at a time in order.

    run_stdio(create_adapter(name=..., version=..., runtime=..., connect=connect))

Reads lines until stdin ends or ``shutdown`` has been answered. A line that is not JSON is
answered ``protocol_error`` with seq 0, and reading goes on; blank lines are skipped; a final
line without its newline is not a request. While it serves, ``sys.stdout`` is ``sys.stderr``:
whatever the implementation prints goes to stderr, since stdout carries responses only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import sys
import threading
from collections.abc import AsyncIterator, Callable
from typing import IO, Any

from .errors import describe
from .interpreter import Adapter, seq_of

#: Above the longest request: a 64 MiB write arrives base64-encoded on one line.
LINE_LIMIT = 256 * 1024 * 1024


def parse_request(line: bytes) -> tuple[Any, dict[str, Any] | None]:
    """``(request, None)``, or ``(None, response)`` for a line that is not JSON."""
    try:
        return json.loads(line), None
    except ValueError as error:
        return None, {"seq": 0, "status": "protocol_error", "reason": f"the request is not JSON: {error}"}


def response_text(response: dict[str, Any]) -> str:
    """A response as one line of JSON; one JSON cannot carry becomes a ``protocol_error`` saying why."""
    try:
        return json.dumps(response, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        problem = {
            "seq": seq_of(response),
            "status": "protocol_error",
            "reason": f"cannot serialise: {describe(error)}",
        }
        return json.dumps(problem, separators=(",", ":"))


async def read_lines(stream: IO[bytes]) -> AsyncIterator[bytes]:
    """The lines of ``stream`` with their newline. A pipe or socket (what the harness gives) is read
    by the event loop; anything else (a terminal, a file) by a thread, so it is never made
    non-blocking under the feet of the shell that shares it."""
    loop = asyncio.get_running_loop()
    if _is_pipe(stream):
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stream)
        while line := await reader.readline():
            yield line
        return
    lines: asyncio.Queue[bytes] = asyncio.Queue()

    def pump() -> None:
        for line in iter(stream.readline, b""):
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, b"")

    # A daemon thread: one blocked in readline must not keep the process alive after shutdown.
    threading.Thread(target=pump, name="adapter-kit-stdin", daemon=True).start()
    while line := await lines.get():
        yield line


def _is_pipe(stream: IO[bytes]) -> bool:
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


async def serve_stdio(
    adapter: Adapter, *, stdin: IO[bytes] | None = None, write: Callable[[bytes], None] | None = None
) -> None:
    """Serves ``adapter`` until the input ends or it has shut down; ``stdin``/``write`` default to
    the process's (``write`` gets one line, its newline included)."""
    if write is None:
        out = sys.stdout.buffer

        def write(data: bytes) -> None:
            out.write(data)
            out.flush()  # a piped stdout is block-buffered

    source = sys.stdin.buffer if stdin is None else stdin
    with contextlib.redirect_stdout(sys.stderr):
        async for line in read_lines(source):
            if not line.endswith(b"\n") or not line.strip():
                continue
            request, refusal = parse_request(line)
            response = refusal or await adapter.handle(request)
            write(response_text(response).encode("utf-8") + b"\n")
            if adapter.is_shut_down:
                return


def run_stdio(adapter: Adapter) -> None:
    """``serve_stdio`` on the process's stdin and stdout, in a fresh event loop."""
    asyncio.run(serve_stdio(adapter))
