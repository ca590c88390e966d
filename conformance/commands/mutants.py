"""``connect-conformance mutants``: is every deliberately broken reference caught by some case?"""

from __future__ import annotations

import argparse

from . import arguments, sandboxing


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection(parser)
    arguments.add_spec(parser)
    arguments.add_lanes(parser, "cases of all mutant suites run")
    parser.add_argument("--only", action="append", default=[], metavar="MUTANT", help="only this mutant (repeatable)")
    arguments.add_sandbox(parser, "default: on where a sandbox can be made (else the policy cases are skipped)")
    parser.add_argument(
        "--all",
        dest="every",
        action="store_true",
        help="run every case against every mutant and list every catching case (default: a mutant's suite "
        "stops at the first case that catches it)",
    )


def run(args: argparse.Namespace) -> int:
    from ..cases.selection import load_strict_selection, spec_paths
    from ..execution.mutants import run_mutants

    sandboxing.enter_if_wanted(args, ["reference"])
    cases = load_strict_selection(spec_paths(args.paths, args.spec), args.keyword, args.tag)
    return run_mutants(cases, workers=args.workers, only=args.only, every=args.every)
