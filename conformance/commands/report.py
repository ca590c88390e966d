"""``connect-conformance report ...``: publish (the matrix, badges, the HTML page), validate, compare, html,
junit / summary (rebuilt from a results.json), and merge (the shards of one run as one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..adapters import registry
from ..errors import UsageError
from ..exitcodes import ExitCode
from . import arguments, sandboxing

PUBLISH_COMMAND = "connect-conformance report publish --run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="report_command", required=True, parser_class=type(parser))
    publish = commands.add_parser(
        "publish", help="regenerate reports/README.md (the matrix) from reports/<implementation>/results.json"
    )
    publish.add_argument(
        "--reports",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="the published reports folder: <DIR>/<implementation>/results.json in, <DIR>/README.md out "
        "(default: reports)",
    )
    publish.add_argument(
        "--run",
        action="store_true",
        help="first run the suite against each implementation (with its expectations file)",
    )
    publish.add_argument("--only", action="append", default=[], metavar="IMPL", help="only this implementation")
    arguments.add_sandbox(
        publish, "default with --run: on where a sandbox can be made (published runs hold every case)"
    )
    check = commands.add_parser(
        "validate",
        help="check results.json files against the results schema (exit 0: all valid, 2: one is not)",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="RESULTS.json", help="results files of runs")
    diff = commands.add_parser(
        "compare",
        help="regressions, fixes, new and removed cases between two runs, as Markdown for a CI comment "
        "(exit 1 on a regression, 2 on a file that is not a valid results.json)",
    )
    diff.add_argument("old", type=Path, metavar="OLD", help="results.json of the earlier run (the baseline)")
    diff.add_argument("new", type=Path, metavar="NEW", help="results.json of the later run")
    diff.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison as JSON")
    join = commands.add_parser(
        "merge",
        help="the results.json files of the shards of one run (run --shard I/N) as one run: the same cases and "
        "outcomes as an unsharded run (exit 2, naming the problem, when they are not every shard of one run)",
    )
    join.add_argument(
        "files", nargs="+", type=Path, metavar="RESULTS.json", help="the shards' results files (or report folders)"
    )
    join.add_argument(
        "-o", "--output", type=Path, required=True, metavar="FILE", help="the merged results.json to write"
    )
    html = commands.add_parser("html", help="a single-file, offline HTML report of one or more runs")
    html.add_argument(
        "files", nargs="+", type=Path, metavar="RESULTS.json", help="results files, one column each (matrix)"
    )
    html.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("reports/latest/index.html"),
        metavar="FILE",
        help="the HTML file to write (default: reports/latest/index.html)",
    )
    for name, what in (("junit", "junit.xml"), ("summary", "summary.md")):
        rebuild = commands.add_parser(
            name, help=f"rebuild {what} from a run's results.json (the same file the run wrote beside it)"
        )
        rebuild.add_argument(
            "results", type=Path, metavar="RESULTS.json", help="the results.json of a run, or its report folder"
        )
        rebuild.add_argument(
            "-o",
            "--output",
            type=Path,
            metavar="FILE",
            help=f"the file to write (default: print {what} to standard output"
            + (", its links relative to the folder of RESULTS.json)" if name == "summary" else ")"),
        )


def run(args: argparse.Namespace) -> int:
    from ..report import results
    from ..report.run_files import check_output_file

    if args.report_command == "publish":
        return _publish(args)
    if args.report_command == "validate":
        return validate(list(args.files))
    if args.report_command == "compare":
        from ..report import compare

        if args.json:
            check_output_file(args.json)
        comparison = compare.compare_files(args.old, args.new)
        print(compare.markdown(comparison), end="")
        if args.json:
            results.write_json(args.json, comparison.as_dict())
        return ExitCode.UNEXPECTED if comparison.regressions else ExitCode.OK
    if args.report_command == "merge":
        return _merge(list(args.files), args.output)
    if args.report_command == "html":
        from ..report import html as html_report

        check_output_file(args.output)
        print(f"wrote {html_report.write(list(args.files), args.output)}")
        return ExitCode.OK
    if args.report_command in ("junit", "summary"):
        return _rebuild(args.report_command, args.results, args.output)
    raise UsageError(f"unknown report command {args.report_command}")


def validate(paths: list[Path]) -> int:
    """``report validate``: 0 when every file is a valid results.json, 2 (usage) when any is not.

    Not 1: that code means "an implementation did not do what was expected" everywhere else.
    """
    from ..core.text import plural
    from ..report.output import display_text
    from ..report.validate import check_file

    bad = 0
    for path in paths:
        verdict = check_file(path)
        if verdict.ok:
            print(f"{path}: ok")
            continue
        bad += 1
        for line in verdict.lines(path):
            print(display_text(line), file=sys.stderr)
    if bad:
        print(f"{bad} of {plural(len(paths), 'file')} not valid", file=sys.stderr)
    return ExitCode.USAGE if bad else ExitCode.OK


def _merge(paths: list[Path], output: Path) -> int:
    """``report merge``: the shards as one results.json (junit.xml and summary.md follow with ``report junit``
    and ``report summary``)."""
    from ..core.text import plural
    from ..report import merge, results
    from ..report.run_files import check_output_file

    check_output_file(output)
    report = merge.merge(paths)
    results.write(output, report)
    counts = ", ".join(f"{count} {name}" for name, count in report.summary.items() if count and name != "total")
    shards = report.header.shards or ()
    print(f"wrote {output}: {plural(len(report.cases), 'case')} from {plural(len(shards), 'shard')} ({counts})")
    return ExitCode.OK


def _rebuild(what: str, path: Path, output: Path | None) -> int:
    """``report junit`` / ``report summary``: the file a run writes beside its results.json, from that file."""
    from ..report import junit, model, summary
    from ..report.run_files import check_output_file

    if output is not None:
        check_output_file(output)
    report = model.load(path)
    if what == "junit":
        if output is None:
            sys.stdout.buffer.write(junit.document(report))
        else:
            junit.write(output, report)
    elif output is None:
        print(summary.page(report, model.results_path(path).parent), end="")
    else:
        summary.write(output, report)
    if output is not None:
        print(f"wrote {output}")
    return ExitCode.OK


def _publish(args: argparse.Namespace) -> int:
    """Run each implementation into reports/<name>/ (if asked), then rewrite the matrix."""
    from ..report import badges, matrix, model, results, timeline
    from ..report import html as html_report

    published = [entry.name for entry in registry.BUILTINS if entry.published]
    names = list(args.only) or published
    code = ExitCode.OK
    if args.run:
        from ..execution.suite import RunOptions, run_suite

        sandboxing.enter_if_wanted(args, names)

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
    # Each run says the spec revision it ran; one that is not the spec's current one is marked stale.
    current = results.current_spec_revision()
    timelines = timeline.load_all(args.reports / "history")
    findings = [
        line
        for history in timelines
        for line in timeline.findings(history, f"history/{history.family}/README.md", current)
    ]
    runs = {
        name: model.load(args.reports / name / "results.json")
        for name in published
        if (args.reports / name / "results.json").is_file()
    }
    implementations = [matrix.Implementation.of(name, report) for name, report in runs.items()]
    target = matrix.write(args.reports, implementations, PUBLISH_COMMAND, findings, current)
    print(f"wrote {target}")
    for impl in implementations:
        print(f"wrote {badges.write(args.reports / 'badges', impl.name, *impl.score('must'))}")
    if runs:
        views = [timeline.html_data(history, f"history/{history.family}/index.html") for history in timelines]
        page = html_report.write_reports(
            list(runs.items()), args.reports / "index.html", history=views, current_revision=current
        )
        print(f"wrote {page}")
    return code
