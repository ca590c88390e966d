"""Issue 23, must-show 2: a finding of ``fuzz --find-mutants`` is written as a case (the emit path)
that fails on its mutant and passes on the reference, replayed by ``run`` from the file.

The scenarios are the fuzzer's own idioms (``fuzz/moves.py``: ``peer_eof`` and ``flush``) as a search
draws them; the search itself (how soon it finds them) is measured by ``fuzz --find-mutants``."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.adapters import registry
from conformance.cases.loader import load_file
from conformance.fuzz.observations import Normaliser
from conformance.fuzz.scenarios import Scenario
from conformance.fuzz.search import Pair, Search
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

SCENARIOS = {
    # allowHalfOpen: true, the peer's FIN read to done, then a write: it must still be accepted (B33).
    "allow-half-open-ignored": Scenario(
        "plain",
        (
            {"connect": {"address": "${peer.address}", "options": {"allowHalfOpen": True}}},
            {"peer.accept": {}, "within": "600ms"},
            {"peer.shutdown": "write"},
            {"read": {}, "within": "250ms"},
            {"read": {}, "within": "250ms"},
            {"write": "after the FIN", "within": "250ms"},
        ),
    ),
    # Megabytes queued while the peer reads nothing, then close(): every byte must arrive (B35).
    "close-without-flush": Scenario(
        "plain",
        (
            {"connect": {"address": "${peer.address}"}},
            {"peer.accept": {}, "within": "600ms"},
            {"write": {"pattern": "xyz", "size": "4MiB"}, "within": "250ms"},
            {"close": {}, "within": "250ms"},
            {"peer.recv": {"n": None}, "within": "5s"},
        ),
    ),
}


@pytest.mark.parametrize("mutant", sorted(SCENARIOS))
def test_a_finding_is_written_as_a_case_that_fails_on_its_mutant_and_passes_on_the_reference(
    tmp_path: Path, mutant: str
) -> None:
    pair = Pair(registry.resolve(f"reference+{mutant}"), registry.resolve("reference"))
    try:
        finding = Search(pair, Normaliser([]), 1, None, 0, tmp_path / "found").prove(SCENARIOS[mutant])
    finally:
        pair.close()
    assert finding.path is not None, finding.problem
    assert finding.path.parent == tmp_path / "found"
    (case,), errors = load_file(finding.path)
    assert errors == []
    # Replayed from the file by `run`, as a user would: it fails on the mutant, passes on the reference.
    on_mutant = run_cli("run", "--adapter", f"reference+{mutant}", str(finding.path), report_dir=tmp_path / "m")
    on_reference = run_cli("run", "--adapter", "reference", str(finding.path), report_dir=tmp_path / "r")
    assert on_mutant.outcomes() == {case.id: "fail"}, on_mutant.stdout + on_mutant.stderr
    assert on_reference.outcomes() == {case.id: "pass"}, on_reference.stdout + on_reference.stderr


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--only", "no-such-mutant"], "unknown mutant(s) no-such-mutant"),
        (["--adapter", "reference"], "--find-mutants fuzzes the reference's mutants: leave out --adapter"),
        (["--stop-after", "1"], "leave out --stop-after"),
    ],
)
def test_find_mutants_refuses_what_it_cannot_do(tmp_path: Path, arguments: list[str], said: str) -> None:
    done = run_cli("fuzz", "--find-mutants", "--no-sandbox", *arguments, report_dir=tmp_path, timeout=120)
    assert done.code == 2, done.stdout + done.stderr
    assert said in done.stderr
