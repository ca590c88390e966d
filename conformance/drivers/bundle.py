"""The scenario modules as the runtimes load them: one esbuild bundle per driver, cached.

``ensure_drivers()`` installs the pinned npm package set ``drivers``
(``adapters/js/packages/drivers``: the client libraries, the Node polyfill and esbuild) with
``npm_cache.ensure``, once; ``bundles(target)`` then packs every scenario module
(``adapters/js/drivers/<driver>.js``, files starting with ``_`` are shared helpers) with
``adapters/js/drivers-build.mjs``:

- ``target="workerd"`` (workerd, Miniflare): wrangler's settings (bundle, ESM, platform
  neutral, conditions ``workerd, worker, browser``, mainFields ``module, main``,
  ``cloudflare:*`` external, ``require()`` of a Node built-in turned into ``import`` of
  ``node:<name>``);
- ``target="node"``: the same, with ``cloudflare:sockets`` resolved to the polyfill
  ``@arrowood.dev/socket``, for Node.

The bundles go to ``<cache>/drivers/<target>-<key>/<driver>.js``, where the key is a digest of
the package set's files, the build script, every scenario file and the target: an unchanged
set is reused (offline), a changed one is bundled again. A bundle is built in a sibling
staging folder and renamed into place, so an interrupted build never looks complete.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from ..adapters import npm_cache
from ..adapters.base import DriverSet
from ..errors import InfrastructureError
from . import modules

Target = Literal["workerd", "node"]
TARGETS: tuple[Target, ...] = ("workerd", "node")
PACKAGE_SET = "drivers"
JS = resources.files("conformance.adapters").joinpath("js")
BUILD_SCRIPT = "drivers-build.mjs"
BUILD_TIMEOUT_S = 300
#: Shared helpers of the scenario modules: bundled into each, never a driver of their own.
RUNNER = "_runner.js"
SOCKETS = "_sockets.js"


@dataclass(frozen=True)
class Bundles:
    """The bundles of one target: ``files[driver]`` is the ES module that exports ``run``."""

    target: Target
    folder: Path
    files: dict[str, Path]
    built_s: float | None
    """Seconds the build took in this call; ``None`` when it came from the cache."""


def scenario_folder() -> Path:
    return modules.scenario_folder()


def drivers() -> list[str]:
    """The drivers that have a scenario module, sorted."""
    return modules.drivers(scenario_folder())


def ensure_drivers(quiet: bool = False) -> Path:
    """The installed ``node_modules`` of the ``drivers`` package set, installing it on first use."""
    return npm_cache.ensure(PACKAGE_SET, quiet=quiet)


def cache_key(target: Target) -> str:
    """A digest of everything a bundle is made from."""
    digest = hashlib.sha256(target.encode())
    packages = JS.joinpath("packages", PACKAGE_SET)
    sources = [
        ("package.json", packages.joinpath("package.json").read_bytes()),
        ("package-lock.json", packages.joinpath("package-lock.json").read_bytes()),
        (BUILD_SCRIPT, JS.joinpath(BUILD_SCRIPT).read_bytes()),
        *((f"drivers/{p.name}", p.read_bytes()) for p in sorted(scenario_folder().glob("*.js"))),
    ]
    for name, data in sources:
        digest.update(f"\0{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def bundle_dir(target: Target) -> Path:
    return npm_cache.cache_root() / "drivers" / f"{target}-{cache_key(target)}"


def bundles(target: Target = "workerd", quiet: bool = False, node_modules: Path | None = None) -> Bundles:
    """The bundles of ``target``, built (and the package set installed) if the cache lacks them."""
    if target not in TARGETS:
        raise ValueError(f'unknown bundle target "{target}" (known: {", ".join(TARGETS)})')
    folder = bundle_dir(target)
    names = drivers()
    built_s: float | None = None
    if not npm_cache.is_installed(folder):
        started = time.perf_counter()
        _build(folder, target, node_modules or ensure_drivers(quiet=quiet))
        built_s = round(time.perf_counter() - started, 3)
    files = {name: folder / f"{name}.js" for name in names}
    missing = [name for name, path in files.items() if not path.is_file()]
    if missing:
        raise InfrastructureError(f"the {target} bundle in {folder} lacks {', '.join(missing)}: remove the folder")
    return Bundles(target, folder, files, built_s)


def installed(target: Target = "workerd") -> Bundles | None:
    """The bundles of ``target`` when the package set is installed (built now if need be: esbuild, offline);
    ``None`` when it is not (``connect-conformance install drivers`` installs it). Never asks the registry."""
    folder = npm_cache.install_dir(PACKAGE_SET)
    if not npm_cache.is_installed(folder):
        return None
    return bundles(target, quiet=True, node_modules=folder / "node_modules")


def driver_set(target: str = "workerd") -> DriverSet | None:
    """What an adapter needs to run the drivers (``adapters.base.DriverSet``), or ``None`` when not installed."""
    known = next((t for t in TARGETS if t == target), None)
    if known is None:
        raise ValueError(f'unknown bundle target "{target}" (known: {", ".join(TARGETS)})')
    built = installed(known)
    if built is None:
        return None
    node_modules = npm_cache.install_dir(PACKAGE_SET) / "node_modules"
    return DriverSet(target=target, files=dict(built.files), versions=modules.versions(node_modules))


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise InfrastructureError("bundling the driver scenarios needs Node.js: no `node` on PATH")
    return node


def _build(target_folder: Path, target: Target, node_modules: Path) -> None:
    target_folder.parent.mkdir(parents=True, exist_ok=True)
    npm_cache.remove_stale_staging(target_folder.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{target_folder.name}-", dir=target_folder.parent))
    try:
        source = scenario_folder()
        settings = {
            "node_modules": str(node_modules),
            "outdir": str(staging),
            "target": target,
            "entries": {name: str(source / f"{name}.js") for name in drivers()},
            "runner": str(source / RUNNER),
            "sockets": str(source / SOCKETS),
        }
        script = Path(str(JS.joinpath(BUILD_SCRIPT)))
        try:
            done = subprocess.run(
                [_node(), str(script), json.dumps(settings)],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise InfrastructureError(f"bundling the driver scenarios took longer than {BUILD_TIMEOUT_S} s") from None
        if done.returncode != 0:
            raise InfrastructureError(
                f"bundling the driver scenarios ({target}) failed (exit {done.returncode}): {done.stderr.strip()[-3000:]}"
            )
        shutil.rmtree(staging / ".entries", ignore_errors=True)
        (staging / "build.json").write_text(done.stdout)
        (staging / npm_cache.STAMP).write_text("ok\n")
        if npm_cache.is_installed(target_folder):
            return  # another process finished the same build first
        if target_folder.exists():
            shutil.rmtree(target_folder)
        try:
            staging.rename(target_folder)
        except OSError:
            if not npm_cache.is_installed(target_folder):
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
