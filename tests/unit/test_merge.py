"""``report merge`` (report/merge.py): shards back into one run, or a refusal naming the problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.cases.shards import Shard, pick
from conformance.core.outcomes import CaseResult, Outcome
from conformance.report import model
from conformance.report.merge import MergeError, merge
from conformance.report.model import Gate, GateEntry, ShardInfo
from tests.helpers import run_report, save_report

IDS = [f"area.case-{n}" for n in range(10)]
OUTCOMES = {case_id: Outcome.FAIL if n % 4 == 0 else Outcome.PASS for n, case_id in enumerate(IDS)}


def _shards(tmp_path: Path, total: int = 3, **header: Any) -> list[Path]:
    """The results.json of each shard of a run of IDS, as ``run --shard I/total`` writes them."""
    paths = []
    for index in range(1, total + 1):
        ids, split = pick(IDS, IDS, Shard(index, total))
        cases = [CaseResult(case_id, OUTCOMES[case_id], "must", duration_ms=float(index)) for case_id in ids]
        failing = [case.id for case in cases if case.outcome is not Outcome.PASS]
        gate = Gate(
            ok=False,
            unexpected=tuple(GateEntry(case_id, "fail", "pass") for case_id in failing),
            unused=("gone.always", f"used.elsewhere-{index}"),
            xfail=(),
        )
        report = run_report(
            cases,
            gate,
            started=f"2026-01-0{index}T00:00:00+00:00",
            duration_s=float(index),
            workers=index,
            selection={"keyword": None, "tags": [], "paths": ["spec"], "selected": len(ids)},
            shard=ShardInfo(index, total, split.selected, split.positions, None),
            **header,
        )
        paths.append(save_report(tmp_path / f"shard{index}", report))
    return paths


def test_the_shards_become_the_unsharded_run(tmp_path: Path) -> None:
    paths = _shards(tmp_path)
    merged = merge(list(reversed(paths)))
    assert [case.id for case in merged.cases] == IDS, "the order of the whole selection"
    assert {case.id: case.outcome for case in merged.cases} == OUTCOMES
    header = merged.header
    assert header.shard is None
    assert [(s.index, s.total, s.duration_s) for s in header.shards or ()] == [(1, 3, 1.0), (2, 3, 2.0), (3, 3, 3.0)]
    assert header.started == "2026-01-01T00:00:00+00:00"
    assert header.duration_s == 3.0
    assert header.selection["selected"] == len(IDS)
    gate = merged.gate
    assert gate is not None
    assert not gate.ok
    assert [entry.id for entry in gate.unexpected] == [c for c in IDS if OUTCOMES[c] is Outcome.FAIL]
    assert gate.unused == ("gone.always",), "an expectation used by one shard is used"
    # It is a valid results.json, and reads back as it was written.
    written = save_report(tmp_path / "merged", merged)
    assert model.load(written).as_dict() == merged.as_dict()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        ({"spec_revision": "0123abcd"}, "ran spec revision 0123abcd but .* ran abcdef12: shards of different spec"),
        (
            {"adapter": {"name": "workerd"}},
            'ran adapter name "workerd" but .* ran "reference": shards of different adapters',
        ),
        ({"adapter_spec": "reference+x"}, "ran --adapter reference\\+x but .* ran --adapter reference"),
    ],
    ids=["spec-revision", "adapter", "adapter-spec"],
)
def test_shards_of_different_runs_are_refused(tmp_path: Path, spoil: dict[str, Any], message: str) -> None:
    good = _shards(tmp_path / "good")
    odd = _shards(tmp_path / "odd", **spoil)
    with pytest.raises(MergeError, match=message):
        merge([good[0], odd[1], good[2]])


def test_a_missing_or_repeated_shard_is_refused(tmp_path: Path) -> None:
    paths = _shards(tmp_path)
    with pytest.raises(MergeError, match=r"1 shard missing: 2/3 \(given: 2 of 3\)"):
        merge([paths[0], paths[2]])
    with pytest.raises(MergeError, match="shard 1/3 is given twice"):
        merge([paths[0], paths[0], paths[1], paths[2]])
    other = _shards(tmp_path / "two", total=2)
    with pytest.raises(MergeError, match=r"is shard 1/2 but .* is shard 1/3: not the same split"):
        merge([paths[0], other[0]])


def test_shards_split_differently_are_refused(tmp_path: Path) -> None:
    paths = _shards(tmp_path)
    # Shard 2 as if its job had weighed the cases otherwise: one of its positions is shard 1's too.
    document = model.load(paths[1])
    shard = document.header.shard
    assert shard is not None
    taken = model.load(paths[0]).header.shard
    assert taken is not None
    document.header.shard = ShardInfo(2, 3, shard.selected, (taken.positions[0], *shard.positions[1:]), "other.json")
    save_report(tmp_path / "shard2", document)
    with pytest.raises(MergeError, match=r"are both at position .*: the shards split the selection differently"):
        merge(paths)


def test_an_interrupted_shard_and_a_run_that_is_not_a_shard_are_refused(tmp_path: Path) -> None:
    paths = _shards(tmp_path)
    interrupted = model.load(paths[2])
    interrupted.header.interrupted = True
    save_report(tmp_path / "shard3", interrupted)
    with pytest.raises(MergeError, match="shard 3/3 was interrupted"):
        merge(paths)
    plain = save_report(tmp_path / "plain", run_report([CaseResult("a.b", Outcome.PASS, "must")]))
    with pytest.raises(MergeError, match="not a shard: a run without --shard"):
        merge([plain])


def test_the_merged_header_names_every_server_a_shard_started(tmp_path: Path) -> None:
    paths = _shards(tmp_path)
    for path, servers in zip(paths, [{"postgres": "PostgreSQL 15.18"}, {}, {"redis": "Redis 7.0.15"}], strict=True):
        report = model.load(path)
        report.header.servers = servers
        save_report(path.parent, report)
    assert merge(paths).header.servers == {"postgres": "PostgreSQL 15.18", "redis": "Redis 7.0.15"}
