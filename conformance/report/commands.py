"""``connect-conformance report ...``: publish, validate, compare, html."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..adapters import registry
from ..errors import UsageError
from ..exitcodes import ExitCode
from . import results
from .run_files import check_output_file

PUBLISH_COMMAND = "connect-conformance report publish --run"


def report(args: argparse.Namespace) -> int:
    if args.report_command == "publish":
        return _publish(args)
    if args.report_command == "validate":
        from .validate import validate_file

        bad = 0
        for path in args.files:
            found = validate_file(path)
            if found:
                bad += 1
                for problem in found:
                    print(f"{path}: {problem}", file=sys.stderr)
            else:
                print(f"{path}: ok")
        return ExitCode.UNEXPECTED if bad else ExitCode.OK
    if args.report_command == "compare":
        from . import compare

        if args.json:
            check_output_file(args.json)
        comparison = compare.compare_files(args.old, args.new)
        print(compare.markdown(comparison), end="")
        if args.json:
            results.write_json(args.json, comparison.as_dict())
        return ExitCode.UNEXPECTED if comparison.regressions else ExitCode.OK
    if args.report_command == "html":
        from . import html as html_report

        check_output_file(args.output)
        print(f"wrote {html_report.write(list(args.files), args.output)}")
        return ExitCode.OK
    raise UsageError(f"unknown report command {args.report_command}")


def _publish(args: argparse.Namespace) -> int:
    """Run each implementation into reports/<name>/ (if asked), then rewrite the matrix."""
    from . import badges, matrix, timeline
    from . import html as html_report

    published = [entry.name for entry in registry.BUILTINS if entry.published]
    names = list(args.only) or published
    code = ExitCode.OK
    if args.run:
        from ..suite import RunOptions, run_suite

        for name in names:
            entry = registry.builtin(name)
            known = Path(entry.expectations) if entry and entry.expectations else None
            print(f"== {name}", file=sys.stderr, flush=True)
            options = RunOptions(
                adapter=name,
                report_dir=args.reports / name,
                expectations=known if known and known.is_file() else None,
            )
            result = run_suite(options)
            if result not in (ExitCode.OK, ExitCode.UNEXPECTED):
                return result
            code = max(code, result)
    timelines = timeline.load_all(args.reports / "history")
    findings = [
        line for history in timelines for line in timeline.findings(history, f"history/{history.family}/README.md")
    ]
    target = matrix.write(args.reports, published, PUBLISH_COMMAND, findings)
    print(f"wrote {target}")
    present = [name for name in published if (args.reports / name / "results.json").is_file()]
    for name in present:
        impl = matrix.Implementation.load(name, args.reports / name / "results.json")
        print(f"wrote {badges.write(args.reports / 'badges', name, *impl.score('must'))}")
    if present:
        files = [args.reports / name / "results.json" for name in present]
        views = [timeline.html_data(history, f"history/{history.family}/index.html") for history in timelines]
        print(f"wrote {html_report.write(files, args.reports / 'index.html', names=present, history=views)}")
    return code
