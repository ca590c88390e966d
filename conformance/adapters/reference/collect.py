"""``read_bytes``: read chunks until ``n`` bytes arrived or the stream is done.

Reads go through ``reader.read()`` like any JS adapter's, limited to what is
still wanted (a BYOB read of that size), so nothing past ``n`` is consumed.

With ``digest``, SHA-256 runs on a worker thread: hashlib releases the GIL for
large updates, so hashing one chunk overlaps with receiving the next. That
keeps a 64 MiB digest transfer close to raw loopback speed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
from typing import Any

from conformance.jsvalues import JSBytes, encode

from .errors import JSThrow
from .promises import Promise
from .readable import ReadableStreamReader


class BackgroundDigest:
    """SHA-256 of the data given to ``update``, in order, computed off the event loop."""

    def __init__(self) -> None:
        self._hasher = hashlib.sha256()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="reference-sha256"
        )
        self._last: concurrent.futures.Future[None] | None = None

    def update(self, data: bytes) -> None:
        # One worker thread runs the updates in submission order.
        self._last = self._executor.submit(self._hasher.update, data)

    async def hexdigest(self) -> str:
        if self._last is not None:
            await asyncio.wrap_future(self._last)
        return self._hasher.hexdigest()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def read_bytes(
    reader: ReadableStreamReader, n: int | None, digest: bool, result: Promise[Any]
) -> None:
    """Read until ``n`` bytes (None: until done), then settle ``result`` with the protocol value."""
    hasher = BackgroundDigest() if digest else None
    parts: list[bytes] = []
    length = chunks = 0
    done = False
    try:
        while n is None or length < n:
            chunk = await reader.read(None if n is None else n - length).join()
            if chunk.done:
                done = True
                break
            chunks += 1
            length += len(chunk.value)
            if hasher is not None:
                hasher.update(chunk.value)
            else:
                parts.append(chunk.value)
        value: dict[str, Any] = {"length": length, "done": done, "chunks": chunks}
        if hasher is not None:
            value["sha256"] = await hasher.hexdigest()
        else:
            value["data"] = encode(JSBytes(b"".join(parts)))
    except JSThrow as thrown:
        result.reject(thrown.value)
        return
    finally:
        if hasher is not None:
            hasher.close()
    result.resolve(value)
