"""One table of built-in adapters; everything that lists adapters reads it."""

from __future__ import annotations

import re

import pytest

from conformance.adapters import registry
from conformance.adapters.base import MAX_LANES
from conformance.adapters.npm_cache import PACKAGES
from conformance.errors import UsageError
from conformance.runner import lane_count
from tests.helpers import REPO


def test_the_readme_table_lists_exactly_the_builtin_adapters() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("| `--adapter` | implementation |", 1)[1].split("\n\n", 1)[0]
    names = re.findall(r"^\| `([a-z-]+)`", table, flags=re.MULTILINE)
    assert names == registry.names()


def test_npm_package_sets_exist_for_the_adapters_that_name_one() -> None:
    shipped = {entry.name for entry in PACKAGES.iterdir() if entry.is_dir()}
    assert set(registry.npm_package_sets().values()) == shipped


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
    with pytest.raises(UsageError, match="unknown mutant 'nope'"):
        registry.resolve("reference+nope")
    with pytest.raises(UsageError, match="expected one of"):
        registry.resolve("workerd+x")


def test_auto_lanes_follow_the_adapter_and_never_exceed_the_cases() -> None:
    reference = registry.resolve("reference")
    stdio = registry.resolve("stdio:python adapter.py")
    assert lane_count(reference, None, 500) == reference.default_lanes == 16
    assert lane_count(stdio, None, 500) == registry.EXTERNAL_LANES
    assert lane_count(reference, None, 3) == 3
    assert lane_count(reference, 2, 500) == 2
    assert lane_count(reference, None, 0) == 1
    assert reference.default_lanes <= MAX_LANES
