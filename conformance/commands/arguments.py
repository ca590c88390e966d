"""Arguments several commands share: the selection of cases, lanes, the sandbox, adapters, durations, shards."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..adapters import registry
from ..adapters.base import MAX_LANES
from ..cases.shards import Shard
from ..core.jsshow import show
from ..errors import ConformanceError, UsageError


def lanes(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number, got {show(value)}") from None
    if not 1 <= count <= MAX_LANES:
        raise argparse.ArgumentTypeError(f"{count}: expected auto or a lane count from 1 to {MAX_LANES}")
    return count


def duration(value: str) -> float:
    number, unit = (value[:-1], value[-1]) if value[-1:] in ("s", "m", "h") else (value, "s")
    try:
        seconds = float(number) * {"s": 1, "m": 60, "h": 3600}[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration like 90s, 10m or 1h, got {show(value)}") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {show(value)}")
    return seconds


def shard(value: str) -> Shard:
    """``--shard I/N`` (``run``, ``history``)."""
    try:
        return Shard.parse(value)
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix(f"--shard {value}: ")) from None


def adapter_help() -> str:
    return " | ".join(
        [
            *registry.names(),
            f"{'|'.join(registry.versioned_names())}@VERSION",
            "reference+<mutant>",
            "stdio:'CMD ARGS'",
            "ws://HOST:PORT/PATH",
            "ws-launch:'CMD ARGS'",
        ]
    )


def add_selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", help="spec files or folders (default: the suite's spec/)")
    parser.add_argument(
        "-k", dest="keyword", metavar="EXPR", help="only cases whose id matches, e.g. -k 'address and not ipv6'"
    )
    parser.add_argument(
        "--tag", action="append", default=[], metavar="T", help="only cases with this tag or area (repeatable)"
    )


def add_spec(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spec",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of your own cases (repeatable): an area (a folder of case files, named like the area) or "
        "a folder of areas; each area replaces the suite's area of the same name or is added to them. Its cases "
        "cite the suite's behaviour catalogue, or DIR/behaviours.yaml when DIR has one",
    )


def expectations_file(value: str) -> Path:
    """``--expectations``: a file, or the name of a built-in adapter for the expectations file shipped with it."""
    path = Path(value)
    if path.exists() or os.sep in value or value.endswith((".yaml", ".yml")):
        return path
    entry = registry.builtin(value)
    try:
        shipped = entry.expectations if entry is not None else None
    except ConformanceError as error:  # argparse shows only its own error types as a usage message
        raise argparse.ArgumentTypeError(str(error)) from None
    if shipped is not None:
        return Path(shipped)
    with_files = ", ".join(e.name for e in registry.BUILTINS if e.expectations_file)
    raise argparse.ArgumentTypeError(f"no such file: {value} (a built-in name gives its shipped file: {with_files})")


def expectations_help() -> str:
    names = "|".join(entry.name for entry in registry.BUILTINS if entry.expectations_file)
    return f"FILE, or {names} for the expectations file shipped with the suite"


def add_lanes(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "-n",
        dest="workers",
        type=lanes,
        default=None,
        metavar="N",
        help=f"{what} at once: auto (default: what suits the adapter, e.g. 16 in-process, 8 workerd processes) "
        f"or 1..{MAX_LANES}",
    )


def add_sandbox(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run inside fresh network namespaces: only lo (with Cloudflare addresses on it), private /etc/hosts, "
        f"no DNS; cases that need it are skipped outside one (docs/sandbox.md); {default}",
    )
