"""``tests.helpers.require_release``: a test that needs a published runtime release gets a skip naming
the install command on a developer's machine, a failure under ``CI=true``, and never a download.
(``require_library`` asks ldconfig, a subprocess: tests/integration/test_fresh_machine.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.adapters import npm_cache
from tests.helpers import require_release


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    return tmp_path / "cache"


def test_a_missing_release_skips_naming_the_install_command(empty_cache: Path) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_release("workerd", "1.20230512.0", "1.20261014.1")
    assert str(skipped.value) == (
        f"workerd@1.20230512.0, workerd@1.20261014.1 are not installed in {empty_cache}"
        " (connect-conformance install workerd@1.20230512.0 workerd@1.20261014.1); CI=true makes this test required"
    )
    assert not empty_cache.exists(), "nothing is installed"


def test_a_missing_release_fails_in_ci(empty_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"workerd@1\.20230512\.0 is not installed"):
        require_release("workerd", "1.20230512.0")


def test_an_installed_release_is_found_by_its_stamp(empty_cache: Path) -> None:
    folder = npm_cache.version_dir("workerd", "1.20230512.0")
    folder.mkdir(parents=True)
    with pytest.raises(pytest.skip.Exception):
        require_release("workerd", "1.20230512.0")  # a folder without its stamp is an interrupted install
    (folder / npm_cache.STAMP).write_text("ok\n")
    require_release("workerd", "1.20230512.0")


def test_the_release_of_a_package_with_a_scope_is_looked_up_under_its_package(empty_cache: Path) -> None:
    folder = npm_cache.version_dir("@arrowood.dev/socket", "0.2.0")
    folder.mkdir(parents=True)
    (folder / npm_cache.STAMP).write_text("ok\n")
    require_release("node-socket", "0.2.0")
