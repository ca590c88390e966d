"""``connect-conformance peer ...``: the peer as a service (docs/peer-protocol.md) and its image (docs/docker.md).

peer serve [--control HOST:PORT] [--once]   run the peer service here, in the foreground
peer image                                  build (or find) the peer's container image; print its tag
"""

from __future__ import annotations

import argparse
import sys
import time

from ..exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="peer_command", required=True, parser_class=type(parser))
    serve = commands.add_parser(
        "serve",
        help="run the peer service (for `run --peer tcp://HOST:PORT`); prints its address and token as JSON",
    )
    serve.add_argument(
        "--control",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="where the control channel listens (default 127.0.0.1:0: loopback, a free port); "
        "anything but loopback exposes it (docs/peer-protocol.md)",
    )
    serve.add_argument("--once", action="store_true", help="exit when the first harness has gone")
    commands.add_parser(
        "image", help="build the peer's container image unless one of the same inputs exists; print its tag"
    )


def run(args: argparse.Namespace) -> int:
    if args.peer_command == "serve":
        from conformance_peer.control import main

        return main(["--control", args.control, *(["--once"] if args.once else [])])
    from ..peer import docker_engine

    started = time.monotonic()
    tag = docker_engine.peer_image(docker_engine.engine())
    print(tag)
    print(f"peer image ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return ExitCode.OK
