"""The published reports are never stale: each was made with the spec as it is now (issue 19).

``reports/<implementation>/results.json`` (the matrix of ``reports/README.md``,
the badges, ``reports/index.html``) and every version of a published timeline
``reports/history/<family>/`` must carry the spec revision a run of today's
``spec/`` records (``results.current_spec_revision``). The timelines are held
to it too: their behaviour changes are printed in ``reports/README.md`` as
findings about today's cases, and a case whose expectation changed gives other
outcomes on old versions as well.

These tests fail after any change to ``spec/`` until the reports are
regenerated: ``connect-conformance report publish --run``, and for a timeline
the commands its ``history.json`` lists.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.core.text import plural
from conformance.report import results, stream
from tests.helpers import REPO

REPORTS = REPO / "reports"


@pytest.fixture(scope="module")
def current() -> str:
    return results.current_spec_revision(REPO / "spec")


def _made(path: Path) -> tuple[str, str]:
    """The spec revision and the day of the run in ``path`` (its header only: the cases come after it)."""
    run = stream.read(path, lambda index, case: None, header_only=True).header.get("run", {})
    return str(run.get("spec_revision")), str(run.get("started", "?"))[:10]


def _stale(paths: list[Path], current: str) -> list[str]:
    found = []
    for path in paths:
        revision, day = _made(path)
        if revision != current:
            found.append(f"{path.relative_to(REPO)} (made on {day} with spec revision {revision})")
    return found


def test_each_published_report_ran_the_current_spec(current: str) -> None:
    paths = sorted(REPORTS.glob("*/results.json"))
    assert paths, "reports/ should hold published results"
    stale = _stale(paths, current)
    assert not stale, (
        f"stale published reports (the spec's current revision is {current}): {'; '.join(stale)}. "
        "Regenerate them with `connect-conformance report publish --run`."
    )


def test_each_published_timeline_ran_the_current_spec(current: str) -> None:
    families = sorted(folder for folder in (REPORTS / "history").iterdir() if folder.is_dir())
    assert families, "reports/history/ should hold published timelines"
    problems = []
    for family in families:
        stale = _stale(sorted(family.glob("*/results.json")), current)
        if stale:
            manifest = json.loads((family / "history.json").read_text(encoding="utf-8"))
            commands = " then ".join(f"`{command}`" for command in manifest.get("commands", [])) or "its history"
            problems.append(
                f"{family.name}: {plural(len(stale), 'stale version')} ({'; '.join(stale)}); regenerate: {commands}"
            )
    assert not problems, f"stale timelines (the spec's current revision is {current}): " + " | ".join(problems)
