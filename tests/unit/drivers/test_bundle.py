"""The drivers package set and the bundle cache key: pure checks (no npm, no Node)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conformance.adapters import npm_cache
from conformance.drivers import bundle

DRIVERS = ["ioredis", "mqtt", "mysql2", "node-redis", "pg", "postgresjs", "redis-on-workers", "smtp"]
PACKAGES = bundle.JS.joinpath("packages", bundle.PACKAGE_SET)
#: What every module offers; the rest depends on the protocol (README.md, "A scenario").
EVERY_MODULE = {"connect", "tls", "query", "large", "shutdown"}
EXPORTED = re.compile(r"^export async function (\w+)\(", re.MULTILINE)


def exported(driver: str) -> set[str]:
    return set(EXPORTED.findall((bundle.scenario_folder() / f"{driver}.js").read_text(encoding="utf-8")))


def test_every_scenario_module_is_a_driver_and_helpers_are_not() -> None:
    assert bundle.drivers() == DRIVERS
    helpers = sorted(p.name for p in bundle.scenario_folder().glob("_*.js"))
    assert helpers == ["_common.js", "_runner.js", "_smtp.js", "_smtp_wire.js", "_sockets.js"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_each_module_offers_the_common_scenarios(driver: str) -> None:
    assert exported(driver) >= EVERY_MODULE, f"{driver}.js lacks {sorted(EVERY_MODULE - exported(driver))}"


def test_the_readme_names_every_driver_module_and_scenario() -> None:
    readme = (bundle.scenario_folder() / "README.md").read_text(encoding="utf-8")
    for driver in DRIVERS:
        assert f"`{driver}.js`" in readme, driver
    for scenario in set().union(*(exported(driver) for driver in DRIVERS)):
        assert f"| `{scenario}`" in readme, scenario


def test_the_package_set_pins_exact_versions_and_its_lockfile_agrees() -> None:
    manifest = json.loads(PACKAGES.joinpath("package.json").read_text())
    lock = json.loads(PACKAGES.joinpath("package-lock.json").read_text())
    pins = manifest["dependencies"]
    for name in ("pg", "pg-cloudflare", "postgres", "mysql2", "redis-on-workers", "ioredis", "redis", "mqtt"):
        assert name in pins, name
    assert {"esbuild", "@arrowood.dev/socket"} <= set(pins)
    for name, version in pins.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is pinned to a range: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    assert lock["packages"][""]["dependencies"] == pins
    # The polyfill is the node-socket adapter's: both must test the same release.
    assert pins["@arrowood.dev/socket"] == npm_cache.pinned_dependencies("node-socket")["@arrowood.dev/socket"]


@pytest.fixture
def scenario_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "drivers"
    shutil.copytree(bundle.scenario_folder(), folder)
    monkeypatch.setattr(bundle, "scenario_folder", lambda: folder)
    return folder


def test_the_cache_key_follows_every_input(scenario_copy: Path) -> None:
    before = {target: bundle.cache_key(target) for target in bundle.TARGETS}
    assert before["workerd"] != before["node"]
    assert bundle.cache_key("workerd") == before["workerd"]  # stable

    helper = scenario_copy / "_common.js"
    helper.write_text(helper.read_text() + "\n// changed\n")
    changed = bundle.cache_key("workerd")
    assert changed != before["workerd"]

    (scenario_copy / "extra.js").write_text("export async function connect() {}\n")
    assert bundle.cache_key("workerd") not in (before["workerd"], changed)
    assert "extra" in bundle.drivers()


def test_the_bundle_folder_lives_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path))
    folder = bundle.bundle_dir("node")
    assert folder.parent == tmp_path / "drivers"
    assert folder.name == f"node-{bundle.cache_key('node')}"


def test_an_unknown_target_is_refused() -> None:
    with pytest.raises(ValueError, match='unknown bundle target "deno"'):
        bundle.bundles("deno")  # type: ignore[arg-type]
