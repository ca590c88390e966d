"""``connect-conformance servers``: the peer's fixed-behaviour servers standalone (echo, TLS echo, STARTTLS echo)."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind",
        action="append",
        choices=["echo", "tls", "starttls"],
        default=[],
        help="a listener to open (repeatable; default: echo)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, action="append", default=[], help="its port (one per --kind, or none: pick free ports)"
    )
    parser.add_argument("--docker", action="store_true", help="run each server in a container (docs/docker.md)")


def run(args: argparse.Namespace) -> int:
    """TLS kinds present a certificate from a CA made for this run only."""
    from conformance_peer.standalone import main as serve_main

    from ..core.certificates import RunCertificates

    kinds = args.kind or ["echo"]
    if args.docker:
        from ..peer.servers_docker import serve_in_containers

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
