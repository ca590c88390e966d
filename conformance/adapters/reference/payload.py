"""What a write carries to the connection: bytes, or a long repeating pattern.

Cases describe big payloads as ``{"$type": "pattern", "seed", "size"}`` so the
protocol stays small. Building 64 MiB in memory just to send it costs more
than sending it, so the reference keeps such a chunk as one block of whole
seed repetitions and writes that block again and again. The bytes on the wire
are exactly those of the expanded pattern (``jsvalues.expand_pattern``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...core.jsvalues import expand_pattern

#: A repeated pattern's block is about this big (a whole number of seeds).
BLOCK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class RepeatedBytes:
    """``size`` bytes of ``block`` repeated (cut at the end); ``block`` holds whole seeds."""

    block: bytes
    size: int
    view: str = "Uint8Array"

    def __len__(self) -> int:
        return self.size


Payload = bytes | RepeatedBytes


def repeated_pattern(seed: bytes, size: int, view: str = "Uint8Array") -> RepeatedBytes:
    if not seed:
        raise ValueError("a pattern needs a non-empty seed")
    repeats = max(1, BLOCK_SIZE // len(seed))
    return RepeatedBytes(expand_pattern(seed, repeats * len(seed)), size, view)


def pieces(payload: Payload, limit: int) -> Iterator[bytes | memoryview]:
    """The payload in order, in pieces of at most about ``limit`` bytes, without copying."""
    if isinstance(payload, RepeatedBytes):
        block = memoryview(payload.block)
        remaining = payload.size
        while remaining:
            piece = block[: min(len(block), remaining)]
            remaining -= len(piece)
            yield piece
        return
    if len(payload) <= limit:
        if payload:
            yield payload
        return
    view = memoryview(payload)
    for start in range(0, len(view), limit):
        yield view[start : start + limit]
