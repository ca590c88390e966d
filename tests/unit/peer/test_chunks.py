"""ChunkPlan: sizes within bounds, the same for the same seed, covering the data exactly."""

from itertools import islice

import pytest
from conformance_peer import ChunkPlan


def test_sizes_stay_within_bounds() -> None:
    sizes = list(islice(ChunkPlan(3, 9, seed=1).sizes(), 1000))
    assert min(sizes) == 3
    assert max(sizes) == 9


def test_same_seed_gives_same_sizes_and_another_seed_others() -> None:
    def first(plan: ChunkPlan) -> list[int]:
        return list(islice(plan.sizes(), 50))

    assert first(ChunkPlan(1, 65536, seed=7)) == first(ChunkPlan(1, 65536, seed=7))
    assert first(ChunkPlan(1, 65536, seed=7)) != first(ChunkPlan(1, 65536, seed=8))


def test_split_covers_the_data_in_order() -> None:
    data = bytes(range(256)) * 40
    pieces = list(ChunkPlan(1, 100, seed=3).split(memoryview(data)))
    assert b"".join(pieces) == data
    assert len(pieces) > len(data) // 100
    assert all(1 <= len(piece) <= 100 for piece in pieces)


def test_split_of_nothing_is_no_chunk() -> None:
    assert list(ChunkPlan().split(memoryview(b""))) == []


@pytest.mark.parametrize(("low", "high"), [(0, 10), (5, 4)])
def test_plan_rejects_bad_bounds(low: int, high: int) -> None:
    with pytest.raises(ValueError, match="min <= max"):
        ChunkPlan(low, high)
