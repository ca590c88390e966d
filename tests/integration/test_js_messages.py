"""Failure messages of real runs quote values as JavaScript shows them, never as Python's repr (issue 19).

A full run on node-socket (against its expectations) and full runs on mutants of
the reference that fail many cases, in different ways, must leave no Python
``None``/``True``/``False`` and no Python dict, string or bytes repr in any
message or transcript problem of results.json; and the failures say what was
expected and what was seen, side by side.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli import Completed, run_cli

pytestmark = pytest.mark.slow

#: What a Python repr of an implementation's value gives away.
PYTHON_REPR = re.compile(r"\b(None|True|False)\b|\{'|': '|(?<![\\\w])b'")

#: Mutants whose failures show nulls, booleans, objects, byte views, errors and unhandled rejections,
#: with a phrase each of their messages must contain.
MUTANTS = {
    "reset-as-eof": "but it resolved with {done: true}",
    "sni-not-sent": 'handshake.sni: expected "localhost", got null',
    "new-socket-upgraded-true": "expected false, got true",
    "opened-not-marked-handled": 'expected no unhandled rejections, got 1: {name: "Error", message: ',
    "closed-resolves-on-failure": (
        'expected a rejection with an Error with message "proxy request failed, cannot connect to the specified'
        ' address", but it resolved with undefined'
    ),
}


def texts(results: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every case's message and every transcript problem, with the case id."""
    for case in results["cases"]:
        if case.get("message"):
            yield case["id"], case["message"]
        for entry in case.get("transcript") or []:
            if isinstance(entry, dict) and entry.get("problem"):
                yield case["id"], entry["problem"]


def python_reprs(results: dict[str, Any]) -> list[str]:
    return [f"{case}: {text}" for case, text in texts(results) if PYTHON_REPR.search(text)]


def test_the_pattern_finds_what_python_writes() -> None:
    for text in ("got None", "value should be True", "{'name': 'Error'}", "got b'hi'", "it's False"):
        assert PYTHON_REPR.search(text), text
    for text in ("got null", 'expected "\\b"', "the peer's bytes", '{name: "Error"}', "Nonetheless"):
        assert not PYTHON_REPR.search(text), text


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_a_mutants_failures_quote_js(tmp_path: Path, mutant: str) -> None:
    done = run_cli("run", "--adapter", f"reference+{mutant}", report_dir=tmp_path, timeout=300)
    assert done.code == 1, done.stdout[-3000:] + done.stderr[-3000:]
    results = done.results()
    assert python_reprs(results) == []
    messages = [text for _, text in texts(results)]
    assert any(MUTANTS[mutant] in text for text in messages), messages[:20]


@pytest.mark.timeout(1200)  # it may wait for another worker's run of node_socket_full_run
def test_a_full_node_socket_run_quotes_js(node_socket_full_run: Completed) -> None:
    done = node_socket_full_run  # against its expectations (conftest.py)
    assert done.code in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]  # 1: a flaky case may surprise the gate
    results = done.results()
    failed = [case for case in results["cases"] if case["outcome"] == "fail"]
    assert len(failed) > 50  # the package diverges from workerd in many ways: plenty of messages to read
    assert python_reprs(results) == []
    messages = {case["id"]: case["message"] for case in failed}
    assert messages["lifecycle.opened-socket-info-string-form"].endswith(", got undefined")
    assert "but it returned a Socket" in messages["address.string-missing-port[no-colon]"]
