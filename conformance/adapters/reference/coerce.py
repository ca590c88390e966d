"""ECMAScript coercions (ToString, ToNumber, ToBoolean) over decoded protocol values.

Conformance cases pass deliberately odd values to ``connect()`` (``port: "80"``,
``secureTransport: true``, ``allowHalfOpen: "yes"``...). The runtime converts
them with the ECMAScript abstract operations before validating, so the
reference must convert them the same way to produce the same messages.

Values are those of ``conformance.core.jsvalues.decode``: ``None`` is ``null``,
``UNDEFINED`` is ``undefined``, ``dict`` is a plain object, ``list`` an Array,
``JSBytes`` a byte view, ``JSBigInt`` a BigInt.
"""

from __future__ import annotations

import math
import re
import struct
from decimal import Decimal
from typing import Any

from ...core.jsvalues import JSURL, UNDEFINED, JSBigInt, JSBytes
from .errors import BIGINT_TO_NUMBER, type_error

#: ECMAScript WhiteSpace and LineTerminator, which StringToNumber trims.
_JS_WHITESPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_DECIMAL = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_RADIX = re.compile(r"0(?:[xX](?P<hex>[0-9a-fA-F]+)|[oO](?P<oct>[0-7]+)|[bB](?P<bin>[01]+))")

#: struct formats of the typed arrays, for Array.prototype.join over their elements.
_ELEMENT_FORMATS = {
    "Uint8Array": "B",
    "Uint8ClampedArray": "B",
    "Int8Array": "b",
    "Uint16Array": "<H",
    "Int16Array": "<h",
    "Uint32Array": "<I",
    "Int32Array": "<i",
    "Float32Array": "<f",
    "Float64Array": "<d",
}


def number_to_string(x: float) -> str:
    """Number::toString(10): shortest round-trip digits, JS exponent rules."""
    if math.isnan(x):
        return "NaN"
    if x == 0:
        return "0"  # -0 prints as "0" too
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x < 0:
        return "-" + number_to_string(-x)
    # repr() gives the shortest digits that round-trip, the same digits JS picks.
    _, digit_tuple, exponent = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k  # the decimal point sits after n digits
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _int_to_string(value: int) -> str:
    # JSON integers beyond 2**53 were doubles on the JS side.
    if abs(value) <= 2**53:
        return str(value)
    return number_to_string(float(value))


def _bytes_to_string(value: JSBytes) -> str:
    if value.view in ("ArrayBuffer", "SharedArrayBuffer"):
        return f"[object {value.view}]"
    if value.view == "DataView":
        return "[object DataView]"
    if value.view == "Buffer":
        return value.data.decode("utf-8", errors="replace")  # Node's Buffer.toString()
    fmt = _ELEMENT_FORMATS.get(value.view, "B")
    size = struct.calcsize(fmt)
    usable = len(value.data) - len(value.data) % size
    elements = (item for (item,) in struct.iter_unpack(fmt, value.data[:usable]))
    return ",".join(number_to_string(item) if isinstance(item, float) else str(item) for item in elements)


def to_js_string(value: Any) -> str:
    """ECMAScript ToString (objects through their default toString)."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _int_to_string(value)
    if isinstance(value, float):
        return number_to_string(value)
    if isinstance(value, str):
        return value
    if isinstance(value, JSBigInt):
        return str(value.value)
    if isinstance(value, list):
        return ",".join("" if item is None or item is UNDEFINED else to_js_string(item) for item in value)
    if isinstance(value, JSBytes):
        return _bytes_to_string(value)
    if isinstance(value, JSURL):
        return value.href  # URL.prototype.toString
    return "[object Object]"


def string_to_number(text: str) -> float:
    """ECMAScript StringToNumber: trimmed decimal, Infinity, or 0x/0o/0b literal; else NaN."""
    text = text.strip(_JS_WHITESPACE)
    if not text:
        return 0.0
    radix = _RADIX.fullmatch(text)
    if radix:
        if radix["hex"]:
            return float(int(radix["hex"], 16))
        if radix["oct"]:
            return float(int(radix["oct"], 8))
        return float(int(radix["bin"], 2))
    if _DECIMAL.fullmatch(text):
        return float(text)
    return math.nan


def to_number(value: Any) -> float:
    """ECMAScript ToNumber; a BigInt throws TypeError as in V8."""
    if value is UNDEFINED:
        return math.nan
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int):
        return float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, str):
        return string_to_number(value)
    if isinstance(value, JSBigInt):
        raise type_error(BIGINT_TO_NUMBER)
    if isinstance(value, list | JSBytes):
        return string_to_number(to_js_string(value))
    return math.nan  # a plain object: "[object Object]"


def to_boolean(value: Any) -> bool:
    """ECMAScript ToBoolean: only undefined, null, false, 0, -0, NaN, "" and 0n are false."""
    if value is UNDEFINED or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return value != ""
    if isinstance(value, JSBigInt):
        return value.value != 0
    return True
