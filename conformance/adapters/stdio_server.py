"""Serve an in-process adapter object over stdio (newline-delimited JSON).

``python -m conformance.adapters.reference_stdio`` uses it to put the
reference implementation behind a real process boundary; the harness's own
tests use it for fakes that misbehave on purpose.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]

MAX_LINE = 256 * 1024 * 1024


async def _stdio() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(sys.stdout.fileno(), "wb", 0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    return reader, writer


async def serve(handle: Handler) -> None:
    """Answer each request line with ``handle``'s response; a ``None`` response sends nothing."""
    reader, writer = await _stdio()
    while True:
        line = await reader.readline()
        if not line:
            return
        try:
            request = json.loads(line)
        except ValueError:
            writer.write(json.dumps({"seq": 0, "status": "protocol_error", "reason": "not JSON"}).encode() + b"\n")
            continue
        response = await handle(request)
        if response is not None:
            writer.write(json.dumps(response, separators=(",", ":")).encode() + b"\n")
            await writer.drain()
        if request.get("op") == "shutdown":
            return


def run(handle: Handler) -> None:
    asyncio.run(serve(handle))
