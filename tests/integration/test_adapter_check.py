"""``connect-conformance adapter-check``: good adapters pass, broken ones fail with clear lines.

The good ones: the in-process reference, the reference over stdio, a reference
behind a WebSocket server, and a toy third-party adapter on the Python adapter kit
(tests/thirdparty/toy_adapter.py). The broken ones:
tests/fakes/protocol_breaker.py, each instance breaking one protocol rule,
and misbehaving_adapter.py's broken hello.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.adapter_check import check_adapter, render
from conformance.adapter_check.model import CATALOGUE, Status
from conformance.adapters.registry import resolve
from conformance.exitcodes import ExitCode
from tests.helpers import REPO
from tests.integration.cli import run_cli

TOY = REPO / "tests" / "thirdparty" / "toy_adapter.py"
TOY_ADAPTER = f"stdio:{sys.executable} {TOY}"
BREAKER = f"stdio:{sys.executable} {REPO / 'tests' / 'fakes' / 'protocol_breaker.py'}"
MISBEHAVING = f"stdio:{sys.executable} {REPO / 'tests' / 'fakes' / 'misbehaving_adapter.py'}"
LINE = re.compile(r"^(✓|✗|⚠|-) (\S+)\s+(.*)$")


@dataclass
class Checked:
    code: int
    stdout: str
    stderr: str

    def lines(self) -> dict[str, tuple[str, str]]:
        """check id -> (symbol, rest of the line)."""
        found = {}
        for line in self.stdout.splitlines():
            match = LINE.match(line)
            if match and match.group(2) in CATALOGUE:
                found[match.group(2)] = (match.group(1), match.group(3))
        return found

    def symbols(self) -> dict[str, str]:
        return {check_id: symbol for check_id, (symbol, _) in self.lines().items()}

    def hint(self, check_id: str) -> str:
        lines = self.stdout.splitlines()
        for index, line in enumerate(lines):
            match = LINE.match(line)
            if match and match.group(2) == check_id and index + 1 < len(lines):
                return lines[index + 1].strip()
        return ""


def adapter_check(adapter: str, *extra: str, timeout: float = 120) -> Checked:
    process = subprocess.run(
        [sys.executable, "-m", "conformance", "adapter-check", "--adapter", adapter, *extra],
        capture_output=True,
        encoding="utf-8",
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
    )
    return Checked(process.returncode, process.stdout, process.stderr)


def assert_all_pass(done: Checked, skipped: tuple[str, ...] = ()) -> None:
    symbols = done.symbols()
    assert set(symbols) == set(CATALOGUE), done.stdout
    bad = {check_id: symbol for check_id, symbol in symbols.items() if symbol != "✓" and check_id not in skipped}
    assert bad == {}, done.stdout + done.stderr
    assert done.code == ExitCode.OK, done.stdout + done.stderr
    assert "the adapter speaks the protocol" in done.stdout


# -- adapters that speak the protocol ------------------------------------------------------------


def test_the_in_process_reference_passes_every_check() -> None:
    report = asyncio.run(check_adapter(resolve("reference")))
    statuses = {check.id: check.status for check in report.checks}
    assert statuses.pop("stdio.bad-line") is Status.SKIP  # stdio adapters only
    assert set(statuses.values()) == {Status.PASS}, render(report)
    assert report.exit_code == ExitCode.OK
    assert report.hello is not None
    assert report.hello["name"] == "reference"


def test_the_report_falls_back_to_words_where_the_terminal_has_no_check_marks() -> None:
    report = asyncio.run(check_adapter(resolve("reference")))
    text = render(report, encoding="ascii")
    text.encode("ascii")
    assert "ok hello.answers" in text
    assert "skip stdio.bad-line" in text


@pytest.mark.slow
def test_the_reference_over_stdio_passes_every_check() -> None:
    done = adapter_check(f"stdio:{sys.executable} -m conformance.adapters.reference_stdio")
    assert_all_pass(done)
    assert "answered protocol_error, then the next request" in done.lines()["stdio.bad-line"][1]


@pytest.mark.slow
def test_the_toy_third_party_adapter_passes_every_check() -> None:
    done = adapter_check(TOY_ADAPTER)
    assert_all_pass(done)
    assert "toy 0.1.0" in done.stdout


def test_the_toy_adapter_needs_nothing_of_the_project_but_the_adapter_kit() -> None:
    tree = ast.parse(TOY.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    ours = {name for name in imported if name.split(".")[0] in ("conformance", "conformance_peer", "tests")}
    assert ours == {"conformance.adapter_kit"}


async def _check_over_websocket() -> Any:
    from websockets.asyncio.server import ServerConnection, serve

    from conformance.adapters.reference import ReferenceAdapter

    async def handler(connection: ServerConnection) -> None:
        adapter = ReferenceAdapter()
        try:
            async for message in connection:
                request = json.loads(message)
                await connection.send(json.dumps(await adapter.request(request)))
        finally:
            await adapter.aclose()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        return await check_adapter(resolve(f"ws://127.0.0.1:{port}/"))


def test_a_websocket_adapter_is_checked_one_connection_per_session() -> None:
    report = asyncio.run(_check_over_websocket())
    statuses = {check.id: check.status for check in report.checks}
    assert statuses.pop("stdio.bad-line") is Status.SKIP
    assert set(statuses.values()) == {Status.PASS}, render(report)


@pytest.mark.slow
def test_the_minimal_example_of_the_guide_does_what_the_guide_says(tmp_path: Path) -> None:
    guide = (REPO / "docs" / "adapters.md").read_text(encoding="utf-8")
    found = re.search(r"```python\n(#!/usr/bin/env python3\n\"\"\"minimal\.py.*?)```", guide, re.S)
    assert found is not None
    minimal = tmp_path / "minimal.py"
    minimal.write_text(found.group(1), encoding="utf-8")
    done = adapter_check(f"stdio:{sys.executable} {minimal}")
    symbols = done.symbols()
    # "passes the hello, session and malformed-request checks"; no socket ops yet.
    assert {c for c, s in symbols.items() if c.startswith(("hello.", "session.", "malformed.")) and s != "✓"} == set()
    assert symbols["roundtrip.connect"] == "✗"
    assert done.code == ExitCode.UNEXPECTED


# -- adapters that break it -----------------------------------------------------------------------


@pytest.mark.slow
def test_an_adapter_that_never_says_hello_cannot_start() -> None:
    done = adapter_check(MISBEHAVING + " --broken-hello")
    assert done.code == ExitCode.INFRASTRUCTURE, done.stdout
    symbol, text = done.lines()["hello.answers"]
    assert symbol == "✗"
    assert "not JSON" in text
    assert "hello? who is this" in text
    assert "send logs to stderr" in done.hint("hello.answers")
    assert "did not start" in done.stdout


def test_a_command_that_does_not_exist_cannot_start() -> None:
    done = adapter_check("stdio:/nonexistent/adapter --flag")
    assert done.code == ExitCode.INFRASTRUCTURE
    assert "cannot start adapter" in done.lines()["hello.answers"][1]


def test_a_bad_timeout_is_a_usage_error() -> None:
    done = adapter_check("reference", "--timeout", "0")
    assert done.code == 2
    assert "--timeout" in done.stderr


BROKEN = [
    # rule, the check that catches it, words its line must contain
    ("seq-int32", "session.seq-large", "got 2147483647"),
    ("unknown-op-unsupported", "malformed.unknown-op", 'status "unsupported"'),
    ("unknown-op-silent", "malformed.unknown-op", "no answer to frobnicate"),
    ("await-ignores-timeout", "pending.timeout", "no answer to await"),
    ("end-without-report", "session.end", "not an object"),
    ("error-as-string", "values.address-nonsense", "not an object"),
    ("stdout-log", "session.begin", "not JSON"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("rule", "check_id", "words"), BROKEN, ids=[rule for rule, _, _ in BROKEN])
def test_each_broken_rule_fails_its_check_with_a_hint(rule: str, check_id: str, words: str) -> None:
    done = adapter_check(f"{BREAKER} --break {rule}", "--timeout", "1")
    assert done.code == ExitCode.UNEXPECTED, done.stdout + done.stderr
    symbol, text = done.lines()[check_id]
    assert symbol == "✗", done.stdout
    assert words in text, text
    assert text.startswith("expected "), text
    assert done.hint(check_id).startswith("hint: "), done.stdout
    # the checker restarts a broken adapter and goes on: the last groups still ran
    assert done.symbols()["shutdown.answers"] == "✓", done.stdout


@pytest.mark.slow
def test_dying_on_a_line_that_is_not_json_is_only_a_warning() -> None:
    done = adapter_check(f"{BREAKER} --break dies-on-bad-line")
    assert done.code == ExitCode.OK, done.stdout
    symbol, text = done.lines()["stdio.bad-line"]
    assert symbol == "⚠"
    assert "exited with code 70" in text
    assert "cannot parse a request; giving up" in done.stdout  # its stderr, shown for the warning


# -- the toy adapter runs cases ------------------------------------------------------------------

LIFECYCLE = [
    "lifecycle.opened-resolves-when-connected",
    "lifecycle.opened-socket-info-string-form",
    "lifecycle.closed-pending-while-open",
    "lifecycle.close-resolves-and-settles-closed",
    "lifecycle.close-ends-connection-at-peer",
    "lifecycle.connect-returns-socket-synchronously",
]


@pytest.mark.slow
def test_the_toy_adapter_runs_lifecycle_cases_without_errors(tmp_path: Path) -> None:
    done = run_cli("run", "--adapter", TOY_ADAPTER, "-k", " or ".join(LIFECYCLE), report_dir=tmp_path)
    assert done.code in (0, 1), done.stderr
    results = done.results()
    assert results["run"]["adapter"]["name"] == "toy"
    outcomes = done.outcomes()
    assert set(outcomes) == set(LIFECYCLE)
    # The toy's messages differ from workerd's (fail is the toy's business); its ops never error.
    assert "error" not in outcomes.values(), results["cases"]
    assert outcomes["lifecycle.opened-resolves-when-connected"] == "pass"
    assert outcomes["lifecycle.closed-pending-while-open"] == "pass"
    assert (tmp_path / "junit.xml").exists()
