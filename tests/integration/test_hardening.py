"""The command against hostile files, folders, pipes and signals (issue 9, items 4-6, 8-11, 18).

Each test reproduces a way the command used to lose a report, crash with a
traceback, hang or exhaust memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.cases.yamlsource import MAX_FILE_BYTES
from conformance.core.certificates import CERTIFICATE_NAMES
from conformance.core.certificates import FOLDER_PREFIX as CA_PREFIX
from tests.helpers import REPO
from tests.integration.cli import FIXTURES, run_cli

pytestmark = pytest.mark.slow

CASE = """\
- id: lifecycle.{name}
  title: A case
  level: {level}
  source: [B16]
  peer: none
  steps:
    - sleep: 10ms
"""


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "Error:" not in stderr.replace("error:", ""), stderr


# -- item 4: the report folder is checked before any case runs ---------------------------------


@pytest.mark.parametrize("target", ["a-file", "/dev/null", "a-file/below", "/proc/no-such-folder"])
def test_an_unusable_report_folder_exits_2_before_any_case_runs(tmp_path: Path, target: str) -> None:
    (tmp_path / "a-file").write_text("not a folder\n")
    folder = tmp_path / target if not target.startswith("/") else Path(target)
    done = run_cli("run", str(FIXTURES / "slow"), report_dir=folder)
    assert done.code == 2, done.stderr
    no_traceback(done.stderr)
    assert "error: " in done.stderr
    assert str(folder.parent if target == "a-file/below" else folder) in done.stderr
    assert "running" not in done.stderr, "no case may run"


def test_report_html_into_a_file_path_exits_2(tmp_path: Path) -> None:
    results = tmp_path / "run"
    assert run_cli("run", "-k", "string-form", report_dir=results).code == 0
    (tmp_path / "file").write_text("x")
    done = run_cli(
        "report", "html", str(results / "results.json"), "-o", str(tmp_path / "file" / "x.html"), report_dir=tmp_path
    )
    assert done.code == 2
    no_traceback(done.stderr)
    assert f"the output folder {tmp_path / 'file'} exists and is not a folder" in done.stderr


# -- item 11: report html and compare on files that are not results ----------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"hello", ":1: not JSON: Expecting value"),
        (b'{"cases":[1]}', ": cases/0: 1 is not of type 'object'"),
        (b"[1, 2]", ": (top level): expected a JSON object, got an array"),
        (b"\xff\xfe", ": not UTF-8: invalid start byte at byte 0"),
    ],
)
@pytest.mark.parametrize("command", ["html", "compare", "junit", "summary"])
def test_report_commands_name_a_file_that_is_not_a_results_file(
    tmp_path: Path, content: bytes, problem: str, command: str
) -> None:
    """Every command reading results.json checks it as report validate does, and lists its problems (issue 19)."""
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    args = (
        ["report", "compare", str(bad), str(bad)]
        if command == "compare"
        else ["report", command, str(bad), "-o", str(tmp_path / "out")]
    )
    done = run_cli(*args, report_dir=tmp_path)
    assert done.code == 2, (done.code, done.stderr)  # for compare, 1 would mean "regression"
    no_traceback(done.stderr)
    assert done.stderr.startswith(f"error: {bad}"), done.stderr
    assert f"{bad}{problem}" in done.stderr, done.stderr
    assert f"{bad} is not a results.json that `report validate` accepts" in done.stderr
    assert not (tmp_path / "out").exists()


# -- item 5: a signal while the command starts ---------------------------------------------------


def signals_caught(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16)
    return 0


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.05, 0.15, 0.6])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_starting_gives_130_and_a_report(tmp_path: Path, delay: float, sig: signal.Signals) -> None:
    """From the moment the command has taken over the signals (imports, spec loading, the run)."""
    report = tmp_path / "report"
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(report), str(FIXTURES / "slow")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wanted = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
    deadline = time.monotonic() + 20
    while signals_caught(process.pid) & wanted != wanted:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the command never took over SIGINT and SIGTERM"
        time.sleep(0.002)
    time.sleep(delay)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    no_traceback(stderr)
    document = json.loads((report / "results.json").read_text(encoding="utf-8"))
    assert document["run"]["interrupted"] is True
    if delay == 0:
        # At once after the take-over, the spec is still loading: the report is written all the same.
        assert "interrupted before any case ran; empty report written" in stderr
        assert document["cases"] == []
    assert not list(report.glob("*.part"))
    checked = run_cli("report", "validate", str(report / "results.json"), report_dir=report)
    assert checked.code == 0, checked.stderr


# -- item 6: the run's CA folder after a SIGKILL -----------------------------------------------


def test_the_ca_folder_of_a_killed_run_is_removed_by_the_next_run(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(tmp_path / "r1"), str(FIXTURES / "slow")],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    # Killed once every key is written: the folder then holds what must not stay behind.
    while len(list(temp.glob(f"{CA_PREFIX}{process.pid}-*/*.key.pem"))) < len(CERTIFICATE_NAMES):
        assert process.poll() is None
        assert time.monotonic() < deadline, "the run never made its CA"
        time.sleep(0.02)
    process.kill()
    process.wait(timeout=10)
    (left,) = temp.glob(f"{CA_PREFIX}*")
    assert any(left.glob("*.key.pem")), "the killed run left its private keys behind"
    done = run_cli("run", "-k", "string-form", report_dir=tmp_path / "r2", env={"TMPDIR": str(temp)})
    assert done.code == 0, done.stderr
    assert list(temp.glob(f"{CA_PREFIX}*")) == []


# -- items 8-10: spec files through the command --------------------------------------------------


def bomb() -> str:
    lines = ["- id: lifecycle.bomb", "  title: t", "  level: must", "  source: [B16]", "  steps: [{sleep: 1ms}]"]
    lines += ["  variants:", "    - {name: v0, value: &a0 [x, x, x, x, x, x, x, x, x]}"]
    for level in range(1, 9):
        lines.append(f"    - {{name: v{level}, value: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]}")
    return "\n".join(lines) + "\n"


HOSTILE_FILES = {
    "alias-bomb": bomb().encode(),
    "50-megabytes": CASE.format(name="big", level="must").encode() * (50 * 1024 * 1024 // len(CASE)),
    "nesting-300": ("- " + "[" * 300 + "]" * 300 + "\n").encode(),
    "control-character": b"- id: x\x01\n",
    "unhashable-key": b"- {[1]: 2}\n",
    "integer-5000-digits": CASE.format(name="big", level="must").replace("10ms", "9" * 5000).encode(),
    "mixed-key-types": b"- {id: x, 1: a, zz: b}\n",
    "not-utf-8": CASE.format(name="x", level="must").encode() + b"  # caf\xe9\n",
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_validate_of_a_hostile_file_exits_2_with_its_line_quickly_and_in_little_memory(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / "spec" / "lifecycle" / f"{name}.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes(HOSTILE_FILES[name])
    done = run_cli("validate", str(path), report_dir=tmp_path, measure=True, timeout=60)
    assert done.code == 2, done.stderr
    no_traceback(done.stderr)
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"{path}:"), first
    assert first[len(str(path)) + 1 :].split(":", 1)[0].isdigit(), f"no line number in {first!r}"
    # CPU seconds, not wall-clock: the slowest of these takes 0.55 s; the bound catches a blow-up (the
    # alias bomb expanded, a 5000-digit integer converted), not a busy machine.
    assert done.cpu_s is not None
    assert done.cpu_s < 10, done.cpu_s
    assert done.peak_rss_mb is not None
    assert done.peak_rss_mb < 300, done.peak_rss_mb


def test_a_valid_file_just_under_the_size_limit_validates_quickly(tmp_path: Path) -> None:
    path = tmp_path / "spec" / "lifecycle" / "large.yaml"
    path.parent.mkdir(parents=True)
    text, count = "", 0
    while len(text) < MAX_FILE_BYTES - 200:
        text += CASE.format(name=f"c{count}", level="must")
        count += 1
    path.write_text(text)
    done = run_cli("validate", str(path), report_dir=tmp_path, measure=True, timeout=60)
    assert done.code == 0, done.stderr
    assert done.stdout.startswith(f"ok: {count} cases")
    # About 3 s of CPU time here: the bound catches work that grows faster than the file, not a busy
    # machine. The speed goal (under 5 s from start to exit) is a figure of benchmarks/run.py.
    assert done.cpu_s is not None
    assert done.cpu_s < 30, done.cpu_s
    assert done.peak_rss_mb is not None
    assert done.peak_rss_mb < 300, done.peak_rss_mb


def test_a_valid_case_after_a_broken_one_is_listed_and_run(tmp_path: Path) -> None:
    path = tmp_path / "spec" / "lifecycle" / "mixed.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(CASE.format(name="broken", level="sometimes") + CASE.format(name="valid", level="must"))
    listed = run_cli("list", str(tmp_path / "spec"), report_dir=tmp_path)
    assert listed.code == 2
    assert listed.stdout.split()[0] == "lifecycle.valid"
    assert f"{path}:3: level: expected one of" in listed.stderr
    ran = run_cli("run", str(tmp_path / "spec"), report_dir=tmp_path / "report")
    assert ran.code == 2, ran.stderr
    assert ran.outcomes() == {"lifecycle.valid": "pass"}
    assert ran.results()["run"]["spec_errors"] == [
        f'{path}:3: level: expected one of "must", "should", "info", got "sometimes"'
    ]


@pytest.mark.parametrize("target", ["empty-folder", "empty.yaml", "empty.txt"])
def test_validate_of_nothing_is_not_ok(tmp_path: Path, target: str) -> None:
    path = tmp_path / target
    if target == "empty-folder":
        path.mkdir()
    else:
        path.write_text("")
    done = run_cli("validate", str(path), report_dir=tmp_path)
    assert done.code == 2
    assert "ok:" not in done.stdout
    assert done.stderr.startswith(f"{path}")


# -- item 18: a closed pipe ---------------------------------------------------------------------


def test_list_into_a_pipe_closed_after_one_line_ends_quietly(tmp_path: Path) -> None:
    # More output than a pipe buffers (64 KiB), so the command is still writing when head has gone.
    folder = tmp_path / "spec" / "lifecycle"
    folder.mkdir(parents=True)
    (folder / "many.yaml").write_text("".join(CASE.format(name=f"c{n}", level="must") for n in range(2000)))
    done = subprocess.run(
        f'{sys.executable} -m conformance list {tmp_path / "spec"} | head -1; echo "status ${{PIPESTATUS[0]}}"',
        shell=True,
        executable="/bin/bash",
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.splitlines() == ["lifecycle.c0  [must]  B16  A case", "status 141"]
    assert done.stderr == ""


SCRIPT_PAST_A_FAILED_HANDSHAKE = """\
- id: starttls.script-past-failed-handshake
  title: The peer's handshake fails (the client never upgrades), then the script reads on
  level: info
  source: [B38]
  peer: starttls
  timeout: 5s
  steps:
    - connect: {address: "${peer.address}", options: {secureTransport: starttls}}
    - peer.accept: {}
    - peer.start_tls: {}
      within: 300ms
      expect: {tls: {ok: false}}
    - peer.recv: {n: 1}
      within: 300ms
    - get: secureTransport
      expect: {returns: starttls}
"""


def test_a_peer_script_that_cannot_go_on_is_the_scripts_fault_not_a_harness_error(tmp_path: Path) -> None:
    path = tmp_path / "spec" / "starttls" / "script.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(SCRIPT_PAST_A_FAILED_HANDSHAKE)
    ran = run_cli("run", str(path), report_dir=tmp_path / "report")
    assert ran.outcomes() == {"starttls.script-past-failed-handshake": "error"}, ran.stderr
    (case,) = ran.results()["cases"]
    assert case["message"].startswith("the peer script could not go on: connection 'c1' has no TLS session")
    assert "harness error" not in case["message"]
    assert case["fault"] == "spec"
