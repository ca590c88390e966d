"""Published versions of a runtime: ``run --adapter workerd@VERSION``, ``history`` and ``bisect``.

Each test needs its releases installed already (``RELEASES``; ``.ci/run`` installs them with
``connect-conformance install workerd@...``): a release is 65 to 160 MB, which the README's test
command does not download on a contributor's machine. Without one a test skips naming the install
command; under ``CI=true`` it fails. Only a small selection of cases runs on each release.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conformance.report import timeline
from tests.helpers import REPO, missing, require_library, require_program, require_release
from tests.integration.cli import run_cli

pytestmark = pytest.mark.slow

#: The release the issue reported (bundled by Miniflare 4.20260426.0) and the pinned one.
OLDER = "1.20260426.1"
NEWER = "1.20261117.1"
#: The first release with connect() (it needs Debian's libc++1 here).
FIRST = "1.20230512.0"
#: The releases around the startTls fix that the bisect test searches (good, between, bad).
BISECTED = ("1.20261013.1", "1.20261014.1", "1.20261015.1")
#: Every release these tests run, so every one ``.ci/run`` must install.
RELEASES = (FIRST, OLDER, NEWER, *BISECTED)
#: Cases whose outcome differs between OLDER and NEWER (startTls verification, reads after a reset)
#: and one that passes on both.
STARTTLS = "starttls.untrusted-cert-rejects-new-opened[localhost]"
RESET = "errors.peer-reset-rejects-pending-read"
STEADY = "streams.echo-round-trip"
SELECTION = f"{STARTTLS} or {RESET} or {STEADY}"
NPM = "Node.js 20 and npm: https://nodejs.org or apt-get install -y nodejs npm"


def test_ci_installs_every_release_these_tests_run() -> None:
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    installs = [line for line in script.splitlines() if line.startswith("connect-conformance install workerd@")]
    assert len(installs) == 1, installs
    # The command continues on the next line.
    command = script[script.index(installs[0]) :].split("\n# ", 1)[0]
    assert set(re.findall(r"workerd@(\S+)", command)) == set(RELEASES)


def test_a_published_version_installs_from_a_clean_cache_then_runs_offline(tmp_path: Path) -> None:
    # Installed once already, so npm takes the package from its own cache (~/.npm) for this empty one.
    require_release("workerd", OLDER)
    require_program(("npm",), NPM)
    cache = tmp_path / "cache"
    env = {"CONNECT_CONFORMANCE_CACHE": str(cache)}
    done = run_cli(
        "run", "--adapter", f"workerd@{OLDER}", "-k", SELECTION, report_dir=tmp_path / "1", env=env, timeout=600
    )
    if "cannot be reached" in done.stderr or "npm view" in done.stderr:
        missing(f"the npm registry is not reachable: {done.stderr[-500:]}")
    assert f"installing workerd@{OLDER} into {cache}" in done.stderr
    assert f"installed workerd@{OLDER} in" in done.stderr
    assert done.code == 1, done.stdout + done.stderr  # the differences of the issue, unexpected without a file
    outcomes = done.outcomes()
    assert outcomes[STARTTLS] == "fail"
    assert outcomes[RESET] == "fail"
    assert outcomes[STEADY] == "pass"
    messages = {case["id"]: case["message"] for case in done.results()["cases"]}
    assert "expected a rejection, but it resolved with" in messages[STARTTLS]
    assert "but it resolved with {done: true}" in messages[RESET]
    run = done.results()["run"]
    assert run["adapter_spec"] == f"workerd@{OLDER}"
    assert run["adapter"]["version"] == OLDER
    assert run["adapter"]["runtime"] == "workerd 2026-04-26"
    assert (cache / "npm" / f"workerd@{OLDER}" / "package-lock.json").is_file()

    # Offline from now on: no npm on PATH, the installed version still runs.
    empty = tmp_path / "bin"
    empty.mkdir()
    offline = {**env, "PATH": str(empty)}
    assert shutil.which("npm", path=offline["PATH"]) is None
    again = run_cli(
        "run", "--adapter", f"workerd@{OLDER}", "-k", STEADY, report_dir=tmp_path / "2", env=offline, timeout=120
    )
    assert again.code == 0, again.stderr
    assert "installing" not in again.stderr


def test_the_first_release_with_connect_runs_with_a_config_it_accepts(tmp_path: Path) -> None:
    require_release("workerd", FIRST)
    require_library("libc++.so.1", "apt-get install -y libc++1")
    done = run_cli("run", "--adapter", f"workerd@{FIRST}", "-k", STEADY, report_dir=tmp_path, timeout=300)
    assert done.code == 0, done.stderr
    assert done.results()["run"]["adapter"]["runtime"] == "workerd 2023-05-12"


def test_a_release_before_connect_is_refused_before_any_download(tmp_path: Path) -> None:
    require_program(("npm",), NPM)  # it lists the published versions (npm view)
    cache = tmp_path / "cache"
    done = run_cli(
        "run",
        "--adapter",
        "workerd@1.20230404.0",
        report_dir=tmp_path,
        env={"CONNECT_CONFORMANCE_CACHE": str(cache)},
        timeout=120,
    )
    assert done.code == 3, done.stderr
    assert (
        "workerd 1.20230404.0 cannot run the suite: it lacks cloudflare:sockets (first in 1.20230512.0)" in done.stderr
    )
    assert not (cache / "npm" / "workerd@1.20230404.0").exists()


def test_history_on_two_versions_writes_the_timeline(tmp_path: Path) -> None:
    require_release("workerd", OLDER, NEWER)
    out = tmp_path / "history"
    done = run_cli(
        "history",
        "--adapter",
        "workerd",
        "--versions",
        f"{OLDER},{NEWER},1.20230404.0",
        "-k",
        SELECTION,
        "--out",
        str(out),
        report_dir=tmp_path,
        timeout=600,
    )
    assert done.code == 0, done.stdout + done.stderr
    folder = out / "workerd"
    for version in (OLDER, NEWER):
        document = json.loads((folder / version / "results.json").read_text())
        assert document["run"]["adapter"]["version"] == version
        assert {case["id"] for case in document["cases"]} == {STARTTLS, RESET, STEADY}
    assert not (folder / "1.20230404.0").exists()
    manifest = json.loads((folder / "history.json").read_text())
    statuses = {item["version"]: item["status"] for item in manifest["versions"]}
    assert statuses == {"1.20230404.0": "cannot run", OLDER: "ran", NEWER: "ran"}
    line = timeline.load(folder)
    assert {(c.case, c.before, c.after, c.version) for c in line.changes()} == {
        (STARTTLS, "fail", "pass", NEWER),
        (RESET, "fail", "pass", NEWER),
    }
    readme = (folder / "README.md").read_text()
    assert f"### {NEWER} (from {OLDER})" in readme
    assert f"- `{STARTTLS}`: ❌ fail → ✅ pass" in readme
    assert "| 1.20230404.0 | cannot run |" in readme
    page = (folder / "index.html").read_text()
    assert "Content-Security-Policy" in page
    assert '"family":"workerd"' in page
    assert "2 outcome changes across 2 versions" in done.stdout


def test_bisect_finds_the_first_version_with_the_new_outcome(tmp_path: Path) -> None:
    require_release("workerd", *BISECTED)
    done = run_cli(
        "bisect",
        "--adapter",
        "workerd",
        "--case",
        STARTTLS,
        "--good",
        "1.20261015.1",
        "--bad",
        "1.20261013.1",
        "--save",
        "--out",
        str(tmp_path),
        report_dir=tmp_path,
        timeout=600,
    )
    assert done.code == 0, done.stdout + done.stderr
    assert f"{STARTTLS}: fail up to workerd 1.20261013.1, pass from 1.20261014.1" in done.stdout
    assert "first version with the outcome of --good (1.20261015.1): 1.20261014.1" in done.stdout
    # Both transcripts: the old version's with its problem, the new one's without.
    assert "== workerd 1.20261013.1: fail" in done.stdout
    assert "== workerd 1.20261014.1: pass" in done.stdout
    assert "PROBLEM expected a rejection" in done.stdout.split("== workerd 1.20261014.1")[0]
    record = json.loads((tmp_path / "workerd" / "bisect.json").read_text())["bisects"][0]
    assert (record["case"], record["last_old"], record["first_new"]) == (STARTTLS, "1.20261013.1", "1.20261014.1")


def test_bisect_refuses_versions_with_the_same_outcome_and_unknown_cases(tmp_path: Path) -> None:
    require_release("workerd", OLDER, NEWER)
    same = run_cli(
        "bisect", "--adapter", "workerd", "--case", STEADY, "--good", NEWER, "--bad", OLDER, report_dir=tmp_path
    )
    assert same.code == 2
    assert f"{STEADY} has the same outcome (pass) on {OLDER} and {NEWER}" in same.stderr
    unknown = run_cli(
        "bisect",
        "--adapter",
        "workerd",
        "--case",
        "starttls.untrusted-cert-rejects",
        "--good",
        NEWER,
        "--bad",
        OLDER,
        report_dir=tmp_path,
    )
    assert unknown.code == 2
    assert "no such case; did you mean" in unknown.stderr
    assert "starttls.untrusted-cert-rejects-new-opened[localhost]" in unknown.stderr


def test_install_takes_versions_too(tmp_path: Path) -> None:
    require_release("workerd", OLDER)
    done = run_cli("install", f"workerd@{OLDER}", report_dir=tmp_path)
    assert done.code == 0, done.stderr
    assert f"workerd@{OLDER}: installed" in done.stdout
