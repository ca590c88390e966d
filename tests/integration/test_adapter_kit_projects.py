"""``connect-conformance init`` as a runtime's author uses it: scaffold, add the implementation, run the
README's commands (draft the expectations, review them, gate), and the gated run exits 0.

(a) JavaScript: ``@arrowood.dev/socket`` (the package the node-socket adapter tests, its pinned
version) through the generated shell on the JS kit, on five areas (every kind of op the shell
carries: connect and its options, reads, writes, close, errors; flaky cases both ways). The whole
suite on this package is gated by tests/integration/test_real_runtimes_gate.py.
(b) Python: the toy ``connect()`` of tests/thirdparty/toy_adapter.py through the generated shell on
``conformance.adapter_kit``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.execution import expectations
from conformance.exitcodes import ExitCode
from tests.helpers import REPO, missing, require_npm_packages, require_program

PACKAGE = "@arrowood.dev/socket"
PINNED = REPO / "conformance" / "adapters" / "js" / "packages" / "node-socket" / "package.json"
REVIEWED = REPO / "expectations" / "node-socket.yaml"
TOY = REPO / "tests" / "thirdparty" / "toy_adapter.py"
#: What the JS project's draft and gate runs cover: its point is the generated shell, which each of
#: these areas drives through other ops; the whole suite twice took 160 s (starttls and drivers most).
JS_AREAS = ("lifecycle", "address", "errors", "options", "streams")


def shell(command: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``command`` as a user types it in the project's folder, with this Python's tools first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["sh", "-c", command],
        cwd=cwd,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def readme_command(project: Path, contains: str) -> str:
    """The README's ``connect-conformance run`` line that has ``contains`` (without its comment)."""
    lines = re.findall(r"^connect-conformance run .*$", (project / "README.md").read_text(), re.MULTILINE)
    found = [line.partition("   #")[0].strip() for line in lines if contains in line]
    assert len(found) == 1, lines
    return found[0]


def review(path: Path, reason_of: dict[str, Any]) -> dict[str, Any]:
    """What a person does with the drafts: a reason for each, the mark removed; cases known to be flaky
    (``reason_of`` entries with ``flaky``) are listed as such even where this run happened to pass them."""
    document = yaml.safe_load(path.read_text())
    drafts = document["cases"]
    for case_id, entry in drafts.items():
        known = reason_of.get(case_id, {})
        entry["reason"] = known.get("reason") or f"reviewed: {entry['reason'].partition(' (drafted')[0]}"
        del entry["unreviewed"]
        if known.get("flaky"):
            entry["flaky"] = True
    for case_id, known in reason_of.items():
        if known.get("flaky") and case_id not in drafts:
            drafts[case_id] = {"outcome": known["outcome"], "reason": known["reason"], "flaky": True}
    document["cases"] = dict(sorted(drafts.items()))
    expectations.write(path, document)
    return document


#: The toy does not refuse port 25; whether its connection reaches the peer within the case's 500 ms
#: depends on the machine's load (a draft run passed it, the gate then failed it, in one CI run).
TOY_FLAKY = {
    "policy.port-25-by-name-not-dialled[localhost]": {
        "outcome": "fail",
        "reason": "the toy does not refuse port 25 (B24): its connection by name reaches the peer, in time or not",
        "flaky": True,
    }
}


def in_areas(case_id: str) -> bool:
    return case_id.split(".")[0] in JS_AREAS


def assert_drafted(path: Path, implementation: str) -> dict[str, Any]:
    """``--update-expectations`` kept the header and marked every entry it wrote as a draft."""
    text = path.read_text()
    assert text.startswith(f"# Known non-pass outcomes of {implementation} against connect-conformance")
    drafted: dict[str, Any] = yaml.safe_load(text)
    assert drafted["implementation"] == implementation
    assert drafted["cases"], "the implementation passes everything? then this test proves nothing"
    for case_id, entry in drafted["cases"].items():
        assert entry.get("unreviewed") is True, case_id
        assert "(drafted from a run: say why, then remove unreviewed)" in entry["reason"], case_id
    return drafted


def gate(project: Path, paths: str = "") -> dict[str, Any]:
    """The README's gated run (on ``paths`` when given): exit 0, no draft left, the results of the
    implementation it names."""
    done = shell(f"{readme_command(project, '--expectations expectations.yaml')} {paths}", project)
    assert done.returncode == ExitCode.OK, done.stdout[-4000:] + done.stderr[-4000:]
    assert "not reviewed" not in done.stdout + done.stderr
    assert "0 unexpected" in done.stdout
    results: dict[str, Any] = json.loads((project / "reports" / "latest" / "results.json").read_text())
    return results


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_init_js_gates_arrowood_socket_through_the_generated_shell_on_the_kit(tmp_path: Path) -> None:
    require_program(("node",), "Node.js 20: https://nodejs.org or apt-get install -y nodejs")
    npm = require_program(("npm",), "npm, with Node.js")
    require_npm_packages("node-socket")  # the package is then in npm's own cache: the install below is quick
    version = json.loads(PINNED.read_text())["dependencies"][PACKAGE]
    project = tmp_path / "socket-on-node"
    created = shell(f"connect-conformance init js {project} --connect-from {PACKAGE}", tmp_path)
    assert created.returncode == 0, created.stderr

    shell_lines = (project / "adapter.mjs").read_text().splitlines()
    assert len(shell_lines) <= 80
    assert f'import {{ connect }} from "{PACKAGE}";' in shell_lines
    assert 'const { createAdapter } = await load("interpreter.js");' in shell_lines
    assert not any(path.suffix == ".js" for path in project.iterdir()), "the kit is imported, never copied"

    installed = subprocess.run(
        [npm, "install", "--prefer-offline", "--no-audit", "--no-fund", f"{PACKAGE}@{version}"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if installed.returncode != 0:
        missing(f"npm cannot install {PACKAGE}@{version} here: {installed.stderr[-500:]}")

    areas = " ".join(str(REPO / "spec" / area) for area in JS_AREAS)
    draft = shell(f"{readme_command(project, '--update-expectations')} {areas}", project)
    assert draft.returncode == ExitCode.UNEXPECTED, draft.stdout[-4000:] + draft.stderr[-4000:]
    assert "expectations rewritten: expectations.yaml" in draft.stdout
    drafted = assert_drafted(project / "expectations.yaml", "socket-on-node")

    reviewed: dict[str, Any] = yaml.safe_load(REVIEWED.read_text())["cases"]
    review(project / "expectations.yaml", {case: known for case, known in reviewed.items() if in_areas(case)})
    results = gate(project, areas)
    assert {case["id"].split(".")[0] for case in results["cases"]} == set(JS_AREAS)
    assert results["run"]["adapter"]["name"] == "socket-on-node"
    assert results["run"]["adapter"]["runtime"].startswith("Node v")
    outcomes = {case["id"]: case["outcome"] for case in results["cases"]}
    assert "error" not in outcomes.values()
    # The generated shell runs the package as the project's own node-socket adapter does: the same
    # non-pass outcomes as its reviewed expectations file, which no test of this one wrote.
    assert set(drafted["cases"]) <= set(reviewed)
    # (an info case gets no drafted entry: it is never gated)
    ran = {case["id"] for case in results["cases"] if case["outcome"] != "skip" and case["level"] != "info"}
    assert {case for case, known in reviewed.items() if not known.get("flaky")} & ran <= set(drafted["cases"])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_init_python_gates_the_toy_connect_through_the_generated_shell_on_the_kit(tmp_path: Path) -> None:
    project = tmp_path / "toy"
    created = shell(f"connect-conformance init python {project} --connect-from toy_adapter", tmp_path)
    assert created.returncode == 0, created.stderr
    shutil.copy(TOY, project / "toy_adapter.py")

    draft = shell(readme_command(project, "--update-expectations"), project)
    assert draft.returncode == ExitCode.UNEXPECTED, draft.stdout[-4000:] + draft.stderr[-4000:]
    drafted = assert_drafted(project / "expectations.yaml", "toy")

    review(project / "expectations.yaml", TOY_FLAKY)
    results = gate(project)
    assert results["run"]["adapter"]["name"] == "toy"
    outcomes = [case["outcome"] for case in results["cases"]]
    assert outcomes.count("pass") > 50
    gated = [case for case in results["cases"] if case["level"] != "info"]  # an info case gets no entry
    assert len(drafted["cases"]) == sum(1 for case in gated if case["outcome"] not in ("pass", "skip"))
