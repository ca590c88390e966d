"""Values and errors in their protocol form (docs/adapter-protocol.md, section 3), on top of
``conformance.core.jsvalues``: a request's values become the Python models an implementation
receives (``UNDEFINED``, ``JSBytes``, ``JSBigInt``, ``JSURL``, floats for ``NaN``/``-0``), and what
it returns, raises or resolves with becomes JSON again.
"""

from __future__ import annotations

import binascii
import dataclasses
from collections.abc import Mapping
from typing import Any

from ..core import jsvalues
from ..core.jsvalues import UNDEFINED, JSBytes
from .errors import JSError, JSThrow, ProtocolError

#: Python values that are JS byte views (Uint8Array) when read back.
BytesLike = bytes | bytearray | memoryview


def decode(value: Any) -> Any:
    """A protocol value as the implementation's argument; a malformed tag is the request's fault."""
    try:
        return jsvalues.decode(value)
    except (KeyError, ValueError, TypeError, binascii.Error) as error:
        raise ProtocolError(f"cannot decode the value: {error}") from None


def encode_value(value: Any) -> Any:
    """What the implementation gave, in protocol form (an exception reads as an Error object)."""
    if isinstance(value, BaseException):
        return encode_error(value)
    if isinstance(value, Mapping) and not isinstance(value, dict):
        value = dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and not _is_jsvalue(value):
        value = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): encode_value(item) for key, item in value.items() if item is not UNDEFINED}
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    if value is None or value is UNDEFINED or isinstance(value, str | int | float | BytesLike) or _is_jsvalue(value):
        return jsvalues.encode(value)
    # An object JSON cannot carry: its class, as String() of a JS object names it, not a broken response.
    return f"[object {type(value).__name__}]"


def _is_jsvalue(value: object) -> bool:
    return isinstance(value, JSBytes | jsvalues.JSBigInt | jsvalues.JSURL)


def encode_error(error: BaseException) -> dict[str, Any]:
    """The protocol's ``error`` for what was raised: name and message, or the thrown value."""
    if isinstance(error, JSError):
        return {"name": error.name, "message": error.message}
    if isinstance(error, JSThrow):
        thrown = error.value
        if isinstance(thrown, BaseException):
            return encode_error(thrown)
        return {"name": None, "message": None, "value": encode_value(thrown)}
    return {"name": type(error).__name__, "message": str(error)}


def chunk_bytes(chunk: Any) -> bytes:
    """The bytes of a chunk a reader produced."""
    if isinstance(chunk, JSBytes):
        return chunk.data
    if isinstance(chunk, BytesLike):
        return bytes(chunk)
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    raise TypeError(f"the stream produced a chunk that is not bytes ({type(chunk).__name__})")


def read_result(result: Any) -> tuple[bool, Any]:
    """``(done, value)`` of what ``reader.read()`` gave: ``None``/``UNDEFINED`` (done), a chunk,
    a mapping with ``done`` and ``value``, or an object with those attributes."""
    if result is None or result is UNDEFINED:
        return True, UNDEFINED
    if isinstance(result, JSBytes | BytesLike):
        return False, result
    if isinstance(result, Mapping):
        return bool(result.get("done")), result.get("value", UNDEFINED)
    if hasattr(result, "done"):
        return bool(result.done), getattr(result, "value", UNDEFINED)
    raise TypeError(f"read() gave {type(result).__name__}: expected a chunk, None, or {{done, value}}")


def encode_read_result(result: Any) -> Any:
    done, value = read_result(result)
    if done:
        return {"done": True} if value is UNDEFINED or value is None else {"done": True, "value": encode_value(value)}
    return {"done": False, "value": encode_value(value)}


def typeof(value: Any) -> str:
    """JS ``typeof`` of what the implementation gave."""
    if callable(value) and not isinstance(value, type):
        return "function"
    return jsvalues.typeof(value)
