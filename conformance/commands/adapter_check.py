"""``connect-conformance adapter-check``: does an adapter speak the adapter protocol (not: does it conform)."""

from __future__ import annotations

import argparse

from . import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", required=True, help=f"any --adapter value of run: {arguments.adapter_help()}")
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds an answer may take beyond its timeout_ms (default 5, as in run)",
    )


def run(args: argparse.Namespace) -> int:
    from ..adapter_check import command

    return command(args.adapter, timeout=args.timeout)
