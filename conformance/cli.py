"""The ``connect-conformance`` command (DESIGN.md section 9).

Exit codes of ``run``: 0 every outcome as expected; 1 unexpected outcomes;
2 usage or spec error; 3 infrastructure error (the adapter would not start);
130 interrupted (partial results are still written).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import __version__, expectations, loader, peers, selection
from .adapters import registry
from .errors import InfrastructureError, SpecError, SpecErrors, UsageError
from .model import Case
from .outcomes import CaseResult
from .progress import Progress
from .protocol.client import Hello
from .report import junit, results, summary
from .runner import AdapterSpec, run_cases

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_INFRASTRUCTURE = 3
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own exit code 2 is ours too; the message names the subcommand.
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _paths(values: Sequence[str]) -> list[Path]:
    """The spec paths asked for (default: ./spec, else the checkout's); each must exist."""
    if values:
        paths = [Path(v) for v in values]
    else:
        local = Path("spec")
        paths = [local if local.is_dir() else loader.default_spec_dir()]
    for path in paths:
        if not path.exists():
            raise UsageError(f"no such spec file or folder: {path}")
    return paths


def _add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="spec files or folders (default: spec/)")
    parser.add_argument(
        "-k", dest="keyword", metavar="EXPR", help="only cases whose id matches, e.g. -k 'address and not ipv6'"
    )
    parser.add_argument(
        "--tag", action="append", default=[], metavar="T", help="only cases with this tag or area (repeatable)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="connect-conformance", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"connect-conformance {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run cases against an implementation")
    _add_selection(run)
    run.add_argument(
        "--adapter", default="reference", help="reference | reference+<mutant> | stdio:'CMD ARGS' | ws://HOST:PORT/PATH"
    )
    run.add_argument("--expectations", type=Path, metavar="FILE", help="known non-pass outcomes of this implementation")
    run.add_argument(
        "--update-expectations",
        type=Path,
        metavar="FILE",
        help="after the run, rewrite FILE from its outcomes (existing reasons are kept)",
    )
    run.add_argument("--report-dir", type=Path, default=Path("reports/latest"), metavar="DIR")
    run.add_argument("-n", dest="workers", type=int, default=1, metavar="N", help="cases run at once (default 1)")
    run.add_argument("-v", "--verbose", action="store_true", help="a line for every case, passes too")
    run.add_argument(
        "--peer",
        default="in-process",
        metavar="WHERE",
        help="where the peer runs: in-process (default) | docker | tcp://HOST:PORT (a `peer serve`; "
        "its token in $CONNECT_CONFORMANCE_PEER_TOKEN)",
    )

    validate = commands.add_parser("validate", help="check spec files against the schema and lint rules")
    validate.add_argument("paths", nargs="*", help="spec files or folders (default: spec/)")

    listing = commands.add_parser("list", help="list cases with ids, levels and sources")
    _add_selection(listing)

    mutants = commands.add_parser(
        "mutants", help="run the suite against each broken reference and show what catches it"
    )
    _add_selection(mutants)
    mutants.add_argument("-n", dest="workers", type=int, default=2, metavar="N")
    mutants.add_argument("--only", action="append", default=[], metavar="MUTANT", help="only this mutant (repeatable)")
    mutants.add_argument("--parallel", type=int, default=4, metavar="M", help="mutant suites run at once (default 4)")

    install = commands.add_parser(
        "install", help="install the npm packages of the JS adapters now (else: on first use)"
    )
    install.add_argument("adapters", nargs="*", metavar="ADAPTER", help="workerd, node-socket (default: both)")

    report = commands.add_parser("report", help="published reports")
    report_commands = report.add_subparsers(dest="report_command", required=True, parser_class=_Parser)
    publish = report_commands.add_parser(
        "publish", help="regenerate reports/README.md (the matrix) from reports/<implementation>/results.json"
    )
    publish.add_argument("--reports", type=Path, default=Path("reports"), metavar="DIR")
    publish.add_argument(
        "--run",
        action="store_true",
        help="first run the suite against each implementation (with its expectations file)",
    )
    publish.add_argument("--only", action="append", default=[], metavar="IMPL", help="only this implementation")
    check = report_commands.add_parser("validate", help="check results.json files against the results schema")
    check.add_argument("files", nargs="+", type=Path)
    diff = report_commands.add_parser("compare", help="regressions, fixes, new and removed cases between two runs")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison as JSON")
    html = report_commands.add_parser("html", help="a single-file, offline HTML report of one or more runs")
    html.add_argument("files", nargs="+", type=Path)
    html.add_argument("-o", "--output", type=Path, default=Path("reports/latest/index.html"))

    adapter_check = commands.add_parser(
        "adapter-check",
        help="check that an adapter speaks the adapter protocol (not whether the implementation conforms)",
    )
    adapter_check.add_argument(
        "--adapter",
        required=True,
        help="reference | stdio:'CMD ARGS' | ws://HOST:PORT/PATH | any --adapter value of run",
    )
    adapter_check.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds an answer may take beyond its timeout_ms (default 5, as in run)",
    )

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
    servers.add_argument("--host", default="127.0.0.1")
    servers.add_argument(
        "--port", type=int, action="append", default=[], help="its port (one per --kind, or none: pick free ports)"
    )
    servers.add_argument("--docker", action="store_true", help="run each server in a container (docs/docker.md)")

    from .peer_command import add_peer_command

    add_peer_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "list":
            return _list(args)
        if args.command == "mutants":
            from .mutants_command import run_mutants

            return run_mutants(_select(args), workers=args.workers, only=args.only, parallel=args.parallel)
        if args.command == "servers":
            return _servers(args)
        if args.command == "peer":
            from .peer_command import peer_command

            return peer_command(args)
        if args.command == "adapter-check":
            from .adapter_check import command

            return command(args.adapter, timeout=args.timeout)
        if args.command == "report":
            from .report.commands import report

            return report(args)
        if args.command == "install":
            from .adapters import npm_cache

            unknown = [name for name in args.adapters if name not in npm_cache.PACKAGE_SETS]
            if unknown:
                raise UsageError(
                    f"install: unknown adapter(s) {', '.join(unknown)}; expected {', '.join(npm_cache.PACKAGE_SETS)}"
                )
            for name in args.adapters or npm_cache.PACKAGE_SETS:
                print(f"{name}: {npm_cache.ensure(name)}")
            return EXIT_OK
    except SpecErrors as errors:
        for error in errors.errors:
            print(error, file=sys.stderr)
        print(f"{len(errors.errors)} problem(s) in the spec; nothing was run", file=sys.stderr)
        return EXIT_USAGE
    except (SpecError, UsageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except InfrastructureError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INFRASTRUCTURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_USAGE


def _select(args: argparse.Namespace) -> list[Case]:
    cases = selection.select(loader.load_strict(_paths(args.paths)), args.keyword, args.tag)
    if not cases:
        raise UsageError("no case matches the selection")
    return cases


def _select_lenient(args: argparse.Namespace) -> tuple[list[Case], list[SpecError]]:
    """The valid selected cases, and the spec problems (printed; the broken cases do not run)."""
    paths = _paths(args.paths)
    loaded, errors = loader.load(paths)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print(f"{len(errors)} problem(s) in the spec: those cases will not run; the others will", file=sys.stderr)
    cases = selection.select(loaded, args.keyword, args.tag)
    if not cases:
        raise UsageError("no case matches the selection" if not errors else "no valid case to run")
    return cases, errors


def _servers(args: argparse.Namespace) -> int:
    """Run the peer standalone; TLS kinds present a certificate from a CA made for this run only."""
    from conformance_peer.standalone import main as serve_main

    from .certificates import RunCertificates

    kinds = args.kind or ["echo"]
    if args.docker:
        from .servers_docker import serve_in_containers

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
    paths = _paths(args.paths)
    cases, errors = loader.load(paths)
    for error in errors:
        print(error, file=sys.stderr)
    files = len(loader.spec_files(paths))
    if errors:
        print(f"{len(errors)} problem(s) in {files} file(s)", file=sys.stderr)
        return EXIT_USAGE
    print(f"ok: {len(cases)} cases in {files} file(s)")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    for case in _select(args):
        print(f"{case.id}  [{case.level}]  {', '.join(case.source)}  {case.title}")
    return EXIT_OK


@dataclass
class RunState:
    """What a run has gathered so far; still there when it is interrupted."""

    hello: Hello | None = None
    results: list[CaseResult] = field(default_factory=list)


def execute(
    cases: list[Case],
    adapter: AdapterSpec,
    workers: int,
    progress: Progress | None,
    state: RunState,
    peer: peers.PeerChoice = peers.IN_PROCESS,
) -> None:
    def on_result(result: CaseResult) -> None:
        state.results.append(result)
        if progress is not None:
            progress(result)

    async def go() -> None:
        # SIGTERM ends a run like Ctrl-C: cancelled cases, partial results, everything cleaned up.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        state.hello, _ = await run_cases(cases, adapter, workers=workers, on_result=on_result, peer=peer)

    try:
        asyncio.run(go())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


def _run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UsageError("-n must be at least 1")
    cases, spec_errors = _select_lenient(args)
    known = expectations.load(args.expectations) if args.expectations else None
    adapter = registry.resolve(args.adapter)
    peer = peers.parse(args.peer)
    started = datetime.now(UTC)
    clock = time.monotonic()
    state = RunState()
    progress = Progress(len(cases), verbose=args.verbose)
    where = "" if peer == peers.IN_PROCESS else f", peer {peer}"
    print(f"running {len(cases)} cases against {adapter.name} with {args.workers} worker(s){where}", file=sys.stderr)
    interrupted = False
    infrastructure: str | None = None
    try:
        execute(cases, adapter, args.workers, progress, state, peer)
    except KeyboardInterrupt:
        interrupted = True
    except InfrastructureError as error:
        infrastructure = str(error)
    progress.finish()
    order = {case.id: index for index, case in enumerate(cases)}
    done = sorted(state.results, key=lambda r: order[r.id])
    verdict = expectations.gate(done, known)
    header = results.RunHeader(
        adapter=state.hello.as_dict() if state.hello else {"name": adapter.name},
        adapter_spec=adapter.name,
        started=started.isoformat(timespec="seconds"),
        duration_s=time.monotonic() - clock,
        workers=args.workers,
        spec_revision=results.spec_revision([c.file for c in cases]),
        selection={
            "keyword": args.keyword,
            "tags": args.tag,
            "paths": [str(p) for p in _paths(args.paths)],
            "selected": len(cases),
            "expectations": str(args.expectations) if args.expectations else None,
            "peer": str(peer),
        },
        interrupted=interrupted,
        error=infrastructure,
        spec_errors=[str(error) for error in spec_errors],
    )
    write_reports(args.report_dir, header, done, verdict)
    if args.update_expectations and not interrupted and not infrastructure:
        previous = expectations.load(args.update_expectations) if args.update_expectations.is_file() else None
        expectations.write(args.update_expectations, expectations.updated(done, previous, adapter.name))
        print(f"expectations rewritten: {args.update_expectations}")
    if infrastructure:
        print(f"error: {infrastructure}", file=sys.stderr)
        return EXIT_INFRASTRUCTURE
    print(summary.text_table(done))
    _print_gate(verdict, known)
    print(f"reports written to {args.report_dir}/ (results.json, junit.xml, summary.md)")
    if interrupted:
        print(f"interrupted: {len(done)} of {len(cases)} cases ran; partial results written", file=sys.stderr)
        return EXIT_INTERRUPTED
    if spec_errors:
        print(f"{len(spec_errors)} problem(s) in the spec (listed above and in results.json)", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if verdict.ok else EXIT_UNEXPECTED


def write_reports(
    directory: Path, header: results.RunHeader, done: list[CaseResult], verdict: expectations.GateResult
) -> None:
    results.write_json(directory / "results.json", results.results_document(header, done, verdict.as_dict()))
    junit.write_junit(directory / "junit.xml", f"connect-conformance: {header.adapter_spec}", done)
    notes = [
        f"Adapter `{header.adapter_spec}` ({header.adapter.get('runtime', '?')}), suite {__version__}, "
        f"spec revision `{header.spec_revision}`, {header.duration_s:.1f} s."
    ]
    if header.interrupted:
        notes.append("**Interrupted**: partial results.")
    (directory / "summary.md").write_text(
        summary.markdown("connect-conformance results", done, notes), encoding="utf-8"
    )


def _print_gate(verdict: expectations.GateResult, known: expectations.Expectations | None) -> None:
    for result, expected in verdict.unexpected:
        first = result.message.splitlines()[0] if result.message else ""
        print(f"UNEXPECTED {result.outcome.value} (expected {expected}): {result.id}  {result.file}:{result.line}")
        if first:
            print(f"    {first}")
    if known is not None:
        print(
            f"expectations {known.path}: {verdict.expected_failures} expected non-pass, "
            f"{len(verdict.unexpected)} unexpected, {verdict.flaky} flaky, {len(verdict.unused)} unused, "
            f"{len(verdict.expired)} expired"
        )
        for case_id in verdict.unused:
            print(f"    unused expectation: {case_id}")
        for case_id in verdict.expired:
            entry = known.expected(case_id)
            print(f"EXPIRED expectation (until {entry.until if entry else '?'}): {case_id}: look at it again")


if __name__ == "__main__":
    sys.exit(main())
