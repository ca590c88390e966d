"""Splitting the selected cases over several machines: ``run --shard I/N``.

Every job of a CI matrix selects the same cases (the same spec, ``-k``, ``--tag``
and paths), computes the same split and runs its own part: nothing is
coordinated but the inputs. The split is deterministic: cases are weighed by
their recorded duration (a previous run's results.json) where one is known, by
the mean of the known durations otherwise (1 when none is known), then dealt
heaviest first to the least loaded shard, ties broken by a stable hash of the
case id (SHA-256, never Python's salted ``hash``) and then by the lowest shard.
With no durations at all that is a round-robin over the cases in hash order:
shard sizes differ by one at most.

``report merge`` puts the parts back together: each shard records the position
of each of its cases in the whole selection (``Split.positions``), so the merged
run has the cases in the order one unsharded run would have.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..core.text import plural
from ..errors import UsageError

_SHARD = re.compile(r"(\d+)/(\d+)")
#: More shards than this is surely a typo (a CI matrix of hundreds of jobs for a few hundred cases).
MAX_SHARDS = 256


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (from 1) of ``total``."""

    index: int
    total: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``I/N`` as ``--shard`` takes it; ``UsageError`` saying what is wrong."""
        match = _SHARD.fullmatch(text.strip())
        if not match:
            raise UsageError(f"--shard {text}: expected I/N, e.g. 1/3 (the first of three shards)")
        index, total = int(match.group(1)), int(match.group(2))
        if not 1 <= total <= MAX_SHARDS:
            raise UsageError(f"--shard {text}: expected from 1 to {MAX_SHARDS} shards, got {total}")
        if not 1 <= index <= total:
            raise UsageError(f"--shard {text}: the shard must be from 1 to {total}, got {index}")
        return cls(index, total)

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


def _tiebreak(case_id: str) -> str:
    return hashlib.sha256(case_id.encode("utf-8", "surrogatepass")).hexdigest()


def assign(ids: Sequence[str], total: int, durations: Mapping[str, float] | None = None) -> list[int]:
    """The shard (from 1) of each of ``ids``, in their order: the same inputs give the same split anywhere."""
    known = [durations[case_id] for case_id in ids if durations and case_id in durations]
    default = sum(known) / len(known) if known else 1.0
    weights = [max(0.0, (durations or {}).get(case_id, default)) for case_id in ids]
    order = sorted(range(len(ids)), key=lambda i: (-weights[i], _tiebreak(ids[i]), ids[i]))
    loads = [0.0] * total
    shard_of = [0] * len(ids)
    for position in order:
        lightest = min(range(total), key=lambda shard: (loads[shard], shard))
        loads[lightest] += weights[position]
        shard_of[position] = lightest + 1
    return shard_of


_Item = TypeVar("_Item")


@dataclass(frozen=True)
class Split:
    """One shard's part of a selection: what ran, and where each of its cases stands in the whole."""

    shard: Shard
    #: How many cases the whole selection had (every shard's together).
    selected: int
    #: The position of each case of this shard in the whole selection, in order.
    positions: tuple[int, ...]


def pick(
    items: Sequence[_Item], ids: Sequence[str], shard: Shard, durations: Mapping[str, float] | None = None
) -> tuple[list[_Item], Split]:
    """The items of ``shard`` (``ids[i]`` names ``items[i]``), in their order, and the split's record."""
    if shard.total > len(ids):
        raise UsageError(
            f"--shard {shard}: only {plural(len(ids), 'case')} selected; split them into {len(ids)} shards at most"
        )
    shard_of = assign(ids, shard.total, durations)
    positions = tuple(i for i, number in enumerate(shard_of) if number == shard.index)
    return [items[i] for i in positions], Split(shard, len(ids), positions)
