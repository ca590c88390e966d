"""Installing one published version into the cache (``npm_cache.ensure_version``) with a stand-in ``npm``:
progress on stderr, a complete entry or none, and no npm at all once installed."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from conformance.adapters import npm_cache
from conformance.errors import InfrastructureError

#: Acts like `npm install --save-exact`: writes node_modules/<package> and a lockfile, or fails on request.
FAKE_NPM = """#!/bin/sh
set -e
[ -n "$FAKE_NPM_FAIL" ] && { echo "npm ERR! 404 Not Found" >&2; exit 1; }
echo "$@" >> "$FAKE_NPM_LOG"
mkdir -p node_modules/workerd
echo '{"name":"workerd","version":"1.20260426.1"}' > node_modules/workerd/package.json
echo '{"lockfileVersion":3}' > package-lock.json
"""


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    npm = folder / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "npm.log"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    return log


def test_a_version_installs_once_with_progress_then_needs_no_npm(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    modules = npm_cache.ensure_version("workerd", "1.20260426.1")
    target = tmp_path / "cache" / "npm" / "workerd@1.20260426.1"
    assert modules == target / "node_modules"
    assert json.loads((modules / "workerd" / "package.json").read_text())["version"] == "1.20260426.1"
    manifest = json.loads((target / "package.json").read_text())
    assert manifest["dependencies"] == {"workerd": "1.20260426.1"}
    assert (target / "package-lock.json").is_file()
    assert npm_cache.is_installed(target)
    err = capfd.readouterr().err
    assert f"installing workerd@1.20260426.1 into {target} (first use only)..." in err
    assert "installed workerd@1.20260426.1 in " in err
    assert fake_npm.read_text().split()[:2] == ["install", "--save-exact"]
    # Installed: npm is never asked again, even when there is none.
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert npm_cache.ensure_version("workerd", "1.20260426.1") == modules
    assert capfd.readouterr().err == ""
    assert len(fake_npm.read_text().splitlines()) == 1


def test_a_failed_install_leaves_nothing_that_looks_installed(
    fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_FAIL", "1")
    with pytest.raises(InfrastructureError, match=r"npm install of workerd@1\.2\.3 failed \(exit 1\).*404 Not Found"):
        npm_cache.ensure_version("workerd", "1.2.3", quiet=True)
    assert list((tmp_path / "cache" / "npm").iterdir()) == []


def test_without_npm_the_error_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InfrastructureError, match=r"installing @arrowood\.dev/socket@0\.2\.0 needs npm"):
        npm_cache.ensure_version("@arrowood.dev/socket", "0.2.0")
    assert npm_cache.version_dir("@arrowood.dev/socket", "0.2.0").name == "arrowood.dev+socket@0.2.0"
