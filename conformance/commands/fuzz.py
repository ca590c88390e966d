"""``connect-conformance fuzz``: differential fuzzing, divergences written as spec cases (docs/writing-cases.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from . import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", required=True, help=f"the implementation under test: {arguments.adapter_help()}")
    parser.add_argument(
        "--against", default="reference", help="the implementation it is compared with (default: reference)"
    )
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--examples", type=int, default=200, metavar="N", help="scenarios to try (default 200)")
    budget.add_argument(
        "--time", type=arguments.duration, metavar="T", help="how long to search instead, e.g. 90s or 10m"
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="the search's seed (same seed, same scenarios)"
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        metavar="K",
        help="stop once K divergences are found (flaky ones aside), e.g. 1 to fail a CI job fast",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("reports/fuzz"), metavar="DIR", help="where cases are written (reports/fuzz)"
    )
    parser.add_argument(
        "-n",
        dest="lanes",
        type=arguments.lanes,
        default=1,
        metavar="N",
        help="independent searches at once (seeds S, S+1...)",
    )
    parser.add_argument("paths", nargs="*", help="spec folders whose message patterns count as equal (default: spec/)")


def run(args: argparse.Namespace) -> int:
    from ..fuzz import FuzzOptions, run_fuzz

    if args.examples < 1:
        raise UsageError("--examples must be at least 1")
    if args.stop_after is not None and args.stop_after < 1:
        raise UsageError("--stop-after must be at least 1")
    return run_fuzz(
        FuzzOptions(
            adapter=args.adapter,
            against=args.against,
            examples=args.examples if args.time is None else 10**9,
            seconds=args.time,
            seed=args.seed,
            out=args.out,
            lanes=args.lanes or 1,
            spec=[Path(p) for p in args.paths],
            stop_after=args.stop_after,
        )
    )
