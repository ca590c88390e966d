"""Several machines: ``run --shard I/N`` jobs joined by ``report merge`` equal one unsharded run;
``history --shard`` jobs joined by ``history --merge`` equal one history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.report import timeline
from tests.helpers import REPO, require_release
from tests.integration.cli import run_cli
from tests.integration.test_versions import NEWER, OLDER, RESET, SELECTION, STARTTLS

pytestmark = pytest.mark.slow

#: A mutant, so that the outcomes are mixed: passes and failures must land where they belong.
MUTANT = "reference+writer-close-no-fin"
#: Splitting and merging do not depend on which cases: three areas (about 150 cases, 15 of them failing
#: on the mutant) show the property that the whole suite (four runs of 600 cases) took 140 s to show.
#: Left out: the two cases that the mutant makes wait 40 s each for a FIN.
AREAS = [
    *(str(REPO / "spec" / area) for area in ("half-open", "lifecycle", "address")),
    *("-k", "not queued-writes-flushed"),
]


@pytest.mark.timeout(600)
def test_three_shards_merged_equal_one_unsharded_run(tmp_path: Path) -> None:
    whole = run_cli(
        "run", "--adapter", MUTANT, "--no-sandbox", "-q", *AREAS, report_dir=tmp_path / "whole", timeout=300
    )
    assert whole.code == 1, whole.stderr
    assert "pass" in whole.outcomes().values()
    shards = []
    for index in (1, 2, 3):
        done = run_cli(
            "run",
            "--adapter",
            MUTANT,
            "--no-sandbox",
            "--shard",
            f"{index}/3",
            *AREAS,
            report_dir=tmp_path / f"shard{index}",
            timeout=300,
        )
        assert done.code in (0, 1), done.stderr
        header = done.results()["run"]
        assert header["shard"]["index"] == index
        assert header["shard"]["total"] == 3
        assert header["shard"]["selected"] == len(whole.outcomes())
        # With no --durations, the published reference run balances the split (run from the checkout).
        assert header["shard"]["durations"] == "reports/reference/results.json"
        assert header["spec_revision"] == whole.results()["run"]["spec_revision"]
        assert f"(shard {index}/3 of {len(whole.outcomes())} selected)" in done.stderr
        shards.append(done)
    parts = [set(done.outcomes()) for done in shards]
    assert all(parts)
    assert not (parts[0] & parts[1])
    assert not (parts[0] & parts[2])
    assert not (parts[1] & parts[2])

    merged = tmp_path / "merged.json"
    joined = run_cli(
        "report",
        "merge",
        *(str(tmp_path / f"shard{i}" / "results.json") for i in (3, 1, 2)),
        "-o",
        str(merged),
        report_dir=tmp_path,
    )
    assert joined.code == 0, joined.stderr
    assert f"{len(whole.outcomes())} cases from 3 shards" in joined.stdout
    document = json.loads(merged.read_text())
    assert [case["id"] for case in document["cases"]] == [case["id"] for case in whole.results()["cases"]]
    assert {case["id"]: case["outcome"] for case in document["cases"]} == whole.outcomes()
    assert [shard["index"] for shard in document["run"]["shards"]] == [1, 2, 3]
    assert document["gate"]["ok"] is False
    assert {e["id"] for e in document["gate"]["unexpected"]} == {e["id"] for e in whole.results()["gate"]["unexpected"]}
    assert run_cli("report", "validate", str(merged), report_dir=tmp_path).code == 0

    compared = run_cli("report", "compare", str(tmp_path / "whole" / "results.json"), str(merged), report_dir=tmp_path)
    assert compared.code == 0, compared.stdout + compared.stderr
    assert f"No difference: the same {len(whole.outcomes())} cases, each with the same outcome." in compared.stdout

    # Not every shard: refused, naming what is missing; nothing is written.
    refused = run_cli(
        "report",
        "merge",
        str(tmp_path / "shard1"),
        str(tmp_path / "shard3"),
        "-o",
        str(tmp_path / "no.json"),
        report_dir=tmp_path,
    )
    assert refused.code == 2
    assert "1 shard missing: 2/3" in refused.stderr
    assert not (tmp_path / "no.json").exists()
    unsharded = run_cli(
        "report",
        "merge",
        str(tmp_path / "whole"),
        str(tmp_path / "shard2"),
        "-o",
        str(tmp_path / "no.json"),
        report_dir=tmp_path,
    )
    assert unsharded.code == 2
    assert "not a shard: a run without --shard" in unsharded.stderr


def test_durations_without_shard_and_a_bad_shard_are_usage_errors(tmp_path: Path) -> None:
    alone = run_cli("run", "--durations", str(REPO / "reports" / "reference" / "results.json"), report_dir=tmp_path)
    assert alone.code == 2
    assert "--durations balances a split: give --shard I/N too" in alone.stderr
    bad = run_cli("run", "--shard", "4/3", report_dir=tmp_path)
    assert bad.code == 2
    assert "argument --shard: the shard must be from 1 to 3, got 4" in bad.stderr


@pytest.mark.timeout(900)
def test_a_history_split_over_two_jobs_merges_into_one_timeline(tmp_path: Path) -> None:
    require_release("workerd", OLDER, NEWER)
    ran: list[str] = []
    for index in (1, 2):
        done = run_cli(
            "history", "--adapter", "workerd", "--versions", f"{OLDER},{NEWER}", "-k", SELECTION,
            "--shard", f"{index}/2", "--out", str(tmp_path / f"job{index}"),
            report_dir=tmp_path, timeout=600,
        )  # fmt: skip
        assert done.code == 0, done.stdout + done.stderr
        assert f"shard {index}/2: 1 of 2 versions" in done.stderr
        ran += [entry.name for entry in (tmp_path / f"job{index}" / "workerd").iterdir() if entry.name[0].isdigit()]
    assert sorted(ran) == sorted([OLDER, NEWER]), "each version ran in exactly one job"
    out = tmp_path / "history"
    merged = run_cli(
        "history", "--adapter", "workerd", "--merge", str(tmp_path / "job1"), str(tmp_path / "job2"), "--out", str(out),
        report_dir=tmp_path,
    )  # fmt: skip
    assert merged.code == 0, merged.stderr
    line = timeline.load(out / "workerd")
    assert line.versions == [OLDER, NEWER]
    assert {(c.case, c.before, c.after, c.version) for c in line.changes()} == {
        (STARTTLS, "fail", "pass", NEWER),
        (RESET, "fail", "pass", NEWER),
    }
    assert f"### {NEWER} (from {OLDER})" in (out / "workerd" / "README.md").read_text()
