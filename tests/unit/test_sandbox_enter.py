"""Entering the sandbox in this process (as root) or saying why not, before anything changes."""

from __future__ import annotations

import os
import threading

import pytest

from conformance import sandbox
from conformance.sandbox import enter as enter_module
from conformance.sandbox.create import Availability


def _refuse(_: object) -> None:
    raise enter_module.SandboxRefused("unshare(CLONE_NEWNET | CLONE_NEWNS): Operation not permitted")


def test_a_refused_unshare_is_a_reason_and_nothing_is_re_executed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "availability", lambda probe=True: Availability(True, "", user_namespace=False))
    monkeypatch.setattr(enter_module, "enter_here", _refuse)
    monkeypatch.setattr(sandbox, "reexec", lambda argv: pytest.fail(f"re-executed {argv}"))
    monkeypatch.delenv(sandbox.ENV_VAR, raising=False)
    assert sandbox.move_in(["run"]) == "unshare(CLONE_NEWNET | CLONE_NEWNS): Operation not permitted"
    assert sandbox.ENV_VAR not in os.environ


def test_with_a_thread_running_or_as_a_user_the_command_is_re_executed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A process with threads cannot enter new mount (or user) namespaces itself.
    execs: list[list[str]] = []
    monkeypatch.setattr(enter_module, "enter_here", lambda description: pytest.fail("entered in this process"))
    monkeypatch.setattr(sandbox, "reexec", lambda argv: execs.append(list(argv)))
    monkeypatch.setattr(sandbox, "availability", lambda probe=True: Availability(True, "", user_namespace=True))
    with pytest.raises(AssertionError, match="not reached"):
        sandbox.move_in(["run", "-k", "x"])
    assert len(execs) == 1
    assert execs[0][-3:] == ["run", "-k", "x"]
    monkeypatch.setattr(sandbox, "availability", lambda probe=True: Availability(True, "", user_namespace=False))
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        with pytest.raises(AssertionError, match="not reached"):
            sandbox.move_in(["run"])
    finally:
        stop.set()
        worker.join()
    assert len(execs) == 2


def test_where_none_can_be_made_the_reason_comes_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sandbox, "availability", lambda probe=True: Availability(False, "'ip' (iproute2) is not on PATH", False)
    )
    monkeypatch.setattr(enter_module, "enter_here", lambda description: pytest.fail("entered"))
    assert sandbox.move_in(["run"]) == "'ip' (iproute2) is not on PATH"
