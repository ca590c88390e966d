"""The suite as a runtime team installs it: the wheel in a fresh virtualenv, run from a folder of theirs.

One wheel is built (``pip wheel . --no-deps`` of a copy of the build inputs, so that nothing a developer
left in ``build/`` can stand in for a missing file; ``connect-conformance image`` builds it the same way)
and installed with its dependencies (from PyPI or the pip cache) into a fresh virtualenv; every run
starts in an empty folder with nothing of the checkout on any path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance._version import __version__
from conformance.adapters import npm_cache
from conformance.cases.loader import load_strict
from conformance.peer import harness_image
from tests.helpers import REPO, require_npm_packages, without_drivers
from tests.unit.test_packaging import data_folders, tracked

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def command(self) -> Path:
        return self.venv / "bin" / "connect-conformance"

    def run(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        clean["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
        return subprocess.run(
            [str(self.command), *args],
            cwd=cwd,
            env={**clean, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )


def _check(done: subprocess.CompletedProcess[str | bytes], what: str) -> None:
    assert done.returncode == 0, f"{what} failed ({done.returncode}):\n{done.stdout!s}\n{done.stderr!s}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    # What `connect-conformance image` builds too: `pip wheel . --no-deps` of a copy of the build inputs.
    wheel = harness_image.build_wheel(REPO, tmp_path_factory.mktemp("dist"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    venv = tmp_path_factory.mktemp("venv")
    _check(subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True), "venv")
    # This pip installs into the fresh environment (--python): the environment needs no pip of its own. With the
    # drivers extra (the SMTP server of the drivers area), as a runtime team that runs every area installs it.
    added = subprocess.run(
        [*pip, "--python", str(venv / "bin" / "python"), "install", "--quiet", f"{wheel}[drivers]"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    _check(added, "pip install")
    return Installed(wheel, venv)


def _in_wheel(name: str) -> str:
    """The name in the wheel of a tracked file: spec/x is conformance/spec/x."""
    folder, _, rest = name.partition("/")
    package = {v: k for k, v in data_folders().items()}[folder]
    return f"{package.replace('.', '/')}/{rest}"


def test_the_wheel_carries_the_spec_the_expectations_the_dockerfile_and_every_js_piece(installed: Installed) -> None:
    wanted = tracked(*data_folders().values())
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert sorted(_in_wheel(name) for name in wanted if _in_wheel(name) not in names) == []
    assert "conformance_peer/control.py" in names
    assert installed.wheel.name == f"connect_conformance-{__version__}-py3-none-any.whl"


def test_the_sdist_carries_them_in_the_repositorys_layout(tmp_path: Path) -> None:
    wanted = tracked(*data_folders().values())
    source = tmp_path / "source"
    harness_image.copy_build_inputs(REPO, source)
    # The build's own requirement (pyproject.toml), as pip's isolated build would have it.
    backend = tmp_path / "backend"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _check(
        subprocess.run([*pip, "install", "--quiet", "--target", str(backend), *requires], capture_output=True), "pip"
    )
    dist = tmp_path / "sdist"
    made = subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})"],
        cwd=source,
        env={**os.environ, "PYTHONPATH": str(backend)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    _check(made, "build_sdist")
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        carried = {name.partition("/")[2] for name in archive.getnames()}
    assert sorted(wanted - carried) == []
    assert "setup.py" in carried


def test_the_installed_command_knows_its_version(installed: Installed, tmp_path: Path) -> None:
    done = installed.run("--version", cwd=tmp_path)
    _check(done, "--version")
    assert done.stdout.strip() == f"connect-conformance {__version__}"


def _results(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    return loaded


def test_run_from_an_empty_folder_passes_every_case_on_the_reference(installed: Installed, tmp_path: Path) -> None:
    done = installed.run("run", "-q", cwd=tmp_path)
    _check(done, "run")
    results = _results(tmp_path / "reports" / "latest")
    expected = {case.id for case in load_strict([REPO / "spec"])}
    assert {case["id"] for case in results["cases"]} == expected
    not_passing = [
        (c["id"], c["outcome"], c.get("skipped_by"))
        for c in without_drivers(results["cases"])
        if c["outcome"] != "pass"
    ]
    if results["run"]["sandboxed"]:
        assert not_passing == []
    else:
        needs_sandbox = {case.id for case in load_strict([REPO / "spec"]) if "sandbox" in case.requires}
        assert sorted(not_passing) == sorted((case_id, "skip", "environment") for case_id in needs_sandbox)
    assert results["run"]["suite_version"] == __version__
    # The cases came from the installed package, not from this checkout.
    (read,) = results["run"]["selection"]["paths"]
    assert Path(read).is_relative_to(installed.venv)


def test_run_on_workerd_with_the_shipped_expectations_exits_0(installed: Installed, tmp_path: Path) -> None:
    require_npm_packages("workerd")
    report = tmp_path / "report"
    done = installed.run(
        "run",
        "--adapter",
        "workerd",
        "--expectations",
        "workerd",
        "-q",
        "--report-dir",
        str(report),
        cwd=tmp_path,
        env={"CONNECT_CONFORMANCE_CACHE": str(npm_cache.cache_root())},
    )
    _check(done, "run --adapter workerd")
    results = _results(report)
    assert results["run"]["adapter"]["name"] == "workerd"
    shipped = Path(results["run"]["selection"]["expectations"])
    assert shipped.is_relative_to(installed.venv)
    assert shipped.read_bytes() == (REPO / "expectations" / "workerd.yaml").read_bytes()
    assert any(case["outcome"] != "pass" for case in results["cases"]), "workerd has known gaps: were they judged?"
