"""What the wheel and the sdist carry: every tracked file of the package that is not Python, and of the folders
setup.py maps into it (spec/, expectations/, docker/), by the package-data patterns of pyproject.toml (the slow
proof is tests/integration/test_wheel.py)."""

from __future__ import annotations

import ast
import glob
import subprocess
import tomllib
from pathlib import Path

from tests.helpers import REPO, require_program


def data_folders() -> dict[str, str]:
    """Package -> repository folder: the package itself, and setup.py's ``DATA`` (spec/, expectations/)."""
    tree = ast.parse((REPO / "setup.py").read_text(encoding="utf-8"))
    (mapping,) = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DATA" for t in node.targets)
    ]
    return {"conformance": "conformance", **mapping}


def packaged() -> set[str]:
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    found = set()
    for package, folder in data_folders().items():
        for pattern in patterns.get(package, []):
            found |= {f"{folder}/{name}" for name in glob.glob(pattern, root_dir=REPO / folder, recursive=True)}
    return found


def tracked(*folders: str) -> set[str]:
    git = require_program(("git",), "apt-get install -y git")
    listed = subprocess.run([git, "ls-files", *folders], cwd=REPO, capture_output=True, text=True, check=True)
    return {name for name in listed.stdout.splitlines() if not name.endswith(".py") and Path(REPO, name).is_file()}


def test_every_tracked_data_file_of_the_package_and_of_the_folders_mapped_into_it_is_packaged() -> None:
    wanted = tracked(*data_folders().values())
    assert {
        "spec/behaviours.yaml",
        "expectations/workerd.yaml",
        "docker/Dockerfile",
        "conformance/adapters/js/interpreter.js",
    } <= wanted
    assert any(name.startswith("conformance/adapters/js/drivers/") for name in wanted)
    assert {n for n in wanted if n.startswith("conformance/adapters/js/packages/")} >= {
        "conformance/adapters/js/packages/workerd/package-lock.json",
        "conformance/adapters/js/packages/miniflare/package-lock.json",
    }
    assert sorted(wanted - packaged()) == []


def test_the_version_has_one_source() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "conformance._version.__version__"}
