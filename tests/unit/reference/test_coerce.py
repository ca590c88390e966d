"""ECMAScript coercions used by connect()'s argument conversion."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.adapters.reference.coerce import (
    number_to_string,
    string_to_number,
    to_boolean,
    to_js_string,
    to_number,
)
from conformance.adapters.reference.errors import JSError, JSThrow
from conformance.core.jsvalues import UNDEFINED, JSBigInt, JSBytes


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (80.0, "80"),
        (80.9, "80.9"),
        (-1.5, "-1.5"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (1e-7, "1e-7"),
        (2.5e25, "2.5e+25"),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
    ],
)
def test_number_to_string_follows_js(number: float, text: str) -> None:
    assert number_to_string(number) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_number_to_string_round_trips(number: float) -> None:
    assert float(number_to_string(number)) == number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (UNDEFINED, "undefined"),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (2**60, "1152921504606847000"),  # a double in JS: shortest digits
        (-3.25, "-3.25"),
        ("x y", "x y"),
        (JSBigInt(12345678901234567890), "12345678901234567890"),
        ([1, None, "a", [2, 3]], "1,,a,2,3"),
        ({"hostname": "x"}, "[object Object]"),
        (JSBytes(b"\x01\x02"), "1,2"),
        (JSBytes(b"\x01\x00\x02\x00", "Uint16Array"), "1,2"),
        (JSBytes(b"ab", "ArrayBuffer"), "[object ArrayBuffer]"),
        (JSBytes(b"ab", "DataView"), "[object DataView]"),
        (JSBytes(b"ab", "Buffer"), "ab"),
    ],
)
def test_to_js_string(value: object, text: str) -> None:
    assert to_js_string(value) == text


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("80", 80.0),
        ("  80\n", 80.0),
        ("", 0.0),
        ("   ", 0.0),
        ("0x1F", 31.0),
        ("0o17", 15.0),
        ("0b101", 5.0),
        ("1e3", 1000.0),
        ("+.5", 0.5),
        ("-Infinity", -math.inf),
        ("8.", 8.0),
    ],
)
def test_string_to_number(text: str, number: float) -> None:
    assert string_to_number(text) == number


@pytest.mark.parametrize("text", ["abc", "80px", "1_000", "inf", "nan", "0x", "-0x10", "1e", "١٢"])
def test_string_to_number_gives_nan_for_non_literals(text: str) -> None:
    assert math.isnan(string_to_number(text))


@pytest.mark.parametrize(
    ("value", "number"),
    [(None, 0.0), (True, 1.0), (False, 0.0), (7, 7.0), ([], 0.0), ([80], 80.0), (JSBytes(b"P"), 80.0)],
)
def test_to_number(value: object, number: float) -> None:
    assert to_number(value) == number


@pytest.mark.parametrize("value", [UNDEFINED, {}, [1, 2], "abc", JSBytes(b"", "ArrayBuffer")])
def test_to_number_nan(value: object) -> None:
    assert math.isnan(to_number(value))


def test_to_number_of_bigint_throws_type_error_like_v8() -> None:
    with pytest.raises(JSThrow) as raised:
        to_number(JSBigInt(80))
    error = raised.value.value
    assert isinstance(error, JSError)
    assert (error.name, error.message) == ("TypeError", "Cannot convert a BigInt value to a number")


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (UNDEFINED, False),
        (None, False),
        (False, False),
        (0, False),
        (-0.0, False),
        (math.nan, False),
        ("", False),
        (JSBigInt(0), False),
        (True, True),
        (1, True),
        ("false", True),
        ("0", True),
        ({}, True),
        ([], True),
        (JSBytes(b""), True),
        (JSBigInt(-1), True),
    ],
)
def test_to_boolean(value: object, truthy: bool) -> None:
    assert to_boolean(value) is truthy
