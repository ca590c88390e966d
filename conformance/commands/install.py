"""``connect-conformance install``: the npm packages of the JS adapters now, so later runs work offline;
``install drivers``: the drivers area's client libraries and bundler, and both bundles built."""

from __future__ import annotations

import argparse
import sys

from ..adapters import registry
from ..errors import UsageError
from ..exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    npm_adapters = ", ".join([*registry.npm_package_sets(), *registry.OTHER_PACKAGE_SETS])
    parser.add_argument(
        "adapters",
        nargs="*",
        metavar="ADAPTER",
        help=f"{npm_adapters} or NAME@VERSION (default: the pinned adapters; drivers: the drivers area's"
        " client libraries, with both bundles built)",
    )


def run(args: argparse.Namespace) -> int:
    from ..adapters import npm_cache

    names: list[str] = args.adapters
    package_sets = registry.npm_package_sets()
    for stale in npm_cache.remove_stale_staging(npm_cache.cache_root() / "npm"):
        print(f"removed {stale}: the staging folder of an install that did not finish", file=sys.stderr)
    others = registry.OTHER_PACKAGE_SETS
    unknown = [
        name
        for name in names
        if name not in package_sets and name not in others and registry.parse_versioned(name) is None
    ]
    if unknown:
        raise UsageError(
            f"install: unknown adapter(s) {', '.join(unknown)}; expected "
            f"{', '.join([*package_sets, *others])} or NAME@VERSION"
        )
    for name in names or package_sets:
        if name == DRIVERS:
            _install_drivers()
        elif name in package_sets:
            print(f"{name}: {npm_cache.ensure(package_sets[name])}")
        else:
            # Installs the version (and what it runs on), then checks that it can run here.
            print(f"{registry.resolve(name).name}: installed")
    return ExitCode.OK


#: The package set of the drivers area (``registry.OTHER_PACKAGE_SETS``).
DRIVERS = "drivers"


def _install_drivers() -> None:
    """The drivers package set, then a bundle for each runtime kind (workerd and Miniflare; Node)."""
    from ..drivers import bundle

    print(f"{DRIVERS}: {bundle.ensure_drivers()}")
    for target in bundle.TARGETS:
        built = bundle.bundles(target)
        how = "from the cache" if built.built_s is None else f"built in {built.built_s:.1f} s"
        print(f"{DRIVERS} ({target} bundles, {how}): {built.folder}")
