"""``connect-conformance history``: the suite on many published versions of a runtime, and its timeline."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..adapters import registry
from ..errors import UsageError
from . import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection(parser)
    families = ", ".join(registry.versioned_names())
    parser.add_argument("--adapter", required=True, metavar="NAME", help=f"the runtime: {families}")
    parser.add_argument(
        "--versions",
        metavar="SPEC",
        help="versions and ranges, comma-separated, e.g. 1.20230512.0..latest or 1.20260426.1,1.20261117.1 "
        "(required unless --merge)",
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
    # Several machines (docs/ci.md, "Sharding"): a job per shard of the versions, then --merge.
    parser.add_argument(
        "--shard",
        type=arguments.shard,
        metavar="I/N",
        help="run only shard I of N of the chosen versions (a deterministic split), into this job's --out",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="instead of running: join the --out folders of the shards' jobs into --out and write the timeline "
        "of every version",
    )


def run(args: argparse.Namespace) -> int:
    from ..versions.history import HistoryOptions, merge_history, run_history

    if args.merge:
        if args.versions or args.shard:
            raise UsageError("--merge joins finished jobs: give it without --versions and --shard")
        return merge_history(args.adapter, args.merge, args.out)
    if not args.versions:
        raise UsageError("--versions is required (or --merge DIR... to join the folders of a split history)")

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
            shard=args.shard,
        )
    )
