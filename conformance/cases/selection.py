"""Choosing cases: the spec paths, ``-k EXPR`` (pytest-like) and ``--tag``."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from ..core.jsshow import show
from ..core.model import Case
from ..core.packaged import from_here
from ..core.text import plural
from ..errors import SpecError, UsageError
from .loader import load, load_strict
from .specdir import default_spec_dir, with_vendor_folders

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


class _Parser:
    """``EXPR := OR; OR := AND ('or' AND)*; AND := NOT ('and' NOT)*; NOT := 'not' NOT | '(' OR ')' | WORD``.

    A word matches a case when it is a substring of the case id.
    """

    def __init__(self, expression: str) -> None:
        self.tokens = _TOKEN.findall(expression)
        self.position = 0
        self.expression = expression

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise UsageError(f"-k {show(self.expression)}: unexpected end of expression")
        self.position += 1
        return token

    def parse(self) -> object:
        tree = self.parse_or()
        if self.peek() is not None:
            raise UsageError(f"-k {show(self.expression)}: unexpected {show(self.peek())}")
        return tree

    def parse_or(self) -> object:
        tree = self.parse_and()
        while self.peek() == "or":
            self.take()
            tree = ("or", tree, self.parse_and())
        return tree

    def parse_and(self) -> object:
        tree = self.parse_not()
        while self.peek() == "and":
            self.take()
            tree = ("and", tree, self.parse_not())
        return tree

    def parse_not(self) -> object:
        token = self.take()
        if token == "not":
            return ("not", self.parse_not())
        if token == "(":
            tree = self.parse_or()
            if self.take() != ")":
                raise UsageError(f"-k {show(self.expression)}: missing ')'")
            return tree
        if token in ("and", "or", ")"):
            raise UsageError(f"-k {show(self.expression)}: unexpected {show(token)}")
        return ("word", token)


def _evaluate(tree: object, text: str) -> bool:
    assert isinstance(tree, tuple)
    kind = tree[0]
    if kind == "word":
        return bool(tree[1] in text)
    if kind == "not":
        return not _evaluate(tree[1], text)
    if kind == "and":
        return _evaluate(tree[1], text) and _evaluate(tree[2], text)
    return _evaluate(tree[1], text) or _evaluate(tree[2], text)


def select(cases: Sequence[Case], keyword: str | None = None, tags: Sequence[str] = ()) -> list[Case]:
    tree = _Parser(keyword).parse() if keyword else None
    chosen = []
    for case in cases:
        if tree is not None and not _evaluate(tree, case.id):
            continue
        if tags and not set(tags) & set(case.tags) and case.area not in tags:
            continue
        chosen.append(case)
    return chosen


def spec_paths(values: Sequence[str | Path], vendor: Sequence[Path] = ()) -> list[Path]:
    """The spec paths asked for (default: the suite's spec/), each of which must exist, with the areas of
    the ``--spec`` folders ``vendor`` in place of the areas of the same names, or added."""
    paths = [Path(v) for v in values] if values else [from_here(default_spec_dir())]
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such spec file or folder: {path}")
    return with_vendor_folders(paths, vendor)


def load_selection(
    paths: Sequence[Path], keyword: str | None, tags: Sequence[str]
) -> tuple[list[Case], list[SpecError]]:
    """The valid selected cases, and the spec problems (printed; the broken cases do not run)."""
    loaded, errors = load(paths, cached=True)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print(
            f"{plural(len(errors), 'problem')} in the spec: those cases will not run; the others will", file=sys.stderr
        )
    cases = select(loaded, keyword, tags)
    if not cases:
        raise UsageError("no case matches the selection" if not errors else "no valid case to run")
    return cases, errors


def load_strict_selection(paths: Sequence[Path], keyword: str | None, tags: Sequence[str]) -> list[Case]:
    """The selected cases; any spec problem stops here (``SpecErrors``)."""
    cases = select(load_strict(paths), keyword, tags)
    if not cases:
        raise UsageError("no case matches the selection")
    return cases
