"""``connect-conformance history``: the suite on many published versions of a runtime, and its timeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..adapters import registry
from . import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection(parser)
    families = ", ".join(registry.versioned_names())
    parser.add_argument("--adapter", required=True, metavar="NAME", help=f"the runtime: {families}")
    parser.add_argument(
        "--versions",
        required=True,
        metavar="SPEC",
        help="versions and ranges, comma-separated, e.g. 1.20230512.0..latest or 1.20260426.1,1.20261117.1",
    )
    parser.add_argument("--every", metavar="PERIOD", help="one version per period of each range: 2w, 3mo, 1y")
    parser.add_argument(
        "--out", type=Path, default=Path("reports/history"), metavar="DIR", help="default: reports/history"
    )
    arguments.add_lanes(parser, "cases of one version run")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="J",
        help="versions at once (default: as many as memory allows, at most 4)",
    )
    parser.add_argument(
        "--yes",
        action="store_true",
        help="go ahead when more than 6 versions must be installed first (else: say how many and stop)",
    )


def run(args: argparse.Namespace) -> int:
    from ..versions.history import HistoryOptions, run_history

    return run_history(
        HistoryOptions(
            family=args.adapter,
            versions=args.versions,
            every=args.every,
            paths=[Path(p) for p in args.paths],
            keyword=args.keyword,
            tags=args.tag,
            out=args.out,
            lanes=args.workers,
            jobs=args.jobs,
            yes=args.yes,
        )
    )
