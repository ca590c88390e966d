"""A short, seeded fuzz as users run it (issue 14, "what it must show" 3): a mutant is told apart
from the reference and the case written for it replays as a spec case; the reference against
itself shows no divergence. Both searches together stay well under a minute here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.cases.loader import load_file
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

#: A mutant of what opened reports, and a seed whose first examples reach it (the budget is the one
#: users are told to give, since hypothesis draws differently for another; --stop-after ends it early).
#: ``fuzz --find-mutants`` with seed 0 found it at its first example (reports/fuzz/mutants/README.md).
MUTANT = "remote-address-as-ip"
SEED = "0"


def test_a_seeded_fuzz_finds_a_mutant_and_writes_a_case_that_replays(tmp_path: Path) -> None:
    out = tmp_path / "found"
    done = run_cli(
        "fuzz",
        "--adapter",
        f"reference+{MUTANT}",
        "--against",
        "reference",
        "--seed",
        SEED,
        "--examples",
        "300",
        "--stop-after",
        "1",
        "--out",
        str(out),
        report_dir=tmp_path,
        timeout=240,  # 16 s on a quiet machine
    )
    assert done.code == 1, done.stdout + done.stderr  # divergences found
    written = sorted(out.glob("*.yaml"))
    assert written, done.stdout + done.stderr
    case_file = written[0]
    text = case_file.read_text()
    assert re.search(rf"# +reference\+{MUTANT}: ", text), "our side's observation in a comment"
    (case,), errors = load_file(case_file)
    assert errors == []
    assert list(case.source) == ["fuzz"]
    assert len(case.steps) <= 8
    # Replayed by `run`: it fails on the mutant and passes on the reference.
    on_mutant = run_cli("run", "--adapter", f"reference+{MUTANT}", str(case_file), report_dir=tmp_path / "m")
    on_reference = run_cli("run", "--adapter", "reference", str(case_file), report_dir=tmp_path / "r")
    assert on_mutant.outcomes() == {case.id: "fail"}, on_mutant.stdout
    assert on_reference.outcomes() == {case.id: "pass"}, on_reference.stdout
    assert on_reference.code == 0


def test_the_reference_against_itself_shows_no_divergence(tmp_path: Path) -> None:
    out = tmp_path / "found"
    done = run_cli(
        "fuzz",
        "--adapter",
        "reference",
        "--seed",
        SEED,
        "--examples",
        "20",
        "--out",
        str(out),
        report_dir=tmp_path,
        timeout=240,  # 11 s on a quiet machine
    )
    assert done.code == 0, done.stdout + done.stderr
    assert "20 examples" in done.stdout
    assert "0 distinct divergences" in done.stdout
    assert not out.exists() or list(out.iterdir()) == []
