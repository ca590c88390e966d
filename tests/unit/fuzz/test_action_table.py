"""Issue 20: whatever branches on an action reads ``engine.actions.ACTIONS``.

The fuzzer's own table (``fuzz/moves.py``: how each action is drawn, or why it is
not) must account for every action, and the loader and the fuzzer's other
modules name no action of their own: a new client action then has exactly the
places the recipe in docs/architecture.md lists, and a test that fails until
the fuzzer draws it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import conformance
from conformance.engine.actions import ACTIONS, Kind, by_kind
from conformance.fuzz.moves import GENERATED, NOT_GENERATED, unaccounted

ROOT = Path(conformance.__file__).parent

#: Modules that branch on actions and must do it through ACTIONS (the fuzzer's table, moves.py, aside).
READERS = [
    "cases/loader.py",
    *(f"fuzz/{path.name}" for path in sorted((ROOT / "fuzz").glob("*.py")) if path.name != "moves.py"),
]

#: Strings that equal an action's name but mean something else there.
ELSEWHERE = {
    ("fuzz/emit.py", "read"): "a reply shape of protocol.replies.SHAPE_OF_OP",
    ("fuzz/emit.py", "read_bytes"): "a reply shape of protocol.replies.SHAPE_OF_OP",
    ("fuzz/observations.py", "read"): "a reply shape of protocol.replies.SHAPE_OF_OP",
    ("fuzz/observations.py", "read_bytes"): "a reply shape of protocol.replies.SHAPE_OF_OP",
    ("fuzz/observations.py", "end"): "the transcript's marker of the session's end",
    ("fuzz/search.py", "end"): "a word of a comment line the written case carries",
}


def test_every_action_is_drawn_by_the_fuzzer_or_says_why_not() -> None:
    assert unaccounted() == []
    assert not set(GENERATED) & set(NOT_GENERATED)
    assert set(GENERATED) | set(NOT_GENERATED) == set(ACTIONS)
    ops = {name for name in by_kind(Kind.CLIENT) if not ACTIONS[name].drives_server}
    assert ops <= set(GENERATED), "every client op of an implementation is fuzzed"
    # A driver scenario needs the case's server: (a real database or cache); no generated scenario has one.
    assert {name for name in by_kind(Kind.CLIENT) if ACTIONS[name].drives_server} <= set(NOT_GENERATED)


def test_a_new_client_action_is_reported_until_the_fuzzer_draws_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ACTIONS, "flush", ACTIONS["close"])  # a client action the fuzzer has never seen
    assert unaccounted() == ["flush"]
    monkeypatch.setitem(NOT_GENERATED, "flush", "a reason is not enough for a client op")
    assert unaccounted() == ["flush"]


@pytest.mark.parametrize("module", READERS)
def test_no_module_names_an_action_of_its_own(module: str) -> None:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    named = sorted(
        {
            (node.lineno, node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value in ACTIONS
            and (module, node.value) not in ELSEWHERE
        }
    )
    assert named == [], f"{module} names actions itself; read them from ACTIONS (ActionSpec) instead"
