"""``connect-conformance watch``: the releases after each pin, what they changed, bisected and triaged; ``--bump``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..adapters import registry
from ..errors import UsageError
from . import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    families = ", ".join(registry.versioned_names())
    parser.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a runtime to watch (repeatable; default: every one: {families})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports/watch"),
        metavar="DIR",
        help="where <NAME>/triage.md and triage.json go (default: reports/watch)",
    )
    parser.add_argument(
        "--history",
        type=Path,
        default=Path("reports/history"),
        metavar="DIR",
        help="the history folder: a version's results.json there made with today's spec is reused, a new run is "
        "stored there (default: reports/history)",
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="ask the registry for the version lists now (default: a list less than a day old is reused)",
    )
    parser.add_argument(
        "--yes", action="store_true", help="go ahead when more than 6 versions must be installed to run them"
    )
    arguments.add_lanes(parser, "cases of one version run")
    parser.add_argument(
        "--bump",
        nargs="?",
        const="latest",
        metavar="VERSION",
        help="instead of watching: move the pin of the one --adapter to VERSION (default: the newest release), "
        "if the gated suite is clean on it; keeps the old pin in the history and regenerates the reports",
    )
    parser.add_argument("paths", nargs="*", help="spec files or folders (default: spec/)")


def run(args: argparse.Namespace) -> int:
    if args.bump is not None:
        from ..versions.pin import BumpOptions, bump

        if len(args.adapter) != 1:
            raise UsageError("watch --bump moves one pin: name it with exactly one --adapter")
        return bump(BumpOptions(family=args.adapter[0], version=args.bump, history=args.history))
    from ..versions.watch import WatchOptions, run_watch

    return run_watch(
        WatchOptions(
            families=args.adapter,
            out=args.out,
            history=args.history,
            paths=[Path(p) for p in args.paths],
            yes=args.yes,
            refresh=args.refresh,
            lanes=args.workers,
        )
    )
