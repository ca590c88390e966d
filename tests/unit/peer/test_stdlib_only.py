"""The peer imports nothing but the standard library (it runs in a bare python3 container)."""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "servers" / "conformance_peer"


def imported_top_level_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_import_is_stdlib() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) > 5
    outside = {
        f"{path.name}: {name}"
        for path in modules
        for name in imported_top_level_modules(path)
        if name not in sys.stdlib_module_names
    }
    assert outside == set()
