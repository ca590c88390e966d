"""Chunk plans: how the peer cuts outgoing bytes into writes of random sizes."""

from collections.abc import Iterator
from dataclasses import dataclass
from random import Random


@dataclass(frozen=True)
class ChunkPlan:
    """Writes of random sizes between `min` and `max` bytes, the same sizes for the same seed.

    The peer drains after each chunk, so a plan with small chunks makes the
    client see many small reads.
    """

    min: int = 1
    max: int = 65536
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.max:
            raise ValueError(f"a chunk plan needs 1 <= min <= max, got min={self.min} max={self.max}")

    def sizes(self) -> Iterator[int]:
        """The endless sequence of chunk sizes of this plan."""
        rng = Random(self.seed)
        while True:
            yield rng.randint(self.min, self.max)

    def split(self, data: memoryview) -> Iterator[memoryview]:
        """Cuts `data` into chunks of this plan's sizes (the last one may be shorter)."""
        return cut(data, self.sizes())


def cut(data: memoryview, sizes: Iterator[int]) -> Iterator[memoryview]:
    """Cuts `data` into pieces whose sizes are drawn from `sizes`; shares the iterator's state."""
    offset = 0
    while offset < len(data):
        size = next(sizes)
        yield data[offset : offset + size]
        offset += size
