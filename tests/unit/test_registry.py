"""One table of built-in adapters; everything that lists adapters reads it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.adapters import registry
from conformance.adapters.base import MAX_LANES
from conformance.adapters.npm_cache import PACKAGES
from conformance.errors import UsageError
from conformance.execution.runner import lane_count
from tests.helpers import REPO


def test_the_readme_table_lists_exactly_the_builtin_adapters() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("| `--adapter` | implementation |", 1)[1].split("\n\n", 1)[0]
    names = re.findall(r"^\| `([a-z-]+)`", table, flags=re.MULTILINE)
    assert names == registry.names()


def test_npm_package_sets_exist_for_the_adapters_that_name_one() -> None:
    shipped = {entry.name for entry in PACKAGES.iterdir() if entry.is_dir()}
    assert set(registry.npm_package_sets().values()) | set(registry.OTHER_PACKAGE_SETS) == shipped


def test_published_adapters_have_their_expectations_file() -> None:
    for entry in registry.BUILTINS:
        if entry.expectations:
            assert (REPO / entry.expectations).is_file(), entry.name


def test_every_factory_is_importable() -> None:
    for entry in registry.BUILTINS:
        module, _, function = entry.factory.partition(":")
        assert callable(getattr(__import__(module, fromlist=[function]), function)), entry.name


def test_unknown_adapters_and_mutants_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="expected one of reference, workerd, node-socket"):
        registry.resolve("teleport")
    with pytest.raises(UsageError, match='unknown mutant "nope"'):
        registry.resolve("reference+nope")
    with pytest.raises(UsageError, match="expected one of"):
        registry.resolve("workerd+x")


def test_auto_lanes_follow_the_adapter_and_never_exceed_the_cases() -> None:
    reference = registry.resolve("reference")
    stdio = registry.resolve("stdio:python adapter.py")
    assert lane_count(reference, None, 500) == reference.default_lanes == 32
    assert lane_count(stdio, None, 500) == registry.EXTERNAL_LANES
    assert lane_count(reference, None, 3) == 3
    assert lane_count(reference, 2, 500) == 2
    assert lane_count(reference, None, 0) == 1
    assert reference.default_lanes <= MAX_LANES


def test_every_adapter_the_harness_starts_may_go_in_the_sandbox_but_a_ws_server() -> None:
    for value in (
        "reference",
        "reference+writer-close-no-fin",
        "workerd@1.20260426.1",
        "stdio:node a.mjs",
        "ws-launch:x",
    ):
        assert registry.sandboxable(value), value
    assert not registry.sandboxable("ws://127.0.0.1:9000/")
    assert not registry.sandboxable("wss://example.test/")


def test_a_published_version_is_the_same_builtin_as_its_name() -> None:
    workerd = registry.builtin("workerd")
    assert workerd is not None
    assert registry.parse_versioned("workerd@1.20260426.1") == (workerd, "1.20260426.1")
    assert registry.parse_versioned("workerd") is None
    assert registry.parse_versioned("stdio:node adapter@2.mjs") is None


def test_name_at_version_is_parsed_in_one_place() -> None:
    workerd = registry.builtin("workerd")
    assert registry.parse_versioned("workerd@1.20260426.1") == (workerd, "1.20260426.1")
    assert registry.parse_versioned("miniflare@latest") == (registry.builtin("miniflare"), "latest")
    assert registry.parse_versioned("workerd") is None
    assert registry.parse_versioned("stdio:node adapter@2.mjs") is None
    assert registry.parse_versioned("ws://127.0.0.1:1/a@b") is None
    assert registry.parse_versioned("ws-launch:python x@1") is None
    with pytest.raises(
        UsageError, match='NAME@VERSION needs one of workerd, node-socket, miniflare as NAME, got "reference"'
    ):
        registry.parse_versioned("reference@0.1.0")
    with pytest.raises(UsageError, match=r'"1\.2" is not a version'):
        registry.parse_versioned("workerd@1.2")


def test_an_installed_version_resolves_without_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.adapters import npm_cache, npm_versions

    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(tmp_path))

    def offline(package: str, refresh: bool = False) -> None:
        raise AssertionError("the registry was asked")

    monkeypatch.setattr(npm_versions, "published", offline)
    folder = npm_cache.version_dir("workerd", "1.20260426.1")
    folder.mkdir(parents=True)
    (folder / npm_cache.STAMP).write_text("ok\n")
    entry = registry.builtin("workerd")
    assert entry is not None
    assert registry.resolve_version(entry, "1.20260426.1") == "1.20260426.1"
    with pytest.raises(AssertionError, match="registry was asked"):
        registry.resolve_version(entry, "1.20260427.1")


def test_ws_launch_needs_a_command() -> None:
    with pytest.raises(UsageError, match="ws-launch: needs a command"):
        registry.resolve("ws-launch:  ")
    spec = registry.resolve("ws-launch:python -m conformance.adapters.reference_ws")
    assert spec.default_lanes == registry.EXTERNAL_LANES
