"""Comparing observed values with what a case expects (spec/README.md, Matchers).

Pure functions: each returns ``None`` when the value matches, or a sentence
for the failure message that puts the expected and the observed value side by
side, both written as JavaScript shows them (``jsshow``): ``expected "a", got
undefined``.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.jsshow import expected_error, is_error_object, path, show, show_error, show_expected

#: A key the observed object does not have; it reads as ``undefined``, as a missing property does in JS.
_MISSING = object()


def is_undefined(value: Any) -> bool:
    return isinstance(value, dict) and value.get("$type") == "undefined"


def _is_matcher(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)).startswith("$")


def _shown(value: Any) -> str:
    return "undefined" if value is _MISSING else show(value)


def _differs(where: str, expected: Any, actual: Any) -> str:
    at = "" if where == "value" else f"{where}: "
    return f"{at}expected {show_expected(expected)}, got {_shown(actual)}"


def match(expected: Any, actual: Any, where: str = "value") -> str | None:
    if _is_matcher(expected):
        ((key, argument),) = expected.items()
        if key == "$any":
            return None
        if key == "$absent":
            if actual is _MISSING or is_undefined(actual):
                return None
            at = "" if where == "value" else f"{where}: "
            return f"{at}expected no such property (undefined), got {show(actual)}"
        if key == "$type":
            if isinstance(actual, dict) and actual.get("$type") == argument:
                return None
            return _differs(where, expected, actual)
        if key in ("$regex", "$prefix"):
            if isinstance(actual, str) and (
                re.search(argument, actual) if key == "$regex" else actual.startswith(argument)
            ):
                return None
            return _differs(where, expected, actual)
        return f"unknown matcher {key}"
    if actual is _MISSING:
        return _differs(where, expected, actual)
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or "$type" in actual:
            return _differs(where, expected, actual)
        for key, value in expected.items():
            problem = match(value, actual.get(key, _MISSING), path(where, key))
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return _differs(where, expected, actual)
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
        return _differs(where, expected, actual)
    if expected != actual:
        return _differs(where, expected, actual)
    return None


def match_error(expected: Any, error: Any, seen: str = "threw") -> str | None:
    """Match a thrown/rejected value (``{name, message, code?, value?}``) against ``ERR`` or ``any``.

    ``seen`` says what happened (``threw``, ``rejected with``): a value of the
    wrong kind (``undefined`` where an Error was expected, an Error of another
    name) is reported whole, next to what was expected; a message that differs
    is reported as the message.
    """
    if expected == "any":
        return None
    error = error if isinstance(error, dict) else {}
    for key in ("name", "message", "code", "value"):
        if key in expected:
            problem = match(expected[key], error.get(key, _MISSING), f"error.{key}")
            if problem and key == "message" and is_error_object(error):
                return problem
            if problem:
                return f"{seen} {show_error(error)}, expected {expected_error(expected)}"
    return None
