"""The drivers area at a glance: one row per driver (its packages, its server), one column per
implementation, each cell the share of the driver's cases that pass. ``matrix.py`` writes it into
``reports/README.md`` and ``html.py`` gives it to the page; both read it from results.json only.

A case belongs to the driver its id names (``drivers.<driver>.<case>``). As in the rest of the
matrix only ``pass`` counts as passed, and a case not run here (no server, drivers not installed)
is left out of the share and counted apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..drivers.modules import SERVER_KIND
from .output import markdown_code, markdown_text

AREA = "drivers"


@dataclass(frozen=True)
class Column:
    """What one implementation's run says about the drivers."""

    name: str
    outcomes: Mapping[str, str]
    """Case id -> outcome, for every case of the run."""
    not_run_here: frozenset[str] = frozenset()
    expected: frozenset[str] = frozenset()
    """Non-pass outcomes its expectations file records."""
    header: Mapping[str, Any] = field(default_factory=dict)
    """The run's header (``adapter.drivers``: driver versions; ``servers``: server versions)."""


@dataclass(frozen=True)
class Cell:
    passed: int = 0
    scored: int = 0
    not_run_here: int = 0
    unexpected: int = 0
    """Non-pass outcomes the expectations file does not record."""
    skipped: int = 0
    """Skips for a capability the implementation lacks (a gap: scored, never passed)."""

    @property
    def symbol(self) -> str:
        if not self.scored:
            return "⬜" if self.not_run_here else ""
        if self.passed == self.scored:
            return "✅"
        if self.skipped == self.scored:
            return "➖"
        return "❌" if self.unexpected else "❌*"

    def text(self) -> str:
        if not self.scored and not self.not_run_here:
            return "–"
        shown = f"{self.symbol} {self.passed}/{self.scored}" if self.scored else self.symbol
        return shown + (f" ({self.not_run_here} not run here)" if self.not_run_here else "")

    def as_dict(self) -> dict[str, int]:
        return {
            "passed": self.passed,
            "scored": self.scored,
            "not_run_here": self.not_run_here,
            "unexpected": self.unexpected,
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class Row:
    driver: str
    packages: str
    server: str
    cells: tuple[Cell, ...]


def is_driver_case(case_id: str) -> bool:
    """Whether the case is of the drivers area (scored per driver, not in the levels' rates)."""
    return case_id.split(".", 1)[0] == AREA


def driver_of(case_id: str) -> str | None:
    parts = case_id.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == AREA else None


def _first(columns: Sequence[Column], section: str, key: str) -> str:
    """The first run header that names ``key`` in ``section`` (``adapter.drivers`` or ``servers``)."""
    for column in columns:
        found = column.header.get(section) if section == "servers" else column.header.get("adapter", {})
        found = found.get("drivers") if section == "drivers" and isinstance(found, dict) else found
        if isinstance(found, dict) and isinstance(found.get(key), str):
            return str(found[key])
    return ""


def rows(columns: Sequence[Column]) -> list[Row]:
    """One row per driver that any column ran, sorted by name; empty when no run has the drivers area."""
    drivers = sorted({d for column in columns for case in column.outcomes if (d := driver_of(case))})
    table = []
    for driver in drivers:
        cells = []
        for column in columns:
            cases = [case for case in column.outcomes if driver_of(case) == driver]
            scored = [case for case in cases if case not in column.not_run_here]
            failed = [case for case in scored if column.outcomes[case] != "pass"]
            cells.append(
                Cell(
                    passed=len(scored) - len(failed),
                    scored=len(scored),
                    not_run_here=len(cases) - len(scored),
                    unexpected=sum(case not in column.expected for case in failed),
                    skipped=sum(column.outcomes[case] == "skip" for case in failed),
                )
            )
        kind = SERVER_KIND.get(driver, "")
        server = _first(columns, "servers", kind) or kind
        table.append(Row(driver, _first(columns, "drivers", driver), server, tuple(cells)))
    return table


def markdown(columns: Sequence[Column]) -> list[str]:
    """The section of ``reports/README.md``, or no lines when no run has the drivers area."""
    table = rows(columns)
    if not table:
        return []
    names = [markdown_text(column.name) for column in columns]
    lines = [
        "## Drivers by runtime",
        "",
        "Real client libraries over each runtime's `connect()` (`spec/drivers/`), against servers the harness "
        "starts: per driver, the share of its cases that pass (✅ all, ❌ not all, `*` every non-pass recorded "
        "in the expectations file with its reason, ➖ the implementation runs no drivers, ⬜ not run here). "
        "The cases are in the `drivers` table below.",
        "",
        "| driver | packages | server | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for row in table:
        cells = [markdown_text(cell.text()) for cell in row.cells]
        packages = markdown_code(row.packages) if row.packages else "?"
        lines.append(
            f"| {markdown_text(row.driver)} | {packages} | {markdown_text(row.server)} | " + " | ".join(cells) + " |"
        )
    return [*lines, ""]


def html_data(columns: Sequence[Column]) -> list[dict[str, Any]]:
    """The same rows for the HTML page (``report.js`` draws them)."""
    return [
        {
            "driver": row.driver,
            "packages": row.packages,
            "server": row.server,
            "cells": [{**cell.as_dict(), "text": cell.text()} for cell in row.cells],
        }
        for row in rows(columns)
    ]
