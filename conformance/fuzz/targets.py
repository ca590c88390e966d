"""What an example achieved in degree, for ``hypothesis.target``.

Some bugs show only past a threshold: a flush that drops queued writes needs
megabytes queued, a connection limit needs ops left waiting. A divergence is
yes or no, but how far a scenario got towards such a threshold is a number
hypothesis can climb: each example reports, from the against side's
observations (the behaviour that should happen), how many bytes the peer
received, how many bytes were still queued in ops left waiting (a write of a
sized payload), how many ops were left waiting, and how many sockets were open.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

from ..core import units
from ..engine.actions import ACTIONS, Kind
from .observations import Observation
from .scenarios import Scenario


def scores(scenario: Scenario, observations: Sequence[Observation]) -> dict[str, float]:
    received = 0
    queued = 0
    waiting = 0
    sockets = 0
    for observation in observations:
        seen = observation.seen
        if not isinstance(seen, dict) or observation.action not in ACTIONS:
            continue
        spec = ACTIONS[observation.action]
        if spec.kind is Kind.PEER and isinstance(seen.get("length"), int):
            received += seen["length"]
        if spec.kind is Kind.CLIENT and seen.get("status") == "pending":
            waiting += 1
            if 0 < observation.index <= len(scenario.steps):
                queued += _size(scenario.steps[observation.index - 1].get(observation.action))
        if spec.yields_socket and seen.get("value") == "socket":
            sockets += 1
    return {
        # log2: a megabyte more counts as much at 1 MiB as at 16 MiB, so small scenarios still climb
        "bytes the peer received (log2)": math.log2(1 + received),
        "bytes queued in ops left waiting (log2)": math.log2(1 + queued),
        "ops left waiting": float(waiting),
        "sockets": float(sockets),
    }


def _size(argument: Any) -> int:
    """The size of a sized payload (``{pattern, size}``), else 0."""
    if isinstance(argument, dict) and "size" in argument:
        with contextlib.suppress(ValueError, TypeError):
            return units.size(argument["size"])
    return 0
