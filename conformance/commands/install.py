"""``connect-conformance install``: the npm packages of the JS adapters now, so later runs work offline."""

from __future__ import annotations

import argparse
import sys

from ..adapters import registry
from ..errors import UsageError
from ..exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    npm_adapters = ", ".join(registry.npm_package_sets())
    parser.add_argument(
        "adapters", nargs="*", metavar="ADAPTER", help=f"{npm_adapters} or NAME@VERSION (default: the pinned ones)"
    )


def run(args: argparse.Namespace) -> int:
    from ..adapters import npm_cache

    names: list[str] = args.adapters
    package_sets = registry.npm_package_sets()
    for stale in npm_cache.remove_stale_staging(npm_cache.cache_root() / "npm"):
        print(f"removed {stale}: the staging folder of an install that did not finish", file=sys.stderr)
    unknown = [name for name in names if name not in package_sets and registry.parse_versioned(name) is None]
    if unknown:
        raise UsageError(
            f"install: unknown adapter(s) {', '.join(unknown)}; expected {', '.join(package_sets)} or NAME@VERSION"
        )
    for name in names or package_sets:
        if name in package_sets:
            print(f"{name}: {npm_cache.ensure(package_sets[name])}")
        else:
            # Installs the version (and what it runs on), then checks that it can run here.
            print(f"{registry.resolve(name).name}: installed")
    return ExitCode.OK
