"""``connect-conformance image``: the harness's own container image (docs/docker.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wheel",
        type=Path,
        metavar="FILE",
        help="the connect-conformance wheel to install in the image (default: one built from this checkout "
        "when installed with pip install -e, else the wheel this installation came from)",
    )
    parser.add_argument(
        "--base",
        metavar="IMAGE",
        help="the image to build on, with python3 3.11+ (default: $CONNECT_CONFORMANCE_PEER_BASE, else the "
        "local base of servers/docker/base-image.sh, as for the peer's image)",
    )


def run(args: argparse.Namespace) -> int:
    from ..peer import docker_engine, harness_image

    started = time.monotonic()
    tag = harness_image.harness_image(docker_engine.engine(), wheel=args.wheel, base=args.base)
    print(tag)
    print(f"harness image ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return ExitCode.OK
