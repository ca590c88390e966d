"""``connect-conformance bisect``: the first published version where a case's outcome changed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..adapters import registry
from ..errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="spec files or folders (default: spec/)")
    parser.add_argument(
        "--adapter", required=True, metavar="NAME", help=f"the runtime: {', '.join(registry.versioned_names())}"
    )
    parser.add_argument("--case", metavar="ID", help="the case id (connect-conformance list shows them)")
    parser.add_argument("--good", metavar="VERSION", help="a version with one outcome")
    parser.add_argument("--bad", metavar="VERSION", help="a version with another (older or newer)")
    parser.add_argument(
        "--save", action="store_true", help="record the finding in <out>/<adapter>/bisect.json (the timeline uses it)"
    )
    parser.add_argument(
        "--all-changes",
        action="store_true",
        help="instead of --case/--good/--bad: bisect every change the timeline in <out>/<adapter>/ shows, and save",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reports/history"),
        metavar="DIR",
        help="where the timelines are (<DIR>/<adapter>/) and bisect.json goes (default: reports/history)",
    )


def run(args: argparse.Namespace) -> int:
    from ..versions.bisect import BisectOptions, run_bisect, run_bisect_timeline

    paths = [Path(p) for p in args.paths]
    if args.all_changes:
        if args.case or args.good or args.bad:
            raise UsageError("bisect: --all-changes takes no --case, --good or --bad")
        return run_bisect_timeline(BisectOptions(family=args.adapter, paths=paths, out=args.out))
    missing = [flag for flag, value in (("--case", args.case), ("--good", args.good), ("--bad", args.bad)) if not value]
    if missing:
        raise UsageError(f"bisect: {', '.join(missing)} needed (or --all-changes)")
    return run_bisect(
        BisectOptions(
            family=args.adapter,
            case=args.case,
            good=args.good,
            bad=args.bad,
            paths=paths,
            save=args.save,
            out=args.out,
        )
    )
