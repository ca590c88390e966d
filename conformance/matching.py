"""Comparing observed values with what a case expects (spec/README.md, Matchers).

Pure functions: each returns ``None`` when the value matches, or a sentence
saying how it differs, for the failure message.
"""

from __future__ import annotations

import re
from typing import Any

from .jsvalues import b64

_MISSING = object()


def is_undefined(value: Any) -> bool:
    return isinstance(value, dict) and value.get("$type") == "undefined"


def _is_matcher(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("$")


def show(value: Any, limit: int = 200) -> str:
    if value is _MISSING:
        return "absent"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def match(expected: Any, actual: Any, where: str = "value") -> str | None:
    if _is_matcher(expected):
        ((key, argument),) = expected.items()
        if key == "$any":
            return None
        if key == "$absent":
            if actual is _MISSING or is_undefined(actual):
                return None
            return f"{where} should be absent, got {show(actual)}"
        if key == "$type":
            if isinstance(actual, dict) and actual.get("$type") == argument:
                return None
            return f"{where} should be {argument}, got {show(actual)}"
        if key in ("$regex", "$prefix"):
            if not isinstance(actual, str):
                return f"{where} should be a string, got {show(actual)}"
            ok = re.search(argument, actual) if key == "$regex" else actual.startswith(argument)
            if ok:
                return None
            return f"{where} {show(actual)} does not {'match' if key == '$regex' else 'start with'} {argument!r}"
        return f"unknown matcher {key}"
    if actual is _MISSING:
        return f"{where} is absent, expected {show(expected)}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or "$type" in actual:
            return f"{where} should be an object, got {show(actual)}"
        for key, value in expected.items():
            problem = match(value, actual.get(key, _MISSING), f"{where}.{key}")
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where} should be {show(expected)}, got {show(actual)}"
        for position, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problem = match(want, got, f"{where}[{position}]")
            if problem:
                return problem
        return None
    if type(expected) is not type(actual) and not (
        isinstance(expected, int | float)
        and isinstance(actual, int | float)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        return f"{where} should be {show(expected)}, got {show(actual)}"
    if expected != actual:
        return f"{where} should be {show(expected)}, got {show(actual)}"
    return None


def match_error(expected: Any, error: Any) -> str | None:
    """Match a thrown/rejected value (``{name, message, value?}``) against ``ERR`` or ``any``."""
    if expected == "any":
        return None
    error = error or {}
    for key in ("name", "message", "value"):
        if key in expected:
            problem = match(expected[key], error.get(key, _MISSING), f"error {key}")
            if problem:
                return problem
    return None


def describe_bytes(data: bytes, limit: int = 64) -> str:
    if len(data) <= limit:
        try:
            return repr(data.decode("utf-8"))
        except UnicodeDecodeError:
            return f"hex {data.hex()}"
    return f"{len(data)} bytes (base64 starts {b64(data[:24])})"
