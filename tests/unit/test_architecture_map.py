"""docs/architecture.md is the map: every module of conformance/ is on it (issue 20)."""

from __future__ import annotations

import re

from tests.helpers import REPO

PACKAGE = REPO / "conformance"
MAP = REPO / "docs" / "architecture.md"


def _named(text: str, relative: str) -> bool:
    """A module is on the map when its path is, or its file name in a row that names its package's folder."""
    if f"`{relative}`" in text or f"`{relative}," in text:
        return True
    folder, _, name = relative.rpartition("/")
    if not folder:
        return False
    if name == "__init__.py":
        return f"`{folder}/" in text  # a package is on the map with its modules
    return any(f"`{folder}/" in line and f"`{name}`" in line for line in text.splitlines())


def test_every_module_under_conformance_is_on_the_map() -> None:
    text = MAP.read_text(encoding="utf-8")
    missing = [
        path.relative_to(PACKAGE).as_posix()
        for path in sorted(PACKAGE.rglob("*.py"))
        if not _named(text, path.relative_to(PACKAGE).as_posix())
    ]
    assert missing == [], "add these to docs/architecture.md's map: " + ", ".join(missing)


def test_the_map_names_no_module_that_is_gone() -> None:
    text = MAP.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py)`", text))
    gone = sorted(
        path
        for path in named
        if not (PACKAGE / path).is_file() and not (REPO / path).is_file() and not (REPO / "servers" / path).is_file()
    )
    assert gone == []
