"""``connect-conformance list``: the selected cases with their ids, levels and sources."""

from __future__ import annotations

import argparse

from ..exitcodes import ExitCode
from . import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    arguments.add_selection(parser)
    arguments.add_spec(parser)


def run(args: argparse.Namespace) -> int:
    from ..cases.selection import load_selection, spec_paths

    # Like run: the valid cases are listed, the broken ones are reported (exit 2).
    cases, errors = load_selection(spec_paths(args.paths, args.spec), args.keyword, args.tag)
    for case in cases:
        print(f"{case.id}  [{case.level}]  {', '.join(case.source)}  {case.title}")
    return ExitCode.USAGE if errors else ExitCode.OK
