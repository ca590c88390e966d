"""``connect-conformance run``: the cases against one implementation, with progress, gate and reports."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from . import arguments, sandboxing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection(parser)
    arguments.add_spec(parser)
    parser.add_argument("--adapter", default="reference", help=f"the implementation: {arguments.adapter_help()}")
    parser.add_argument(
        "--expectations",
        type=arguments.expectations_file,
        metavar="FILE",
        help=f"known non-pass outcomes of this implementation: {arguments.expectations_help()}",
    )
    parser.add_argument(
        "--update-expectations",
        type=Path,
        metavar="FILE",
        help="after the run, rewrite FILE from its outcomes (existing reasons are kept)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports/latest"),
        metavar="DIR",
        help="where results.json, junit.xml and summary.md go (default: reports/latest)",
    )
    arguments.add_lanes(parser, "cases run")
    chatter = parser.add_mutually_exclusive_group()
    chatter.add_argument(
        "-v", "--verbose", action="store_true", help="a line for every case, passes and expected outcomes too"
    )
    chatter.add_argument(
        "-q", "--quiet", action="store_true", help="print only the summary table and the unexpected outcomes"
    )
    arguments.add_sandbox(parser, "default: on where a sandbox can be made, for every adapter but a ws:// server")
    parser.add_argument(
        "--peer",
        default="in-process",
        metavar="WHERE",
        help="where the peer runs: in-process (default) | docker | tcp://HOST:PORT (a `peer serve`; "
        "its token in $CONNECT_CONFORMANCE_PEER_TOKEN)",
    )
    # Several machines (docs/ci.md, "Sharding"): each job runs one part, `report merge` joins the parts.
    parser.add_argument(
        "--shard",
        type=arguments.shard,
        metavar="I/N",
        help="run only shard I of N of the selected cases (a deterministic split, balanced by recorded "
        "durations); join the shards' results.json with `report merge`",
    )
    parser.add_argument(
        "--durations",
        type=Path,
        metavar="FILE",
        help="with --shard: a previous results.json whose case durations balance the split (default: "
        "reports/<adapter>/results.json when there is one, else a stable hash of the case ids)",
    )


def run(args: argparse.Namespace) -> int:
    from ..cases.selection import spec_paths
    from ..execution.progress import Verbosity
    from ..execution.suite import RunOptions, run_suite

    if args.durations is not None and args.shard is None:
        raise UsageError("--durations balances a split: give --shard I/N too")
    # The --spec folders are resolved here; the run records the folders it read as its selection's paths.
    paths = spec_paths(args.paths, args.spec)
    sandboxing.enter_if_wanted(args, [args.adapter])
    verbosity = Verbosity.VERBOSE if args.verbose else Verbosity.QUIET if args.quiet else Verbosity.NORMAL
    return run_suite(
        RunOptions(
            adapter=args.adapter,
            paths=paths,
            keyword=args.keyword,
            tags=args.tag,
            expectations=args.expectations,
            update_expectations=args.update_expectations,
            report_dir=args.report_dir,
            workers=args.workers,
            verbosity=verbosity,
            peer=args.peer,
            shard=args.shard,
            durations=args.durations,
        )
    )
