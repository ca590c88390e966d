"""Spec and expectations input that used to crash or exhaust the loader (issue 9, items 7-10).

Every input gives problems naming ``file:line``, never an exception; the
limits are those of ``conformance/cases/yamlsource.py`` (spec/README.md section 9).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conformance.cases import loader, yamlsource
from conformance.errors import SpecError
from conformance.execution import expectations

CASE = """\
- id: lifecycle.{name}
  title: A case
  level: must
  source: [B16]
  steps:
    - sleep: 10ms
"""


def bomb(levels: int = 9) -> str:
    """A "billion laughs": 9^levels nodes once expanded, about 700 bytes written."""
    lines = ["- id: lifecycle.bomb", "  title: t", "  level: must", "  source: [B16]", "  steps: [{sleep: 1ms}]"]
    lines += ["  variants:", "    - {name: v0, value: &a0 [x, x, x, x, x, x, x, x, x]}"]
    for level in range(1, levels):
        lines.append(f"    - {{name: v{level}, value: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]}")
    return "\n".join(lines) + "\n"


def load_text(tmp_path: Path, data: str | bytes) -> tuple[list[str], list[str]]:
    folder = tmp_path / "spec" / "lifecycle"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cases.yaml"
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    # CPU time, which a busy machine barely inflates; the largest input here (1500 cases) takes 0.7 s.
    # The bound is there for an exponential blow-up (an alias bomb expanded), not for speed.
    started = time.process_time()
    cases, errors = loader.load([tmp_path / "spec"])
    assert time.process_time() - started < 10
    for error in errors:
        assert error.file == str(path)
        assert error.line is not None, str(error)
        assert error.line >= 1, str(error)
    return [case.id for case in cases], [str(error) for error in errors]


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        pytest.param("- {[1]: 2}\n", 1, "a mapping key must be a string, got a list", id="unhashable-key"),
        pytest.param(
            "- {id: x, 1: a, zz: b}\n",
            1,
            'a mapping key must be a string, got an integer 1: write it in quotes, "1"',
            id="mixed-keys",
        ),
        pytest.param("- on: 1\n", 1, "got a boolean on", id="boolean-key"),
        pytest.param("- " + "[" * 300 + "]" * 300 + "\n", 1, "nested more than 64 levels deep", id="deep-300"),
        pytest.param(
            "-\n" + "".join(" " * n + "-\n" for n in range(1, 80)), 65, "nested more than 64", id="deep-block"
        ),
        pytest.param("- id: x\x01\n", 1, "character U+0001 at column 8 is not allowed in YAML", id="control-char"),
        pytest.param("- id: x\n- title: \x1b[2J\n", 2, "U+001B", id="escape-char"),
        pytest.param(CASE.format(name="a").replace("10ms", "9" * 5000), 6, "an integer of 5000 digits", id="bigint"),
        pytest.param(CASE.format(name="a") + "  # caf\xe9\n", 7, "not UTF-8 (byte 0xe9", id="latin-1"),
        pytest.param(bomb(), 1, "expands to more than 200000 nodes", id="alias-bomb"),
        pytest.param("- &a [*a]\n", 1, "an alias refers to a node that contains it", id="recursive-alias"),
        pytest.param(
            "- &x {id: a}\n" + "".join("- *x\n" for _ in range(1001)), 1002, "more than 1000 aliases", id="aliases"
        ),
        pytest.param("- title: " + "t" * 10_001 + "\n", 1, "a line of 10010 characters", id="long-line"),
        pytest.param(CASE.format(name="a").replace("[B16]", "[2027-02-30]"), 4, "invalid date", id="bad-date"),
        pytest.param(("# " + "x" * 9000 + "\n") * 100, 59, "larger than 512 KiB (the limit); split it", id="too-large"),
        pytest.param("", 1, "expected a list of cases, got nothing (an empty file)", id="empty-file"),
        pytest.param("[]\n", 1, "the file holds no cases", id="empty-list"),
        pytest.param("just text\n", 1, "expected a list of cases, got a string", id="not-a-list"),
    ],
)
def test_hostile_input_is_a_problem_with_its_line(tmp_path: Path, data: str, line: int, problem: str) -> None:
    _, errors = load_text(tmp_path, data.encode("latin-1") if "caf\xe9" in data else data)
    assert errors, "the input should have been rejected"
    assert any(f"cases.yaml:{line}:" in error and problem in error for error in errors), errors


def test_the_limits_leave_room_for_real_files(tmp_path: Path) -> None:
    ids, errors = load_text(tmp_path, "".join(CASE.format(name=f"c{n}") for n in range(1500)))
    assert errors == []
    assert len(ids) == 1500
    assert bomb(4).count("*") < yamlsource.MAX_ALIASES
    assert load_text(tmp_path, bomb(4))[1] == [], "9^4 expanded nodes is a legitimate use of aliases"


def test_a_valid_case_after_a_broken_one_still_loads(tmp_path: Path) -> None:
    broken = CASE.format(name="broken").replace("level: must", "level: sometimes")
    ids, errors = load_text(tmp_path, broken + CASE.format(name="valid") + CASE.format(name="also-valid"))
    assert ids == ["lifecycle.valid", "lifecycle.also-valid"]
    assert len(errors) == 1
    assert "cases.yaml:3: level:" in errors[0]


def test_a_duplicate_key_costs_only_its_own_case(tmp_path: Path) -> None:
    duplicated = CASE.format(name="twice").replace("  level: must\n", "  level: must\n  level: info\n")
    ids, errors = load_text(tmp_path, CASE.format(name="before") + duplicated + CASE.format(name="after"))
    assert ids == ["lifecycle.before", "lifecycle.after"]
    assert len(errors) == 1
    assert "cases.yaml:10: level: duplicate key" in errors[0]


def test_an_empty_folder_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "spec").mkdir()
    cases, errors = loader.load([tmp_path / "spec"])
    assert cases == []
    assert [str(error) for error in errors] == [f"{tmp_path / 'spec'}: no spec files (*.yaml) in this folder"]


def write_expectations(tmp_path: Path, data: str | bytes) -> Path:
    path = tmp_path / "expectations.yaml"
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param(b"cases:\n  a.x: {outcome: fail, reason: caf\xe9}\n", r":2: not UTF-8", id="not-utf-8"),
        pytest.param(
            'cases:\n  a.x: {outcome: fail, reason: r, flaky: "yes"}\n', "a.x.flaky: expected true", id="flaky"
        ),
        pytest.param("cases:\n  a.x: {outcome: fail, reason: r, link: [1]}\n", "a.x.link: expected a URL", id="link"),
        pytest.param("cases:\n  a.x: {outcome: [fail], reason: r}\n", "expected one of fail", id="outcome-list"),
        pytest.param("cases:\n  1: {outcome: fail, reason: r}\n", "a mapping key must be a string", id="int-key"),
        pytest.param("implementation: [x]\ncases: {}\n", "implementation: expected a name", id="implementation"),
        pytest.param("cases:\n  a.x: {outcome: fail, reason: r, until: 2027-02-30}\n", "invalid date", id="bad-date"),
    ],
)
def test_bad_expectations_files_are_spec_errors(tmp_path: Path, data: str | bytes, problem: str) -> None:
    with pytest.raises(SpecError, match=problem) as raised:
        expectations.load(write_expectations(tmp_path, data))
    assert raised.value.line is not None
