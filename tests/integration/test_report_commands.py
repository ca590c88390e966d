"""`report validate`, `report compare`, expectation hygiene and badges, on real results files."""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO
from tests.integration.cli import run_cli

SELECTION = "lifecycle.opened or lifecycle.close"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("run")
    done = run_cli("run", "-k", SELECTION, report_dir=folder)
    assert done.code == 0, done.stderr
    results: dict[str, Any] = done.results()
    return results


def save(tmp_path: Path, name: str, document: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def with_outcome(document: dict[str, Any], case_id: str, outcome: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for case in changed["cases"]:
        if case["id"] == case_id:
            case["outcome"] = outcome
            case["message"] = "step 2: expected it to resolve, but it rejected"
    changed["summary"] = {
        o: sum(c["outcome"] == o for c in changed["cases"]) for o in ("pass", "fail", "error", "timeout", "skip")
    }
    changed["summary"]["total"] = len(changed["cases"])
    return changed


def test_validate_accepts_what_the_project_writes(tmp_path: Path, real_run: dict[str, Any]) -> None:
    published = sorted((REPO / "reports").glob("*/results.json"))
    assert published, "reports/ should hold published results"
    done = run_cli(
        "report", "validate", str(save(tmp_path, "r.json", real_run)), *map(str, published), report_dir=tmp_path
    )
    assert done.code == 0, done.stderr
    assert done.stdout.count(": ok") == 1 + len(published)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda d: d["cases"][0].update(outcome="passed"), "cases/0/outcome: 'passed' is not one of"),
        (lambda d: d["summary"].update(fail=3), "summary/fail: says 3, but the cases hold 0"),
        (lambda d: d["run"].pop("adapter"), "run: 'adapter' is a required property"),
        (lambda d: d["cases"].append(dict(d["cases"][0])), "appears more than once"),
    ],
)
def test_validate_rejects_a_corrupted_file_with_a_clear_message(
    tmp_path: Path, real_run: dict[str, Any], corrupt: Any, message: str
) -> None:
    document = copy.deepcopy(real_run)
    corrupt(document)
    done = run_cli("report", "validate", str(save(tmp_path, "bad.json", document)), report_dir=tmp_path)
    assert done.code == 1
    assert message in done.stderr, done.stderr


def test_compare_exits_1_on_a_regression_and_names_it(tmp_path: Path, real_run: dict[str, Any]) -> None:
    case_id = real_run["cases"][0]["id"]
    old = save(tmp_path, "old.json", real_run)
    new = save(tmp_path, "new.json", with_outcome(real_run, case_id, "fail"))
    done = run_cli("report", "compare", str(old), str(new), "--json", str(tmp_path / "c.json"), report_dir=tmp_path)
    assert done.code == 1
    assert "**Regressions found.**" in done.stdout
    assert f"| `{case_id}` |" in done.stdout.split("### Regressions")[1]
    assert json.loads((tmp_path / "c.json").read_text())["regressions"][0]["id"] == case_id


def test_compare_the_other_way_exits_0_and_lists_a_fix(tmp_path: Path, real_run: dict[str, Any]) -> None:
    case_id = real_run["cases"][0]["id"]
    old = save(tmp_path, "old.json", with_outcome(real_run, case_id, "fail"))
    new = save(tmp_path, "new.json", real_run)
    done = run_cli("report", "compare", str(old), str(new), report_dir=tmp_path)
    assert done.code == 0
    assert "No regression." in done.stdout
    assert f"| `{case_id}` |" in done.stdout.split("### Fixes")[1]


def test_compare_lists_new_and_removed_cases(tmp_path: Path, real_run: dict[str, Any]) -> None:
    old_doc = copy.deepcopy(real_run)
    removed = old_doc["cases"].pop()
    done = run_cli(
        "report",
        "compare",
        str(save(tmp_path, "o.json", old_doc)),
        str(save(tmp_path, "n.json", real_run)),
        report_dir=tmp_path,
    )
    assert done.code == 0
    assert f"`{removed['id']}`" in done.stdout.split("### New cases")[1]


def expectations_file(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "expectations.yaml"
    path.write_text(f"implementation: reference+writer-close-no-fin\ncases:\n{entries}")
    return path


def test_an_expired_expectation_fails_the_gate_and_an_unused_one_is_reported(tmp_path: Path) -> None:
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    path = expectations_file(
        tmp_path,
        f"""\
  half-open.writer-close-sends-fin-read-side-stays-open:
    outcome: fail
    reason: "the mutant sends no FIN (B29)"
    until: {yesterday.isoformat()}
  lifecycle.no-such-case:
    outcome: fail
    reason: "a stale entry"
""",
    )
    done = run_cli(
        "run",
        "--adapter",
        "reference+writer-close-no-fin",
        "-k",
        "writer-close-sends-fin-read-side",
        "--expectations",
        str(path),
        report_dir=tmp_path / "r",
    )
    assert done.code == 1, done.stdout + done.stderr
    assert "EXPIRED expectation" in done.stdout
    assert "unused expectation: lifecycle.no-such-case" in done.stdout
    gate = done.results()["gate"]
    assert gate["expired"] == ["half-open.writer-close-sends-fin-read-side-stays-open"]
    assert gate["unused"] == ["lifecycle.no-such-case"]


def test_the_same_expectation_not_expired_passes_the_gate(tmp_path: Path) -> None:
    later = datetime.date.today() + datetime.timedelta(days=30)
    path = expectations_file(
        tmp_path,
        f"""\
  half-open.writer-close-sends-fin-read-side-stays-open:
    outcome: fail
    reason: "the mutant sends no FIN (B29)"
    until: {later.isoformat()}
""",
    )
    done = run_cli(
        "run",
        "--adapter",
        "reference+writer-close-no-fin",
        "-k",
        "writer-close-sends-fin-read-side",
        "--expectations",
        str(path),
        report_dir=tmp_path / "r",
    )
    assert done.code == 0, done.stdout + done.stderr


@pytest.mark.parametrize("adapter", ["reference", "reference+writer-close-no-fin"])
def test_a_flaky_expectation_passes_either_way_and_is_counted(tmp_path: Path, adapter: str) -> None:
    path = expectations_file(
        tmp_path,
        """\
  half-open.writer-close-sends-fin-read-side-stays-open:
    outcome: fail
    reason: "flaky on purpose"
    flaky: true
""",
    )
    done = run_cli(
        "run",
        "--adapter",
        adapter,
        "-k",
        "writer-close-sends-fin-read-side",
        "--expectations",
        str(path),
        report_dir=tmp_path / "r",
    )
    assert done.code == 0, done.stdout + done.stderr
    assert done.results()["gate"]["flaky"] == 1


def test_update_expectations_rewrites_the_file_keeping_reasons(tmp_path: Path) -> None:
    path = expectations_file(
        tmp_path,
        """\
  half-open.writer-close-sends-fin-read-side-stays-open:
    outcome: timeout
    reason: "our careful explanation (B29)"
  lifecycle.not-selected-this-time:
    outcome: fail
    reason: "kept: not run"
""",
    )
    done = run_cli(
        "run",
        "--adapter",
        "reference+writer-close-no-fin",
        "-k",
        "half-open.writer-close",
        "--update-expectations",
        str(path),
        report_dir=tmp_path / "r",
    )
    assert done.code == 1

    rewritten = yaml.safe_load(path.read_text())["cases"]
    kept = rewritten["half-open.writer-close-sends-fin-read-side-stays-open"]
    assert kept == {"outcome": "fail", "reason": "our careful explanation (B29)"}
    assert rewritten["lifecycle.not-selected-this-time"]["reason"] == "kept: not run"
    failing = {c["id"] for c in done.results()["cases"] if c["outcome"] != "pass"}
    assert failing <= set(rewritten)
    again = run_cli(
        "run",
        "--adapter",
        "reference+writer-close-no-fin",
        "-k",
        "half-open.writer-close",
        "--expectations",
        str(path),
        report_dir=tmp_path / "r2",
    )
    assert again.code == 0, again.stdout


def test_publish_writes_the_matrix_and_badges(tmp_path: Path, real_run: dict[str, Any]) -> None:
    reports = tmp_path / "reports"
    (reports / "reference").mkdir(parents=True)
    save(reports / "reference", "results.json", real_run)
    done = run_cli("report", "publish", "--reports", str(reports), report_dir=tmp_path)
    assert done.code == 0, done.stderr
    matrix = (reports / "README.md").read_text()
    assert "| reference |" in matrix
    for case in real_run["cases"]:
        assert f"`{case['id']}`" in matrix
    page = (reports / "index.html").read_text()
    assert page.startswith("<!DOCTYPE html>") or page.lower().startswith("<!doctype html>")
    assert real_run["cases"][0]["id"] in page
    badge = (reports / "badges" / "reference.svg").read_text()
    assert badge.startswith("<svg")
    assert "must" in badge
