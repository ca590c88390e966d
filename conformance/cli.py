"""The connect-conformance command: parse the command line, call the subcommand, map errors to exit codes.

Exit codes (``exitcodes.ExitCode``, the README's table): 0 every outcome as
expected; 1 unexpected outcomes; 2 usage or spec error; 3 infrastructure error
(an adapter would not start, or kept breaking); 4 internal error (a bug of ours);
130 interrupted (partial results are still written).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import interrupts
from ._version import __version__
from .adapters import registry
from .adapters.base import MAX_LANES
from .engine.jsshow import show
from .errors import InfrastructureError, SpecError, SpecErrors, UsageError
from .exitcodes import ExitCode
from .report.numbers import plural

DESCRIPTION = "The conformance suite for connect() of cloudflare:sockets."


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own exit code 2 is ours too; the message names the subcommand.
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def _lanes(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        lanes = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number, got {show(value)}") from None
    if not 1 <= lanes <= MAX_LANES:
        raise argparse.ArgumentTypeError(f"{lanes}: expected auto or a lane count from 1 to {MAX_LANES}")
    return lanes


def _duration(value: str) -> float:
    number, unit = (value[:-1], value[-1]) if value[-1:] in ("s", "m", "h") else (value, "s")
    try:
        seconds = float(number) * {"s": 1, "m": 60, "h": 3600}[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 10m or 1h, got {show(value)}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {show(value)}")
    return seconds


def _adapter_help() -> str:
    return " | ".join(
        [
            *registry.names(),
            f"{'|'.join(registry.versioned_names())}@VERSION",
            "reference+<mutant>",
            "stdio:'CMD ARGS'",
            "ws://HOST:PORT/PATH",
            "ws-launch:'CMD ARGS'",
        ]
    )


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="spec files or folders (default: spec/)")
    parser.add_argument(
        "-k", dest="keyword", metavar="EXPR", help="only cases whose id matches, e.g. -k 'address and not ipv6'"
    )
    parser.add_argument(
        "--tag", action="append", default=[], metavar="T", help="only cases with this tag or area (repeatable)"
    )


def _add_lanes(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "-n",
        dest="workers",
        type=_lanes,
        default=None,
        metavar="N",
        help=f"{what} at once: auto (default: what suits the adapter, e.g. 16 in-process, 8 workerd processes) "
        f"or 1..{MAX_LANES}",
    )


def _add_sandbox(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run inside fresh network namespaces: only lo (with Cloudflare addresses on it), private /etc/hosts, "
        f"no DNS; cases that need it are skipped outside one (docs/sandbox.md); {default}",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="connect-conformance", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"connect-conformance {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run cases against an implementation")
    _add_selection(run)
    run.add_argument("--adapter", default="reference", help=f"the implementation: {_adapter_help()}")
    run.add_argument("--expectations", type=Path, metavar="FILE", help="known non-pass outcomes of this implementation")
    run.add_argument(
        "--update-expectations",
        type=Path,
        metavar="FILE",
        help="after the run, rewrite FILE from its outcomes (existing reasons are kept)",
    )
    run.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports/latest"),
        metavar="DIR",
        help="where results.json, junit.xml and summary.md go (default: reports/latest)",
    )
    _add_lanes(run, "cases run")
    chatter = run.add_mutually_exclusive_group()
    chatter.add_argument(
        "-v", "--verbose", action="store_true", help="a line for every case, passes and expected outcomes too"
    )
    chatter.add_argument(
        "-q", "--quiet", action="store_true", help="print only the summary table and the unexpected outcomes"
    )
    _add_sandbox(run, "default: on where a sandbox can be made, for every adapter but a ws:// server")
    run.add_argument(
        "--peer",
        default="in-process",
        metavar="WHERE",
        help="where the peer runs: in-process (default) | docker | tcp://HOST:PORT (a `peer serve`; "
        "its token in $CONNECT_CONFORMANCE_PEER_TOKEN)",
    )

    validate = commands.add_parser(
        "validate", help="check spec files (and expectations files) against their schema and lint rules"
    )
    validate.add_argument("paths", nargs="*", help="spec files or folders (default: spec/)")
    validate.add_argument(
        "--expectations",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="also check this expectations file (repeatable): its format, case ids the spec does not have, "
        "and reasons still marked unreviewed (warnings)",
    )

    listing = commands.add_parser("list", help="list cases with ids, levels and sources")
    _add_selection(listing)

    commands.add_parser(
        "catalogue", help="print the behaviour catalogue as Markdown (spec/behaviours.md is this output)"
    )

    mutants = commands.add_parser(
        "mutants", help="run the suite against each broken reference and show what catches it"
    )
    _add_selection(mutants)
    _add_lanes(mutants, "cases of all mutant suites run")
    mutants.add_argument("--only", action="append", default=[], metavar="MUTANT", help="only this mutant (repeatable)")
    _add_sandbox(mutants, "default: on where a sandbox can be made (else the policy cases are skipped)")
    mutants.add_argument(
        "--all",
        dest="every",
        action="store_true",
        help="run every case against every mutant and list every catching case (default: a mutant's suite "
        "stops at the first case that catches it)",
    )

    fuzz = commands.add_parser(
        "fuzz", help="differential fuzzing: generated scenarios on two implementations, divergences as cases"
    )
    fuzz.add_argument("--adapter", required=True, help=f"the implementation under test: {_adapter_help()}")
    fuzz.add_argument(
        "--against", default="reference", help="the implementation it is compared with (default: reference)"
    )
    budget = fuzz.add_mutually_exclusive_group()
    budget.add_argument("--examples", type=int, default=200, metavar="N", help="scenarios to try (default 200)")
    budget.add_argument("--time", type=_duration, metavar="T", help="how long to search instead, e.g. 90s or 10m")
    fuzz.add_argument("--seed", type=int, default=0, metavar="S", help="the search's seed (same seed, same scenarios)")
    fuzz.add_argument(
        "--stop-after",
        type=int,
        metavar="K",
        help="stop once K divergences are found (flaky ones aside), e.g. 1 to fail a CI job fast",
    )
    fuzz.add_argument(
        "--out", type=Path, default=Path("reports/fuzz"), metavar="DIR", help="where cases are written (reports/fuzz)"
    )
    fuzz.add_argument(
        "-n", dest="lanes", type=_lanes, default=1, metavar="N", help="independent searches at once (seeds S, S+1...)"
    )
    fuzz.add_argument("paths", nargs="*", help="spec folders whose message patterns count as equal (default: spec/)")

    install = commands.add_parser(
        "install", help="install the npm packages of the JS adapters now (else: on first use)"
    )
    npm_adapters = ", ".join(registry.npm_package_sets())
    install.add_argument(
        "adapters", nargs="*", metavar="ADAPTER", help=f"{npm_adapters} or NAME@VERSION (default: the pinned ones)"
    )

    report = commands.add_parser("report", help="published reports")
    report_commands = report.add_subparsers(dest="report_command", required=True, parser_class=_Parser)
    publish = report_commands.add_parser(
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
    _add_sandbox(publish, "default with --run: on where a sandbox can be made (published runs hold every case)")
    check = report_commands.add_parser(
        "validate",
        help="check results.json files against the results schema (exit 0: all valid, 2: one is not)",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="RESULTS.json", help="results files of runs")
    diff = report_commands.add_parser(
        "compare",
        help="regressions, fixes, new and removed cases between two runs, as Markdown for a CI comment "
        "(exit 1 on a regression, 2 on a file that is not a valid results.json)",
    )
    diff.add_argument("old", type=Path, metavar="OLD", help="results.json of the earlier run (the baseline)")
    diff.add_argument("new", type=Path, metavar="NEW", help="results.json of the later run")
    diff.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison as JSON")
    html = report_commands.add_parser("html", help="a single-file, offline HTML report of one or more runs")
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

    adapter_check = commands.add_parser(
        "adapter-check",
        help="check that an adapter speaks the adapter protocol (not whether the implementation conforms)",
    )
    adapter_check.add_argument("--adapter", required=True, help=f"any --adapter value of run: {_adapter_help()}")
    adapter_check.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds an answer may take beyond its timeout_ms (default 5, as in run)",
    )

    _add_history(commands)
    _add_bisect(commands)

    servers = commands.add_parser(
        "servers", help="run the peer's fixed-behaviour servers standalone (echo, TLS echo, STARTTLS echo)"
    )
    servers.add_argument(
        "--kind",
        action="append",
        choices=["echo", "tls", "starttls"],
        default=[],
        help="a listener to open (repeatable; default: echo)",
    )
    servers.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    servers.add_argument(
        "--port", type=int, action="append", default=[], help="its port (one per --kind, or none: pick free ports)"
    )
    servers.add_argument("--docker", action="store_true", help="run each server in a container (docs/docker.md)")

    from .commands.peer import add_peer_command

    add_peer_command(commands)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """A subcommand's own --help starts with the line the listing shows for it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                if child.description is None:
                    child.description = helps.get(name)
                _describe(child)


def _add_history(commands: argparse._SubParsersAction[_Parser]) -> None:
    history = commands.add_parser(
        "history", help="run the suite on many published versions of a runtime and write its timeline"
    )
    _add_selection(history)
    families = ", ".join(registry.versioned_names())
    history.add_argument("--adapter", required=True, metavar="NAME", help=f"the runtime: {families}")
    history.add_argument(
        "--versions",
        required=True,
        metavar="SPEC",
        help="versions and ranges, comma-separated, e.g. 1.20230512.0..latest or 1.20260426.1,1.20261117.1",
    )
    history.add_argument("--every", metavar="PERIOD", help="one version per period of each range: 2w, 3mo, 1y")
    history.add_argument(
        "--out", type=Path, default=Path("reports/history"), metavar="DIR", help="default: reports/history"
    )
    _add_lanes(history, "cases of one version run")
    history.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="J",
        help="versions at once (default: as many as memory allows, at most 4)",
    )
    history.add_argument(
        "--yes",
        action="store_true",
        help="go ahead when more than 6 versions must be installed first (else: say how many and stop)",
    )


def _add_bisect(commands: argparse._SubParsersAction[_Parser]) -> None:
    bisect = commands.add_parser(
        "bisect", help="find the first published version where a case's outcome changed (binary search)"
    )
    bisect.add_argument("paths", nargs="*", help="spec files or folders (default: spec/)")
    bisect.add_argument(
        "--adapter", required=True, metavar="NAME", help=f"the runtime: {', '.join(registry.versioned_names())}"
    )
    bisect.add_argument("--case", metavar="ID", help="the case id (connect-conformance list shows them)")
    bisect.add_argument("--good", metavar="VERSION", help="a version with one outcome")
    bisect.add_argument("--bad", metavar="VERSION", help="a version with another (older or newer)")
    bisect.add_argument(
        "--save", action="store_true", help="record the finding in <out>/<adapter>/bisect.json (the timeline uses it)"
    )
    bisect.add_argument(
        "--all-changes",
        action="store_true",
        help="instead of --case/--good/--bad: bisect every change the timeline in <out>/<adapter>/ shows, and save",
    )
    bisect.add_argument(
        "--out",
        type=Path,
        default=Path("reports/history"),
        metavar="DIR",
        help="where the timelines are (<DIR>/<adapter>/) and bisect.json goes (default: reports/history)",
    )


def _history(args: argparse.Namespace) -> int:
    from .versions.history import HistoryOptions, run_history

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


def _bisect(args: argparse.Namespace) -> int:
    from .versions.bisect import BisectOptions, run_bisect, run_bisect_timeline

    if args.all_changes:
        if args.case or args.good or args.bad:
            raise UsageError("bisect: --all-changes takes no --case, --good or --bad")
        return run_bisect_timeline(
            BisectOptions(family=args.adapter, paths=[Path(p) for p in args.paths], out=args.out)
        )
    missing = [flag for flag, value in (("--case", args.case), ("--good", args.good), ("--bad", args.bad)) if not value]
    if missing:
        raise UsageError(f"bisect: {', '.join(missing)} needed (or --all-changes)")
    return run_bisect(
        BisectOptions(
            family=args.adapter,
            case=args.case,
            good=args.good,
            bad=args.bad,
            paths=[Path(p) for p in args.paths],
            save=args.save,
            out=args.out,
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in ("run", "mutants") or (args.command == "report" and args.report_command == "publish"):
            _maybe_sandbox(args, sys.argv[1:] if argv is None else list(argv))
        if args.command != "run":
            # run takes over the signals itself, to still write its report when interrupted.
            interrupts.deliver()
        return _dispatch(args)
    except SpecErrors as errors:
        for error in errors.errors:
            print(error, file=sys.stderr)
        print(f"{plural(len(errors.errors), 'problem')} in the spec; nothing was run", file=sys.stderr)
        return ExitCode.USAGE
    except (SpecError, UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return ExitCode.USAGE
    except InfrastructureError as error:
        print(f"error: {error}", file=sys.stderr)
        return ExitCode.INFRASTRUCTURE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        raise  # nobody reads our output any more: launch.main ends quietly (141)
    except Exception:  # a bug of ours must not look like a failing implementation (exit 1)
        traceback.print_exc()
        print("internal error: this is a bug of connect-conformance, please report it", file=sys.stderr)
        return ExitCode.INTERNAL


def _maybe_sandbox(args: argparse.Namespace, argv: list[str]) -> None:
    """Re-execute ``run``/``mutants`` inside a network sandbox when asked, or by default where it applies.

    ``--sandbox``: required (exit 3 where none can be made). ``--no-sandbox``: never. Neither: on for every
    adapter the harness starts (a ``ws://`` server is outside the sandbox's network), where a sandbox can
    be made; otherwise the cases that need one are reported as not run here, with the reason. Inside a
    sandbox the command only checks it.
    """
    from . import sandbox

    if args.command == "report" and not args.run:
        return  # publish without --run only reads results
    if args.sandbox is False:
        return
    if getattr(args, "peer", "in-process") != "in-process":
        # The sandbox's network is its own: a peer in a container or on another host is not in it.
        if args.sandbox:
            raise UsageError("--sandbox needs the in-process peer: a peer elsewhere is outside the sandbox's network")
        return
    if args.command == "run" and not registry.sandboxable(args.adapter):
        if args.sandbox:
            raise UsageError(
                f"--sandbox cannot hold {args.adapter}: a server started elsewhere is outside the sandbox's network"
            )
        return
    try:
        inside = sandbox.current() is not None
    except ValueError as error:
        raise InfrastructureError(str(error)) from None
    if args.sandbox is None and not inside:
        available = sandbox.availability()
        if not available.ok:
            print(
                f"no network sandbox here ({available.reason}): the cases that need one are not run "
                "(--sandbox makes that an error)",
                file=sys.stderr,
            )
            return
    if not inside and args.command == "run":
        registry.resolve(args.adapter)  # npm packages are installed now: the sandbox has no network
    if not inside and args.command == "report":
        for name in args.only or [entry.name for entry in registry.BUILTINS if entry.published]:
            registry.resolve(name)
    if inside:
        sandbox.enter_or_confirm(argv)
        return
    if interrupts.pending():
        return  # interrupted already: end here as interrupted (run writes its report) rather than start anew
    interrupts.block_for_exec()
    try:
        sandbox.enter_or_confirm(argv)  # does not return: the command starts again inside the sandbox
    finally:
        interrupts.unblock()


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        from .execution.progress import Verbosity
        from .execution.suite import RunOptions, run_suite

        options = RunOptions(
            adapter=args.adapter,
            paths=[Path(p) for p in args.paths],
            keyword=args.keyword,
            tags=args.tag,
            expectations=args.expectations,
            update_expectations=args.update_expectations,
            report_dir=args.report_dir,
            workers=args.workers,
            verbosity=Verbosity.VERBOSE if args.verbose else Verbosity.QUIET if args.quiet else Verbosity.NORMAL,
            peer=args.peer,
        )
        return run_suite(options)
    if args.command == "validate":
        return _validate(args)
    if args.command == "list":
        return _list(args)
    if args.command == "catalogue":
        return _catalogue()
    if args.command == "mutants":
        from .cases.selection import load_strict_selection, spec_paths
        from .commands.mutants import run_mutants

        cases = load_strict_selection(spec_paths(args.paths), args.keyword, args.tag)
        return run_mutants(cases, workers=args.workers, only=args.only, every=args.every)
    if args.command == "fuzz":
        from .fuzz import FuzzOptions, run_fuzz

        if args.examples < 1:
            raise UsageError("--examples must be at least 1")
        if args.stop_after is not None and args.stop_after < 1:
            raise UsageError("--stop-after must be at least 1")
        fuzzing = FuzzOptions(
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
        return run_fuzz(fuzzing)
    if args.command == "servers":
        return _servers(args)
    if args.command == "peer":
        from .commands.peer import peer_command

        return peer_command(args)
    if args.command == "adapter-check":
        from .adapter_check import command

        return command(args.adapter, timeout=args.timeout)
    if args.command == "report":
        from .report.commands import report

        return report(args)
    if args.command == "install":
        return _install(args.adapters)
    if args.command == "history":
        return _history(args)
    if args.command == "bisect":
        return _bisect(args)
    raise UsageError(f"unknown command {args.command}")


def _install(names: list[str]) -> int:
    from .adapters import npm_cache

    package_sets = registry.npm_package_sets()
    for stale in npm_cache.remove_stale_staging(npm_cache.cache_root() / "npm"):
        print(f"removed {stale}: the staging folder of an install that did not finish", file=sys.stderr)
    unknown = [name for name in names if name not in package_sets and registry.parse_versioned(name) is None]
    if unknown:
        raise UsageError(
            f"install: unknown adapter(s) {', '.join(unknown)}; expected {', '.join(package_sets)} or NAME@VERSION"
        )
    for name in names or package_sets:
        if name in package_sets:
            print(f"{name}: {npm_cache.ensure(package_sets[name])}")
        else:
            # Installs the version (and what it runs on), then checks that it can run here.
            print(f"{registry.resolve(name).name}: installed")
    return ExitCode.OK


def _servers(args: argparse.Namespace) -> int:
    """Run the peer standalone; TLS kinds present a certificate from a CA made for this run only."""
    from conformance_peer.standalone import main as serve_main

    from .execution.certificates import RunCertificates

    kinds = args.kind or ["echo"]
    if args.docker:
        from .peer.servers_docker import serve_in_containers

        return serve_in_containers(kinds, args.host, args.port)
    argv = ["--host", args.host]
    for kind in kinds:
        argv += ["--kind", kind]
    for port in args.port:
        argv += ["--port", str(port)]
    if not {"tls", "starttls"} & set(kinds):
        return serve_main(argv)
    with RunCertificates() as certificates:
        # Clients must trust this CA; it is deleted when the servers stop.
        print(json.dumps({"kind": "ca", "file": str(certificates.ca_file)}), flush=True)
        return serve_main(
            [*argv, "--cert", str(certificates.chain_file("good")), "--key", str(certificates.key_file("good"))]
        )


def _validate(args: argparse.Namespace) -> int:
    from .cases import loader
    from .cases.selection import spec_paths
    from .execution import expectations

    paths = spec_paths(args.paths)
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


def _catalogue() -> int:
    from .cases import catalogue
    from .cases.loader import load_strict
    from .cases.specdir import default_spec_dir

    text = catalogue.render(catalogue.load(), load_strict([default_spec_dir()]))
    # Bytes, so the file is UTF-8 whatever the terminal's encoding (titles carry an em-dash).
    sys.stdout.buffer.write(text.encode("utf-8"))
    return ExitCode.OK


def _list(args: argparse.Namespace) -> int:
    from .cases.selection import load_selection, spec_paths

    # Like run: the valid cases are listed, the broken ones are reported (exit 2).
    cases, errors = load_selection(spec_paths(args.paths), args.keyword, args.tag)
    for case in cases:
        print(f"{case.id}  [{case.level}]  {', '.join(case.source)}  {case.title}")
    return ExitCode.USAGE if errors else ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
