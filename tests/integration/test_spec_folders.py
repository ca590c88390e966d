"""``run --spec DIR``: a vendor's cases run with the same harness, and the results say they are not the suite's."""

from __future__ import annotations

from pathlib import Path

from tests.integration.cli import run_cli

CASE = "lifecycle.close-resolves-and-settles-closed"
VENDOR_CASE = """\
- id: {id}
  title: {title}
  level: must
  source: [B35]
  steps:
    - connect: {{address: "${{peer.address}}"}}
    - await: opened
    - peer.accept: {{}}
    - close: {{}}
      expect: {{resolves: {{$type: undefined}}}}
"""


def write(folder: Path, case_id: str, title: str = "close() resolves") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cases.yaml").write_text(VENDOR_CASE.format(id=case_id, title=title), encoding="utf-8")
    return folder


def test_vendor_cases_run_beside_or_instead_of_the_suites_and_change_the_spec_revision(tmp_path: Path) -> None:
    suite = run_cli("run", "-k", CASE, report_dir=tmp_path / "suite")
    assert suite.code == 0, suite.stderr
    added = write(tmp_path / "vendor" / "acme", "acme.close-resolves")
    beside = run_cli("run", "--spec", str(added), "-k", f"{CASE} or acme.", report_dir=tmp_path / "beside")
    assert beside.code == 0, beside.stderr
    # The vendor's lifecycle area stands in for the suite's: its case of the same id is the one that runs.
    replaced = write(tmp_path / "other" / "lifecycle", CASE, title="the vendor's own version")
    instead = run_cli("run", "--spec", str(replaced), "-k", "lifecycle.", report_dir=tmp_path / "instead")
    assert instead.code == 0, instead.stderr

    assert suite.outcomes() == {CASE: "pass"}
    assert beside.outcomes() == {CASE: "pass", "acme.close-resolves": "pass"}
    assert instead.outcomes() == {CASE: "pass"}
    (ran,) = instead.results()["cases"]
    assert ran["title"] == "the vendor's own version"
    revisions = [done.results()["run"]["spec_revision"] for done in (suite, beside, instead)]
    assert len(set(revisions)) == 3, revisions
    assert str(added) in beside.results()["run"]["selection"]["paths"]
    assert str(replaced) in instead.results()["run"]["selection"]["paths"]
    assert not any(
        Path(p).name == "lifecycle" and Path(p) != replaced for p in instead.results()["run"]["selection"]["paths"]
    )


WRITE_AFTER_CLOSE = """\
- id: acme.write-after-close-rejects
  title: write() after close() rejects
  level: must
  source: [B30]
  steps:
    - connect: {address: "${peer.address}"}
    - await: opened
    - peer.accept: {}
    - close: {}
    - write: "late"
      expect: {rejects: {name: TypeError}}
"""


def test_mutants_take_the_vendor_folders_too(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "cases.yaml").write_text(WRITE_AFTER_CLOSE, encoding="utf-8")
    done = run_cli(
        "mutants",
        "--spec",
        str(tmp_path / "acme"),
        "-k",
        "acme.",
        "--only",
        "writes-after-close-accepted",
        report_dir=tmp_path,
    )
    assert done.code == 0, done.stdout + done.stderr
    assert "acme.write-after-close-rejects" in done.stdout
    assert "1 of 1 mutants caught" in done.stdout


def test_list_and_validate_take_the_vendor_folders_too(tmp_path: Path) -> None:
    vendor = write(tmp_path / "acme", "acme.close-resolves")
    listed = run_cli("list", "--spec", str(vendor), "-k", "acme.", report_dir=tmp_path)
    assert listed.code == 0, listed.stderr
    assert listed.stdout.startswith("acme.close-resolves  [must]  B35  close() resolves")
    write(tmp_path / "broken" / "acme", "acme.x", title="")
    checked = run_cli("validate", "--spec", str(tmp_path / "broken"), report_dir=tmp_path)
    assert checked.code == 2
    assert f"{tmp_path / 'broken' / 'acme' / 'cases.yaml'}:2: title: expected string, got null" in checked.stderr
