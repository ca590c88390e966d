"""Splitting a selection over machines (cases/shards.py): deterministic, complete, balanced."""

from __future__ import annotations

import random

import pytest

from conformance.cases.shards import Shard, assign, pick
from conformance.errors import UsageError

IDS = [f"area{n % 7}.case-{n}[{n % 3}]" for n in range(100)]


def test_parse() -> None:
    assert Shard.parse("2/3") == Shard(2, 3)
    assert str(Shard.parse(" 1/1 ")) == "1/1"
    for bad, words in (
        ("3", "expected I/N"),
        ("a/b", "expected I/N"),
        ("0/3", "from 1 to 3"),
        ("4/3", "from 1 to 3"),
        ("1/0", "from 1 to 256"),
        ("1/999", "from 1 to 256"),
    ):
        with pytest.raises(UsageError, match=words):
            Shard.parse(bad)


@pytest.mark.parametrize("total", [1, 2, 3, 7])
def test_every_case_in_exactly_one_shard_and_the_sizes_differ_by_one_at_most_without_durations(total: int) -> None:
    shard_of = assign(IDS, total)
    parts = [
        [case for case, number in zip(IDS, shard_of, strict=True) if number == index] for index in range(1, total + 1)
    ]
    assert sorted(case for part in parts for case in part) == sorted(IDS)
    sizes = [len(part) for part in parts]
    assert max(sizes) - min(sizes) <= 1


def test_the_split_depends_on_the_cases_not_on_their_order_nor_on_the_process() -> None:
    shuffled = IDS[:]
    random.Random(7).shuffle(shuffled)
    durations = {case: float(len(case) * 13 % 97) for case in IDS[::2]}
    first = dict(zip(IDS, assign(IDS, 3, durations), strict=True))
    again = dict(zip(shuffled, assign(shuffled, 3, durations), strict=True))
    assert first == again
    # A fixed expectation: the split is a function of the ids alone (SHA-256, not Python's salted hash).
    assert assign(["a", "b", "c", "d"], 2) == [2, 1, 2, 1]


def test_recorded_durations_balance_the_shards() -> None:
    # One long case and many short ones: the long one gets a shard nearly to itself.
    durations = {IDS[0]: 5000.0, **{case: 100.0 for case in IDS[1:51]}}
    shard_of = assign(IDS, 2, durations)
    mean = sum(durations.values()) / len(durations)
    loads = [0.0, 0.0]
    for case, number in zip(IDS, shard_of, strict=True):
        loads[number - 1] += durations.get(case, mean)
    heaviest = max(durations.values())
    assert abs(loads[0] - loads[1]) <= heaviest, loads
    long_shard = shard_of[0]
    assert sum(number == long_shard for number in shard_of) < sum(number != long_shard for number in shard_of)


def test_pick_keeps_the_order_and_records_each_position() -> None:
    items = [f"item {case}" for case in IDS]
    chosen, split = pick(items, IDS, Shard(2, 3))
    assert split.shard == Shard(2, 3)
    assert split.selected == len(IDS)
    assert list(split.positions) == sorted(split.positions)
    assert chosen == [items[position] for position in split.positions]
    together = sorted(p for index in (1, 2, 3) for p in pick(items, IDS, Shard(index, 3))[1].positions)
    assert together == list(range(len(IDS)))


def test_more_shards_than_cases_is_refused() -> None:
    with pytest.raises(UsageError, match=r"--shard 3/3: only 2 cases selected; split them into 2 shards at most"):
        pick(["a", "b"], ["a", "b"], Shard(3, 3))
