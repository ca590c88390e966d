"""The connect-conformance command: the parser built from ``commands.COMMANDS``, errors turned into exit codes.

Exit codes (``exitcodes.ExitCode``, the README's table): 0 every outcome as
expected; 1 unexpected outcomes; 2 usage or spec error; 3 infrastructure error
(an adapter would not start, or kept breaking); 4 internal error (a bug of ours);
130 interrupted (partial results are still written).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from . import interrupts
from ._version import __version__
from .commands import COMMANDS, command
from .core.text import plural
from .errors import InfrastructureError, SpecError, SpecErrors, UsageError
from .exitcodes import ExitCode

DESCRIPTION = "The conformance suite for connect() of cloudflare:sockets."


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's own exit code 2 is ours too; the message names the subcommand.
        self.print_usage(sys.stderr)
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="connect-conformance", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"connect-conformance {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for entry in COMMANDS:
        entry.load().add_arguments(subcommands.add_parser(entry.name, help=entry.help))
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


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(arguments)
    # A command that re-executes itself (in the network sandbox) does it with the same arguments.
    args.argv = arguments
    entry = command(args.command)
    try:
        if not entry.own_signals:
            interrupts.deliver()
        return entry.load().run(args)
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


if __name__ == "__main__":
    sys.exit(main())
