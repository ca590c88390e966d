"""Messages are matched exactly: a case that matches a string with a regex or a prefix says why.

Wherever the catalogue or workerd's source gives the text, a case compares the whole message; a
`$regex` or `$prefix` is kept only where implementations or versions really differ (an id that is
random per error, an internal type name, an optional internal prefix), and a comment inside that
case says which (docs/writing-cases.md, step 4).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import REPO

SPEC = REPO / "spec"
MATCHER = re.compile(r"\$(regex|prefix)\b")


def _cases(path: Path) -> list[tuple[int, list[str]]]:
    """Each case of a spec file as (first line number, its lines): a case starts at a top-level "- "."""
    cases: list[tuple[int, list[str]]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("- "):
            cases.append((number, [line]))
        elif cases:
            cases[-1][1].append(line)
    return cases


def _unexplained(path: Path) -> list[int]:
    """The first lines of the cases that use a matcher without a comment."""
    found = []
    for start, lines in _cases(path):
        if any(MATCHER.search(line) for line in lines) and not any(line.lstrip().startswith("#") for line in lines):
            found.append(start)
    return found


@pytest.mark.parametrize("path", sorted(SPEC.rglob("*.yaml")), ids=lambda path: str(path.relative_to(SPEC)))
def test_every_case_that_matches_by_regex_or_prefix_says_why(path: Path) -> None:
    assert _unexplained(path) == []


def test_the_check_finds_an_unexplained_regex(tmp_path: Path) -> None:
    spec = tmp_path / "x.yaml"
    spec.write_text(
        "- id: a.one\n  steps:\n    - await: opened\n      expect: {rejects: {message: {$regex: '^x'}}}\n"
        "- id: a.two\n  steps:\n    # why: the id is random\n    - await: opened\n"
        "      expect: {rejects: {message: {$prefix: 'x'}}}\n",
        encoding="utf-8",
    )
    assert _unexplained(spec) == [1]
