"""The package's layers stay one-way: no import cycle inside ``conformance/``, lazy imports included."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

PACKAGE = REPO / "conformance"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every module of the package that ``path`` imports, at module level or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from x import y` imports x.y when y is a module, else x.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = [path for path in PACKAGE.rglob("*.py")]
    modules = {module_name(path) for path in files}
    return {module_name(path): imports_of(path, modules) for path in files}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def package_of(module: str) -> str:
    """``conformance.execution.suite`` -> ``conformance.execution``; a top-level module is its own package."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_the_packages_have_no_import_cycle_either() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in import_graph().items():
        # A package's __init__ re-exporting its own modules is not a dependency between packages.
        here = package_of(module)
        packages.setdefault(here, set()).update(package_of(t) for t in targets if package_of(t) != here)
    packages.pop("conformance", None)  # the root's lazy public API points everywhere, and nothing imports it
    for targets in packages.values():
        targets.discard("conformance")
    cycle = find_cycle(packages)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_relative_and_lazy_imports_are_seen() -> None:
    graph = import_graph()
    assert "conformance.execution.suite" in graph["conformance.commands.run"]  # imported inside a function
    assert "conformance.adapters.base" in graph["conformance.adapters.registry"]
    assert "conformance" not in graph["conformance.cli"]


PEER = REPO / "servers" / "conformance_peer"
PEER_OWN_TESTS = REPO / "tests" / "unit" / "peer"


def private_peer_imports(source: str, where: str) -> list[str]:
    """The private modules of the peer (``conformance_peer._x``) that ``source`` imports, by line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        parts = [name.split(".") for name in names]
        found += [
            f"{where}:{node.lineno}: {'.'.join(name)}"
            for name in parts
            if name[0] == "conformance_peer" and len(name) > 1 and name[1].startswith("_")
        ]
    return found


def test_nothing_outside_the_peer_imports_its_private_modules() -> None:
    # The peer's own unit tests may test its internals; everyone else uses its public names.
    files = [
        path
        for path in REPO.glob("**/*.py")
        if not path.is_relative_to(PEER)
        and not path.is_relative_to(PEER_OWN_TESTS)
        and not any(part.startswith(".") or part == "node_modules" for part in path.relative_to(REPO).parts)
    ]
    assert len(files) > 100
    found = [line for path in files for line in private_peer_imports(path.read_text(encoding="utf-8"), str(path))]
    assert found == []


def test_a_private_peer_import_is_seen() -> None:
    source = (
        "from conformance_peer import _wire, wire\nimport conformance_peer._session\nimport conformance_peer.calls\n"
    )
    assert private_peer_imports(source, "probe.py") == [
        "probe.py:1: conformance_peer._wire",
        "probe.py:2: conformance_peer._session",
    ]
