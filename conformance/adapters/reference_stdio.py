"""The reference implementation behind a real process boundary: ``stdio:python -m conformance.adapters.reference_stdio``.

Useful to test the stdio transport with real behaviour, and as a model for
third-party stdio adapters. ``--mutant NAME`` serves a broken variant.
"""

from __future__ import annotations

import argparse

from .reference import ReferenceAdapter
from .stdio_server import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mutant", default=None)
    args = parser.parse_args()
    adapter = ReferenceAdapter(mutant=args.mutant)
    run(adapter.request)


if __name__ == "__main__":
    main()
