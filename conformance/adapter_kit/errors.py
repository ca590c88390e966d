"""How an op fails: the implementation's JS-like errors, and the adapter's own refusals.

An implementation raises ``JSError`` where JavaScript throws or rejects with an ``Error``
(``TypeError``, ...), and ``JSThrow`` for any other value (``undefined``, a string). Any other
Python exception it raises reads as an Error named after its class. ``Unsupported`` and
``ProtocolError`` are answers of the adapter, never of the implementation's behaviour.
"""

from __future__ import annotations


class JSError(Exception):
    """A JS ``Error`` object: ``name`` is its constructor's name (``TypeError``), ``message`` its message."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message

    def __repr__(self) -> str:
        return f"{self.name}({self.message!r})"


class JSThrow(Exception):
    """A thrown or rejection value that is not an Error (JS lets a program throw anything)."""

    def __init__(self, value: object) -> None:
        super().__init__(value)
        self.value = value


class Unsupported(Exception):
    """The implementation has no such feature: the op answers ``unsupported`` with this reason.

    Raise it from ``connect`` or any socket method (a TLS option the implementation lacks); the
    kit raises it itself for a method or attribute the socket does not have.
    """


class ProtocolError(Exception):
    """The request is malformed (unknown op or handle, missing field): answered ``protocol_error``."""


def describe(error: BaseException) -> str:
    """``Name: message`` of an exception, for reasons and logs."""
    if isinstance(error, JSError):
        return f"{error.name}: {error.message}"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
