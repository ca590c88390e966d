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

from ...core.jsvalues import JSBytes, encode
from .errors import JSThrow
from .promises import Promise
from .readable import ReadableStreamReader


class BackgroundDigest:
    """SHA-256 of the data given to ``update``, in order, computed off the event loop."""

    def __init__(self) -> None:
        self._hasher = hashlib.sha256()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="reference-sha256")
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


class Collector:
    """``read_bytes`` without digest, driven by the reads' own settling instead of a task.

    Each chunk is taken in the same turn of the event loop that delivered it,
    so a small read_bytes costs what a JS ``reader.read()`` loop would.
    """

    def __init__(self, reader: ReadableStreamReader, n: int | None, result: Promise[Any]) -> None:
        self._reader, self._n, self._result = reader, n, result
        self._parts: list[bytes] = []
        self._length = self._chunks = 0

    def start(self) -> None:
        while True:
            if self._n is not None and self._length >= self._n:
                self._finish(done=False)
                return
            pending = self._reader.read(None if self._n is None else self._n - self._length)
            pending.handled = True  # we consume its outcome, settled now or later
            if not pending.settled:
                pending.then(self._on_settled)
                return
            if not self._take(pending):
                return

    def _on_settled(self, pending: Promise[Any]) -> None:
        if self._take(pending):
            self.start()

    def _take(self, pending: Promise[Any]) -> bool:
        """Take one settled read; False once the result is settled."""
        try:
            chunk = pending.result()
        except JSThrow as thrown:
            self._result.reject(thrown.value)
            return False
        if chunk.done:
            self._finish(done=True)
            return False
        self._chunks += 1
        self._length += len(chunk.value)
        self._parts.append(chunk.value)
        return True

    def _finish(self, done: bool) -> None:
        data = encode(JSBytes(b"".join(self._parts)))
        self._result.resolve({"length": self._length, "done": done, "chunks": self._chunks, "data": data})


async def read_bytes(reader: ReadableStreamReader, n: int | None, digest: bool, result: Promise[Any]) -> None:
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
