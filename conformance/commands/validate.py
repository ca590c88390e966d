"""``connect-conformance validate``: spec files (and expectations files) against their schema and lint rules."""

from __future__ import annotations

import argparse
import sys

from ..core.text import plural
from ..errors import SpecError
from ..exitcodes import ExitCode
from . import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="spec files or folders (default: the suite's spec/)")
    arguments.add_spec(parser)
    parser.add_argument(
        "--expectations",
        type=arguments.expectations_file,
        action="append",
        default=[],
        metavar="FILE",
        help="also check this expectations file (repeatable): its format, case ids the spec does not have, "
        f"and reasons still marked unreviewed (warnings); {arguments.expectations_help()}",
    )


def run(args: argparse.Namespace) -> int:
    from ..cases import loader
    from ..cases.selection import spec_paths
    from ..execution import expectations

    paths = spec_paths(args.paths, args.spec)
    cases, errors = loader.load(paths)
    for error in errors:
        print(error, file=sys.stderr)
    files = len(loader.spec_files(paths))
    known_ids = {case.id for case in cases}
    checked = []
    for path in args.expectations:
        try:
            known = expectations.load(path)
        except SpecError as error:
            errors.append(error)
            print(error, file=sys.stderr)
            continue
        checked.append(path)
        for warning in expectations.review_warnings(known):
            print(f"warning: {warning}", file=sys.stderr)
        for case_id in sorted(set(known.cases) - known_ids):
            print(f"warning: {path}: {case_id}: no such case in {', '.join(map(str, paths))}", file=sys.stderr)
    if errors:
        print(f"{plural(len(errors), 'problem')} in {plural(files + len(args.expectations), 'file')}", file=sys.stderr)
        return ExitCode.USAGE
    also = f" and {plural(len(checked), 'expectations file')}" if checked else ""
    print(f"ok: {plural(len(cases), 'case')} in {plural(files, 'file')}{also}")
    return ExitCode.OK
