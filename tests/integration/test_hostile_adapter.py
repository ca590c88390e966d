"""Every run with a hostile adapter writes valid reports (issue 9, items 1-3).

``tests/fakes/hostile_adapter.py`` answers with lone surrogates, control
characters, bare NaN and Infinity, or floods stderr, in the cases whose id
names the mode (``tests/fixtures/spec/hostile/``); with ``--hello MODE`` its
``hello`` carries them too, so they reach the run header. After each run:
``results.json`` passes ``report validate`` and Node's ``JSON.parse``,
``junit.xml`` parses, ``summary.md`` holds no raw control character, no
``.part`` file is left, and time and memory stay bounded.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests.helpers import require_program
from tests.integration.cli import FIXTURES, HOSTILE, Completed, run_cli

pytestmark = pytest.mark.slow

MODES = ("surrogates", "control-chars", "nan", "bulk-stderr")
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: Start to exit of a run on the fake: at most 5 s on a quiet machine.
TIME_LIMIT_S = 60
MEMORY_LIMIT_MB = 300


@pytest.fixture(autouse=True)
def node() -> str:
    """Every test ends by parsing the report with Node's JSON.parse: without Node, it skips before its run."""
    return require_program(("node",), "Node.js 20: https://nodejs.org or apt-get install -y nodejs")


def node_parses(path: Path) -> None:
    node = require_program(("node",), "Node.js 20: https://nodejs.org or apt-get install -y nodejs")
    script = "JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')); console.log('parsed')"
    done = subprocess.run([node, "-e", script, str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "parsed"


def assert_valid_reports(done: Completed, seconds: float | None = TIME_LIMIT_S) -> dict[str, object]:
    folder = done.report_dir
    assert sorted(p.name for p in folder.iterdir()) == ["junit.xml", "results.json", "summary.md"], done.stderr
    checked = run_cli("report", "validate", str(folder / "results.json"), report_dir=folder)
    assert checked.code == 0, checked.stderr
    node_parses(folder / "results.json")
    ET.parse(folder / "junit.xml")
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert RAW_CONTROL.search(summary) is None, repr(RAW_CONTROL.search(summary))
    for stream in (done.stdout, done.stderr):
        assert RAW_CONTROL.search(stream) is None, "no control character reaches the terminal"
    assert "Traceback" not in done.stderr
    if seconds is not None:
        assert done.seconds < seconds
    assert done.peak_rss_mb is not None
    assert done.peak_rss_mb < MEMORY_LIMIT_MB
    loaded: dict[str, object] = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("hello", [None, *MODES])
def test_every_mode_ends_with_valid_reports(tmp_path: Path, hello: str | None) -> None:
    adapter = HOSTILE + (f" --hello {hello}" if hello else "")
    done = run_cli("run", "--adapter", adapter, str(FIXTURES / "hostile"), report_dir=tmp_path, measure=True)
    assert done.code == 1, done.stderr  # the hostile cases fail; the run itself is fine
    document = assert_valid_reports(done)
    outcomes = {case["id"]: case["outcome"] for case in document["cases"]}  # type: ignore[attr-defined]
    assert outcomes == {
        "hostile.healthy-1": "pass",
        "hostile.surrogates-in-error": "fail",
        "hostile.control-chars-in-error": "fail",
        "hostile.nan-in-error": "fail",
        "hostile.bulk-stderr-before-answer": "pass",
        "hostile.healthy-2": "pass",
    }
    text = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert "\\ud800" in text, "lone surrogates are kept, as JSON escapes"
    assert {"$type": "number", "value": "NaN"} in list(values(document)), "NaN is written as its protocol tag"
    if hello:
        name = document["run"]["adapter"]["name"]  # type: ignore[index]
        assert name != "hostile", "the hostile hello reached the run header"


def values(document: object) -> Iterator[object]:
    """Every value in a JSON document, nested ones too."""
    yield document
    if isinstance(document, dict):
        for item in document.values():
            yield from values(item)
    elif isinstance(document, list):
        for item in document:
            yield from values(item)


def test_the_expectations_gate_and_update_survive_hostile_messages(tmp_path: Path) -> None:
    known = tmp_path / "expectations.yaml"
    first = run_cli(
        "run",
        "--adapter",
        HOSTILE,
        "--update-expectations",
        str(known),
        str(FIXTURES / "hostile"),
        report_dir=tmp_path / "first",
        measure=True,
    )
    assert first.code == 1, first.stderr
    assert_valid_reports(first)
    second = run_cli(
        "run",
        "--adapter",
        HOSTILE,
        "--expectations",
        str(known),
        str(FIXTURES / "hostile"),
        report_dir=tmp_path / "second",
        measure=True,
    )
    assert second.code == 0, second.stderr
    assert_valid_reports(second)
    assert "3 expected non-pass outcomes (XFAIL" in second.stderr
    assert "implementation: hostile\n" in known.read_text(), "the name the adapter reported, not its command line"
    assert re.search(r"^total\s+6\s+3\s+0\s+0\s+0\s+0\s+3$", second.stdout, re.M), second.stdout


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie that only waits to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_broken_structure_costs_only_its_case_and_a_forked_child_is_killed(tmp_path: Path) -> None:
    """Item 12 (a reply of the wrong shape, JSON 100,000 deep) and item 14 (a child holding stdout)."""
    pids = tmp_path / "pids"
    pids.mkdir()
    adapter = f"{HOSTILE} --pids {pids}"
    done = run_cli(
        "run", "-n", "1", "--adapter", adapter, str(FIXTURES / "structure"), report_dir=tmp_path / "r", measure=True
    )
    assert done.code == 1, done.stderr
    document = assert_valid_reports(done)
    cases = {case["id"]: case for case in document["cases"]}  # type: ignore[attr-defined]
    assert {name: case["outcome"] for name, case in cases.items()} == {
        "structure.healthy-1": "pass",
        "structure.wrong-shape-in-value": "error",
        "structure.healthy-2": "pass",
        "structure.deep-nesting-in-value": "error",
        "structure.healthy-3": "pass",
        "structure.forking-child-exits": "timeout",
        "structure.healthy-4": "pass",
    }
    assert "invalid response to connect" in cases["structure.wrong-shape-in-value"]["message"]
    assert "nested too deeply" in cases["structure.deep-nesting-in-value"]["message"]
    children = [int(path.read_text()) for path in pids.glob("*.pid")]
    assert len(children) == 1, "the fake forked its child"
    assert not any(alive(pid) for pid in children), "the child that held stdout open was killed with its group"


@pytest.mark.timeout(900)  # 53 s on a quiet machine, most of it the hello timeouts of the restarts
def test_an_adapter_that_hangs_after_hello_ends_the_full_suite_fast_with_exit_3(tmp_path: Path) -> None:
    """Item 13: it answers the first hello, then nothing; every restart hangs before hello.

    "Fast" is counted, not timed: the run gives up after its budget of restarts instead of
    starting the adapter again for each of the 400 cases."""
    state = tmp_path / "state"
    adapter = f"{HOSTILE} --hang-after-hello {state}"
    done = run_cli("run", "-n", "1", "--adapter", adapter, report_dir=tmp_path / "r", timeout=600, measure=True)
    assert done.code == 3, done.stderr
    assert "gave up: the adapter broke 10 times in a row" in done.stderr
    starts = len(state.read_text(encoding="utf-8").splitlines())
    assert starts == 10, "the first process and one restart after each break, up to the 10th"
    document = assert_valid_reports(done, seconds=None)
    cases: list[dict[str, Any]] = document["cases"]  # type: ignore[index]
    # Each case is an error of the adapter, or, if it came before the run gave up, a skip for a
    # capability the fake does not declare (the drivers, the request scopes): none passed or failed.
    assert {c["outcome"] for c in cases} <= {"error", "skip"}
    assert all(c.get("skipped_by") == "adapter" for c in cases if c["outcome"] == "skip")
    assert sum(c["outcome"] == "error" for c in cases) > len(cases) // 2
    assert len(document["cases"]) > 400  # type: ignore[arg-type]
