"""``connect-conformance catalogue``: the behaviour catalogue as Markdown (``spec/behaviours.md`` is this output)."""

from __future__ import annotations

import argparse
import sys

from ..exitcodes import ExitCode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments: the catalogue of this package's spec."""


def run(args: argparse.Namespace) -> int:
    from ..cases import catalogue
    from ..cases.loader import load_strict
    from ..cases.specdir import default_spec_dir

    text = catalogue.render(catalogue.load(), load_strict([default_spec_dir()]))
    # Bytes, so the file is UTF-8 whatever the terminal's encoding (titles carry an em-dash).
    sys.stdout.buffer.write(text.encode("utf-8"))
    return ExitCode.OK
