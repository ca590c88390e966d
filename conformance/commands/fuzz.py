"""``connect-conformance fuzz``: differential fuzzing, divergences written as spec cases (docs/writing-cases.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from . import arguments, sandboxing

#: Where ``--find-mutants`` writes its cases unless ``--out`` says otherwise.
MUTANTS_OUT = Path("reports/fuzz/mutants")
#: Seconds each mutant's search may take with ``--find-mutants`` unless ``--time`` says otherwise.
MUTANT_SECONDS = 600.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--adapter", help=f"the implementation under test: {arguments.adapter_help()} (not with --find-mutants)"
    )
    parser.add_argument(
        "--against", default="reference", help="the implementation it is compared with (default: reference)"
    )
    parser.add_argument(
        "--find-mutants",
        action="store_true",
        help="fuzz every mutant of the reference (connect-conformance mutants) against the reference, several at "
        "once, and print a table of what was found; --examples and --time are per mutant",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="MUTANT",
        help="with --find-mutants: only this mutant (repeatable)",
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=None,
        metavar="N",
        help="scenarios to try (default 200, no limit with --time alone; 300 per mutant with --find-mutants)",
    )
    parser.add_argument(
        "--time",
        type=arguments.duration,
        metavar="T",
        help="how long to search, e.g. 90s or 10m; with --examples, whichever comes first (with --find-mutants: "
        f"per mutant, default {MUTANT_SECONDS / 60:g}m)",
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
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"where cases are written (reports/fuzz; {MUTANTS_OUT}/<mutant> with --find-mutants)",
    )
    parser.add_argument(
        "-n",
        dest="lanes",
        type=arguments.lanes,
        default=None,
        metavar="N",
        help="independent searches at once (seeds S, S+1...); with --find-mutants: mutants at once "
        "(default 4 per core)",
    )
    arguments.add_sandbox(
        parser, "default: on where a sandbox can be made (else scenarios use no Cloudflare address, port 25...)"
    )
    parser.add_argument("paths", nargs="*", help="spec folders whose message patterns count as equal (default: spec/)")


def run(args: argparse.Namespace) -> int:
    if args.examples is not None and args.examples < 1:
        raise UsageError("--examples must be at least 1")
    if args.stop_after is not None and args.stop_after < 1:
        raise UsageError("--stop-after must be at least 1")
    if args.find_mutants:
        return _find_mutants(args)
    if args.adapter is None:
        raise UsageError("--adapter is required (or --find-mutants)")
    if args.only:
        raise UsageError("--only goes with --find-mutants")
    from ..fuzz import FuzzOptions, run_fuzz

    sandboxing.enter_if_wanted(args, [args.adapter, args.against])
    return run_fuzz(
        FuzzOptions(
            adapter=args.adapter,
            against=args.against,
            examples=args.examples or (200 if args.time is None else 10**9),
            seconds=args.time,
            seed=args.seed,
            out=args.out or Path("reports/fuzz"),
            lanes=args.lanes or 1,
            spec=[Path(p) for p in args.paths],
            stop_after=args.stop_after,
        )
    )


def _find_mutants(args: argparse.Namespace) -> int:
    from ..fuzz.mutants import HuntOptions, run_find_mutants

    if args.adapter is not None:
        raise UsageError("--find-mutants fuzzes the reference's mutants: leave out --adapter")
    if args.stop_after is not None:
        raise UsageError("--find-mutants stops each search at its first written case: leave out --stop-after")
    sandboxing.enter_if_wanted(args, ["reference", args.against])
    options = HuntOptions(
        examples=args.examples or 300,
        seconds=args.time or MUTANT_SECONDS,
        seed=args.seed,
        against=args.against,
        out=args.out or MUTANTS_OUT,
        spec=[Path(p) for p in args.paths],
    )
    return run_find_mutants(options, args.only, args.lanes)
