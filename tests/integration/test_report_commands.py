"""`report validate`, `report compare`, expectation hygiene and badges, on real results files."""

from __future__ import annotations

import copy
import datetime
import json
import re
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


def with_summary(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with a summary that adds up again (``report compare`` refuses one that does not)."""
    document["summary"] = {
        o: sum(c["outcome"] == o for c in document["cases"]) for o in ("pass", "fail", "error", "timeout", "skip")
    }
    document["summary"]["total"] = len(document["cases"])
    return document


def with_outcome(document: dict[str, Any], case_id: str, outcome: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for case in changed["cases"]:
        if case["id"] == case_id:
            case["outcome"] = outcome
            case["message"] = "step 2: expected it to resolve, but it rejected"
    return with_summary(changed)


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
    assert done.code == 2, "an invalid file is a usage error, as for every command"
    assert message in done.stderr, done.stderr


def test_validate_exits_2_on_any_invalid_file_and_0_only_when_all_are_valid(
    tmp_path: Path, real_run: dict[str, Any]
) -> None:
    good = save(tmp_path, "good.json", real_run)
    not_json = tmp_path / "not.json"
    not_json.write_text('{"format": 1,\n  oops}', encoding="utf-8")
    done = run_cli("report", "validate", str(good), str(not_json), report_dir=tmp_path)
    assert done.code == 2
    assert f"{good}: ok" in done.stdout
    assert f"{not_json}:2: not JSON: Expecting property name enclosed in double quotes" in done.stderr
    assert "1 of 2 files not valid" in done.stderr
    assert run_cli("report", "validate", str(good), report_dir=tmp_path).code == 0


INVALID = {
    "format-999": (lambda d: d.update(format=999), "format: 1 was expected"),
    "no-run": (lambda d: d.pop("run"), "(top level): 'run' is a required property"),
    "bare-nan": (lambda d: d["run"].update(duration_s=float("nan")), ":1: bare NaN is not JSON"),
    "unknown-outcome": (lambda d: d["cases"][0].update(outcome="passed"), "cases/0/outcome: 'passed' is not one of"),
}


@pytest.mark.parametrize("position", ["old", "new"])
@pytest.mark.parametrize("kind", list(INVALID))
def test_compare_refuses_every_file_that_validate_rejects(
    tmp_path: Path, real_run: dict[str, Any], kind: str, position: str
) -> None:
    corrupt, problem = INVALID[kind]
    bad_document = copy.deepcopy(real_run)
    corrupt(bad_document)
    bad = save(tmp_path, "bad.json", bad_document)  # json.dumps writes a bare NaN, as Python's json does
    good = save(tmp_path, "good.json", real_run)
    checked = run_cli("report", "validate", str(bad), report_dir=tmp_path)
    assert checked.code == 2
    assert problem in checked.stderr, checked.stderr
    files = [bad, good] if position == "old" else [good, bad]
    done = run_cli("report", "compare", *map(str, files), report_dir=tmp_path)
    assert done.code == 2, (done.code, done.stdout)
    assert done.stdout == "", "nothing is compared, and no 'No regression.' is printed"
    assert f"error: {bad}" in done.stderr
    assert problem in done.stderr, done.stderr
    assert f"{bad} is not a results.json that `report validate` accepts: nothing was compared" in done.stderr


def test_compare_exits_1_on_a_regression_and_names_it(tmp_path: Path, real_run: dict[str, Any]) -> None:
    case_id = real_run["cases"][0]["id"]
    old = save(tmp_path, "old.json", real_run)
    new = save(tmp_path, "new.json", with_outcome(real_run, case_id, "fail"))
    done = run_cli("report", "compare", str(old), str(new), "--json", str(tmp_path / "c.json"), report_dir=tmp_path)
    assert done.code == 1
    assert "**Regressions found.**" in done.stdout
    assert f"| `{case_id}` |" in done.stdout.split("### Regressions")[1]
    assert json.loads((tmp_path / "c.json").read_text())["regressions"][0]["id"] == case_id


def test_compare_names_old_then_new(tmp_path: Path, real_run: dict[str, Any]) -> None:
    renamed = copy.deepcopy(real_run)
    renamed["run"]["adapter"].update(name="second", version="2.0")
    old, new = save(tmp_path, "old.json", real_run), save(tmp_path, "new.json", renamed)
    done = run_cli("report", "compare", str(old), str(new), report_dir=tmp_path)
    assert done.code == 0, done.stderr
    adapter = real_run["run"]["adapter"]
    title = f"## connect-conformance: {adapter['name']} {adapter['version']} ({old}) → second 2.0 ({new})"
    assert done.stdout.splitlines()[0] == title


def test_compare_shows_what_the_files_said_as_text_in_its_markdown(tmp_path: Path, real_run: dict[str, Any]) -> None:
    """The output is a CI comment, rendered as HTML: nothing from a file may become markup (item 5)."""
    hostile = [
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<!--",
        "</details>",
        "[x](javascript:alert(1))",
        "a | b",
        "`tick`",
    ]
    case_id = real_run["cases"][0]["id"]
    new_document = with_outcome(real_run, case_id, "fail")
    new_document["cases"][0]["message"] = " ".join(hostile)
    new_document["run"]["adapter"].update(name=hostile[1], version=hostile[0])
    old, new = save(tmp_path, "old.json", real_run), save(tmp_path, "new.json", new_document)
    done = run_cli("report", "compare", str(old), str(new), report_dir=tmp_path)
    assert done.code == 1, done.stderr
    text = done.stdout.replace(f"`{case_id}`", "")  # a code span: its text shows as it is
    # The regression's signature (here its message, normalised and cut) is one code span too:
    # nothing inside becomes markup.
    grouped = text.split("### Regressions by first divergence", 1)[1].split("\n### ", 1)[0]
    (row,) = [line for line in grouped.splitlines() if line.startswith("| 1 |")]
    assert row.startswith("| 1 | `<img src=x onerror=alert(N)> <a href="), row
    assert row.endswith("…` |  |"), row
    text = text.replace(grouped, "")
    for raw in ("<", ">", "[x](", "`"):
        assert re.search(r"(?<!\\)" + re.escape(raw), text) is None, f"an unescaped {raw} in the comment"
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;/details&gt;" in text
    row = next(line for line in done.stdout.splitlines() if line.startswith(f"| `{case_id}`"))
    assert row.count(" | ") == 4, "the pipe in the message is escaped and does not add a cell"
    assert row.endswith(" a \\| b \\`tick\\` |")


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
        str(save(tmp_path, "o.json", with_summary(old_doc))),
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


def write_large_results(path: Path, run: dict[str, Any], size: int) -> int:
    """A valid results.json of at least ``size`` bytes: ``run``'s cases again and again under new ids.
    Written case by case, so this process never holds it; returns the number of cases."""
    written, copy_number = 0, 0
    with path.open("w", encoding="utf-8") as out:
        header = {key: value for key, value in run.items() if key not in ("cases", "summary", "gate")}
        out.write(json.dumps(header, indent=1)[:-2] + ',\n "cases": [\n')
        counts = dict.fromkeys(("pass", "fail", "error", "timeout", "skip"), 0)
        while written < size:
            for case in run["cases"]:
                base, bracket, variant = case["id"].partition("[")
                copied = {**case, "id": f"{base}-copy{copy_number}{bracket}{variant}"}
                text = ("" if written == 0 else ",\n") + json.dumps(copied, indent=1)
                out.write(text)
                written += len(text.encode("utf-8"))
                counts[copied["outcome"]] += 1
            copy_number += 1
        total = sum(counts.values())
        out.write('\n ],\n "summary": ' + json.dumps({**counts, "total": total}) + "\n}\n")
    return total


@pytest.mark.slow
def test_validate_and_compare_take_bounded_memory_on_a_large_file(tmp_path: Path, real_run: dict[str, Any]) -> None:
    """A 210 MB results.json took 1.5 GB to compare: both commands read one case at a time (item 6).

    Memory, not time: the peak RSS of the command, against the file's size. Measured on a 32 MiB file:
    reading one case at a time peaks at about 43 MB (compare) and 39 MB (validate) whatever the size;
    reading the whole file with ``json.loads`` peaked at 212 MB and 179 MB. The bound lies between, with
    room on both sides (a 64 MiB file and a bound of three times its size took twice as long and left
    the whole-file validate 10% over its bound)."""
    path = tmp_path / "large.json"
    total = write_large_results(path, real_run, 32 * 2**20)
    size_mb = path.stat().st_size / 2**20
    bound_mb = size_mb + 80
    compared = run_cli("report", "compare", str(path), str(path), report_dir=tmp_path, measure=True, timeout=600)
    assert compared.code == 0, compared.stderr[-2000:]
    assert f"{total} unchanged" in compared.stdout, "every case of both files was read"
    assert compared.peak_rss_mb is not None
    assert compared.peak_rss_mb < bound_mb, f"compare: peak {compared.peak_rss_mb:.0f} MB for a {size_mb:.0f} MB file"
    checked = run_cli("report", "validate", str(path), report_dir=tmp_path, measure=True, timeout=600)
    assert checked.code == 0, checked.stderr[-2000:]
    assert checked.peak_rss_mb is not None
    assert checked.peak_rss_mb < bound_mb, f"validate: peak {checked.peak_rss_mb:.0f} MB for a {size_mb:.0f} MB file"


@pytest.fixture(scope="module")
def gated_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with every column of summary.md: passes, unexpected fails, expected ones (one flaky), a case
    not run here; returns its report folder."""
    folder = tmp_path_factory.mktemp("gated")
    known = expectations_file(
        folder,
        """\
  half-open.writer-close-sends-fin-read-side-stays-open:
    outcome: fail
    reason: "the mutant sends no FIN (B29)"
  half-open.peer-fin-closes-writable-by-default:
    outcome: fail
    reason: "flaky on purpose"
    flaky: true
""",
    )
    selection = (
        "half-open.peer-fin-closes-writable or half-open.writer-close or lifecycle.opened or port-25-not-dialled"
    )
    done = run_cli(
        "run",
        "--no-sandbox",
        "--adapter",
        "reference+writer-close-no-fin",
        "-n",
        "4",
        "-k",
        selection,
        "--expectations",
        str(known),
        report_dir=folder / "run",
        timeout=300,
    )
    assert done.code == 1, done.stdout + done.stderr
    return folder / "run"


def test_junit_and_summary_are_rebuilt_from_results_json_as_the_run_wrote_them(gated_run: Path) -> None:
    """``report junit`` and ``report summary`` give the run's own files, byte for byte: the run wrote them
    from the same model that loading its results.json gives. Nothing differs, timestamps included: neither
    file has a time of writing; the run's start day and duration come from results.json."""
    run = gated_run
    document = json.loads((run / "results.json").read_text(encoding="utf-8"))
    outcomes = {case["outcome"] for case in document["cases"]}
    assert {"pass", "fail", "skip"} <= outcomes
    assert document["gate"]["unexpected"], "some unexpected outcomes"
    assert document["gate"]["xfail"], "and some expected ones"
    summary_md = (run / "summary.md").read_text(encoding="utf-8")
    for shown in ("| xfail |", "## Not run here", "(expected)"):
        assert shown in summary_md
    # A sibling folder: the links to spec/behaviours.md are relative, so the same depth gives the same text.
    rebuilt = gated_run.parent / "rebuilt"
    for what, name in (("junit", "junit.xml"), ("summary", "summary.md")):
        done = run_cli("report", what, str(run / "results.json"), "-o", str(rebuilt / name), report_dir=rebuilt)
        assert done.code == 0, done.stderr
        assert (rebuilt / name).read_bytes() == (run / name).read_bytes(), name
    # Without -o: on standard output, the links relative to the folder of results.json.
    printed = run_cli("report", "summary", str(run), report_dir=rebuilt)
    assert printed.code == 0, printed.stderr
    assert printed.stdout == summary_md
    assert run_cli("report", "junit", str(run), report_dir=rebuilt).stdout == (run / "junit.xml").read_text()


def test_the_model_reads_back_exactly_what_the_run_wrote(gated_run: Path) -> None:
    from conformance.core.transcript import PeerStepEntry, SessionEndEntry, VariablesEntry
    from conformance.report import model

    path = gated_run / "results.json"
    report = model.load(path)
    assert report.as_dict() == json.loads(path.read_text(encoding="utf-8"))
    ran = next(case for case in report.cases if case.transcript)
    assert isinstance(ran.transcript[0], VariablesEntry)
    assert isinstance(ran.transcript[-1], SessionEndEntry)
    assert any(isinstance(entry, PeerStepEntry) for entry in ran.transcript)
    assert report.expected == {
        "half-open.writer-close-sends-fin-read-side-stays-open",
        "half-open.peer-fin-closes-writable-by-default",
    }


def test_the_rebuild_commands_refuse_a_file_that_validate_rejects(tmp_path: Path, gated_run: Path) -> None:
    document = json.loads((gated_run / "results.json").read_text(encoding="utf-8"))
    document["cases"][0]["transcript"].append({"sent": "not an entry"})
    bad = save(tmp_path, "bad.json", document)
    for what in ("junit", "summary"):
        done = run_cli("report", what, str(bad), "-o", str(tmp_path / "out"), report_dir=tmp_path)
        assert done.code == 2, done.stderr
        assert f"error: {bad}: cases/0/transcript/" in done.stderr
        assert f"{bad} is not a results.json that `report validate` accepts" in done.stderr
        assert not (tmp_path / "out").exists()
