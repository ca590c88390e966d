"""Durations and sizes as written in spec files ("300ms", "2s", "16MiB")."""

from __future__ import annotations

import re

from .jsshow import show

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s)$")
_SIZE = re.compile(r"^([0-9]+)(B|KiB|MiB|GiB)?$")
_SIZE_FACTORS = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


def seconds(value: object) -> float:
    """A duration in seconds."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {show(value)}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            number = float(match.group(1))
            return number / 1000 if match.group(2) == "ms" else number
    raise ValueError(f"not a duration: {show(value)} (write 300ms, 2s or a number of seconds)")


def size(value: object) -> int:
    """A size in bytes."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {show(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match:
            return int(match.group(1)) * _SIZE_FACTORS[match.group(2)]
    raise ValueError(f"not a size: {show(value)} (write 512, 64KiB or 16MiB)")
