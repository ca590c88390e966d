"""The reference implementation behind a real process boundary: ``stdio:python -m conformance.adapters.reference_stdio``.

Useful to test the stdio transport with real behaviour, and as a model for
third-party stdio adapters. ``--mutant NAME`` serves a broken variant.

The run's CA comes from the launch environment (docs/adapter-protocol.md,
section 7): ``CONNECT_CONFORMANCE_CA_PEM``, else the file named by
``CONNECT_CONFORMANCE_CA_FILE``. Without either, the adapter has no TLS.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from .reference import ReferenceAdapter
from .stdio_server import run


def launch_ca_pem(environ: Mapping[str, str] = os.environ) -> str | None:
    """The run's CA certificate (PEM) as the harness handed it over, or None."""
    pem = environ.get("CONNECT_CONFORMANCE_CA_PEM")
    if pem:
        return pem
    path = environ.get("CONNECT_CONFORMANCE_CA_FILE")
    if path:
        return Path(path).read_text(encoding="ascii")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutant", default=None)
    args = parser.parse_args()
    adapter = ReferenceAdapter(mutant=args.mutant, ca_pem=launch_ca_pem())
    run(adapter.request)


if __name__ == "__main__":
    main()
