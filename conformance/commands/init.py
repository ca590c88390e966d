"""``connect-conformance init js|python DIR``: scaffold a project that validates an implementation.

The files are described in ``adapter_kit/scaffold.py``; docs/adapters.md starts with how to use them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError
from ..exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..adapter_kit.scaffold import DEFAULT_CAPABILITIES, RUNTIMES

    parser.add_argument(
        "language",
        choices=("js", "python"),
        help="js: a shell on the JavaScript kit; python: one on conformance.adapter_kit",
    )
    parser.add_argument("dir", type=Path, metavar="DIR", help="the project's folder (made if missing; must be empty)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into a DIR that is not empty; a file that exists is kept, never replaced",
    )
    parser.add_argument("--name", help="the implementation's name, as hello answers it (default: DIR's name)")
    parser.add_argument(
        "--connect-from",
        metavar="MODULE",
        help="where the shell imports connect from: a JS module specifier (@arrowood.dev/socket, ./sockets.mjs) or a "
        "Python module (my_sockets); default: a placeholder connect.mjs / connect.py, written too",
    )
    parser.add_argument(
        "--runtime",
        choices=tuple(RUNTIMES),
        default="node",
        help="js only: the runtime the launcher starts with the run's CA, and CI sets up (default: node)",
    )
    parser.add_argument(
        "--capabilities",
        metavar="LIST",
        help="comma-separated capabilities the shell declares (docs/adapters.md, section 11; default: "
        f"{','.join(DEFAULT_CAPABILITIES['js'])} for js, {','.join(DEFAULT_CAPABILITIES['python'])} for python)",
    )


def run(args: argparse.Namespace) -> int:
    from ..adapter_kit import scaffold

    folder: Path = args.dir
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"init: {folder} is a file, not a folder")
    present = scaffold.unexpected_contents(folder)
    if present and not args.force:
        shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
        raise UsageError(f"init: {folder} is not empty ({shown}); choose an empty folder, or pass --force")
    if args.runtime != "node" and args.language != "js":
        raise UsageError("init: --runtime is for a js project")
    capabilities = scaffold.DEFAULT_CAPABILITIES[args.language]
    if args.capabilities is not None:
        from ..adapter_check.probes import known_capabilities

        capabilities = tuple(item.strip() for item in args.capabilities.split(",") if item.strip())
        unknown = [item for item in capabilities if item not in known_capabilities()]
        if unknown:
            raise UsageError(
                f"init --capabilities: unknown {', '.join(unknown)}; known: {', '.join(known_capabilities())}"
            )
    name = args.name or folder.resolve().name
    project = scaffold.Project(args.language, folder, name, args.connect_from, capabilities, args.runtime)
    written, kept = scaffold.write(project)
    for path in written:
        print(f"wrote {path}")
    for path in kept:
        print(f"kept {path}: it exists (compare it with what `init` writes into an empty folder)")
    print(f"next: {folder}/README.md (adapter-check, run, --update-expectations, review the drafts, the gate in CI)")
    return ExitCode.OK
