"""How long each case took last time, per implementation (``$CONNECT_CONFORMANCE_CACHE/durations/``).

The runner starts the cases that took longest first, so that a slow case is not the last one
running while the other lanes sit idle; a case never timed yet is ordered by the waits it
plans (``for:`` durations, ``sleep`` steps). Only the order depends on this file: a missing
or broken one changes no result.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..adapters.npm_cache import cache_root
from ..core import units
from ..core.model import Case
from ..core.outcomes import CaseResult

FOLDER = "durations"


def _file(adapter: str) -> Path:
    # Versions and mutants of one implementation take about as long as each other.
    family = re.split(r"[@+]", adapter, maxsplit=1)[0] or "adapter"
    return cache_root() / FOLDER / (re.sub(r"[^A-Za-z0-9._-]", "_", family)[:80] + ".json")


def read_hint(path: Path) -> dict[str, Any]:
    """A hint file kept for the next run's order (this one's, ``mutants.json``): {} when missing or broken."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_hint(path: Path, data: Mapping[str, Any]) -> None:
    with contextlib.suppress(OSError):  # only the next run's order depends on it
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".part", delete=False) as file:
            json.dump(data, file, sort_keys=True)
        os.replace(file.name, path)


def load(adapter: str) -> dict[str, float]:
    """Seconds per case id from earlier runs (empty when none)."""
    data = read_hint(_file(adapter))
    return {key: float(value) for key, value in data.items() if isinstance(value, int | float)}


def save(adapter: str, results: Iterable[CaseResult], earlier: Mapping[str, float]) -> None:
    merged = dict(earlier)
    merged.update({result.id: round(result.duration_ms / 1000, 3) for result in results})
    write_hint(_file(adapter), merged)


def planned_wait(case: Case) -> float:
    """The seconds a case waits on purpose: ``for:`` durations and ``sleep`` steps."""

    def durations(value: Any) -> float:
        if isinstance(value, dict):
            found = sum(durations(inner) for inner in value.values())
            with contextlib.suppress(ValueError):
                found += units.seconds(value["for"]) if "for" in value else 0.0
            return found
        if isinstance(value, list):
            return sum(durations(inner) for inner in value)
        return 0.0

    total = 0.0
    for step in case.steps:
        total += durations(step.expect) + durations(step.arg)
        if step.action == "sleep":
            with contextlib.suppress(ValueError):
                total += units.seconds(step.arg)
    return total


def longest_first(cases: list[Case], known: Mapping[str, float]) -> list[int]:
    """The order to start ``cases`` in (their indexes): by last time taken, else by planned waits."""
    return sorted(range(len(cases)), key=lambda i: -known.get(cases[i].id, planned_wait(cases[i])))


def start_order(cases: list[Case], known: Mapping[str, float], stops_early: bool) -> list[int]:
    """A whole run starts its longest cases first; a run that stops at its first finding (a mutant's
    suite) keeps the spec's order, where a quick case that catches it comes early."""
    return list(range(len(cases))) if stops_early else longest_first(cases, known)
