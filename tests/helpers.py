"""Shared helpers for the harness's own tests."""

from __future__ import annotations

import ctypes.util
import os
import shutil
import tempfile
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from conformance.cases import loader
from conformance.core.model import Case
from conformance.core.outcomes import CaseResult
from conformance.report import results
from conformance.report.model import Gate, RunHeader, RunReport

REPO = Path(__file__).resolve().parent.parent


def run_report(cases: Iterable[CaseResult] = (), gate: Gate | None = None, **header: Any) -> RunReport:
    """A run as the harness records it: of the reference on 2026-01-01 unless ``header``'s fields say otherwise."""
    fields: dict[str, Any] = {
        "adapter": {"name": "reference", "version": "1.0", "runtime": "CPython"},
        "adapter_spec": "reference",
        "started": "2026-01-01T00:00:00+00:00",
        "duration_s": 1.5,
        "workers": 1,
        "spec_revision": "abcdef12",
        **header,
    }
    return RunReport(RunHeader(**fields), list(cases), gate)


def save_report(folder: Path, report: RunReport | dict[str, Any]) -> Path:
    """``folder/results.json`` holding ``report`` (or a document as it is, however odd)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    results.write_json(path, report.as_dict() if isinstance(report, RunReport) else report)
    return path


def in_ci() -> bool:
    """``CI=true`` (set by ``.ci/run`` and by most CI services): every test must run there."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Something this test needs is not on this machine: a skip saying how to get it, or a failure under
    ``CI=true``, where every test must run."""
    reason = f"{reason}; CI=true makes this test required"
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def require_program(names: tuple[str, ...], install: str) -> str:
    """The path of the first of ``names`` on PATH. Missing: a failure in CI, elsewhere a skip whose
    reason says how to install it (so the README's test command passes on a fresh machine)."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    missing(f"{names[0]} is not installed ({install})")


def require_library(soname: str, install: str) -> None:
    """A shared library the dynamic loader finds by ``soname`` (``libc++.so.1``), as
    ``require_program`` for a program: an old runtime release links one the machine may lack."""
    name = soname.removeprefix("lib").partition(".so")[0]
    if ctypes.util.find_library(name) != soname:
        missing(f"{soname} is not installed ({install})")


def require_npm_packages(adapter: str) -> Path:
    """The ``node_modules`` folder of a JS adapter's pinned packages (``js/packages/<adapter>/``), installed
    now on first use, before any run or trace starts (the pinned workerd is about 160 MB, Miniflare with
    its Node 22 about 360 MB). No npm or no registry: a skip with the reason, a failure under ``CI=true``."""
    from conformance.adapters import npm_cache
    from conformance.errors import InfrastructureError

    try:
        return npm_cache.ensure(adapter, quiet=True)
    except InfrastructureError as error:
        missing(f"the npm packages of the {adapter} adapter cannot be installed here: {error}")


def require_drivers() -> Path:
    """The drivers area's npm packages and both bundles (``connect-conformance install drivers``), installed
    now on first use (about 50 MB). No npm or no registry: a skip with the reason, a failure under ``CI=true``."""
    from conformance.drivers import bundle
    from conformance.errors import InfrastructureError

    try:
        node_modules = bundle.ensure_drivers(quiet=True)
        for target in bundle.TARGETS:
            bundle.bundles(target, quiet=True, node_modules=node_modules)
    except InfrastructureError as error:
        missing(f"the drivers cannot be installed here: {error}")
    return node_modules


def require_servers(*kinds: str) -> None:
    """The programs of these kinds of server (``postgres``, ``redis``, ...), as ``require_program`` does for
    one: a skip naming the install command, a failure under ``CI=true``."""
    from conformance.drivers import servers

    for kind in kinds:
        try:
            servers.kinds()[kind].check()
        except servers.ProgramMissing as error:
            missing(str(error))


def require_release(adapter: str, *versions: str) -> None:
    """Published releases of a runtime (``require_release("workerd", "1.20230512.0")``) already in the cache.

    A test never downloads a release itself (one is 65 to 160 MB): without one it skips naming the
    install command, and under ``CI=true`` (``.ci/run`` installs every release the tests name) it fails."""
    from conformance.adapters import npm_cache, registry

    entry = registry.builtin(adapter)
    package = entry.npm_package if entry else None
    assert package is not None, f"{adapter} has no published releases"
    absent = [f"{adapter}@{v}" for v in versions if not npm_cache.is_installed(npm_cache.version_dir(package, v))]
    if absent:
        missing(
            f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not installed in {npm_cache.cache_root()}"
            f" (connect-conformance install {' '.join(absent)})"
        )


def require_sandbox() -> None:
    """The network sandbox must be possible here: in CI a failure if not, elsewhere a skip with the reason."""
    from conformance.sandbox import availability

    available = availability()
    if not available.ok:
        missing(f"no network sandbox on this machine ({available.reason})")


def case_from_yaml(text: str, area: str | None = None) -> Case:
    """One case (no variants) from YAML text, validated like a spec file."""
    text = textwrap.dedent(text)
    with tempfile.TemporaryDirectory() as folder:
        area = area or text.split("id:", 1)[1].strip().split(".", 1)[0]
        path = Path(folder) / "spec" / area / "case.yaml"
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
        cases, errors = loader.load([path])
    assert errors == [], [str(e) for e in errors]
    (case,) = cases
    return case


def without_drivers(cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results of ``connect()``'s own areas; the drivers area's must all be skips of an adapter that runs
    no JavaScript driver (the reference, a hostile fake), which this asserts."""
    kept = []
    for case in cases:
        if str(case["id"]).startswith("drivers."):
            assert (case["outcome"], case.get("skipped_by")) == ("skip", "adapter"), case
        else:
            kept.append(case)
    return kept
