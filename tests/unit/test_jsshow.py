"""Values in messages are written as JavaScript shows them, never as Python's repr (conformance/core/jsshow.py)."""

from __future__ import annotations

import base64
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.core.jsshow import (
    expected_error,
    kind,
    number,
    regex,
    show,
    show_error,
    show_expected,
    string,
    wire_bytes,
)
from conformance.core.jsvalues import JSURL, UNDEFINED, JSBigInt, JSBytes

#: What Python's repr of a JSON-ish or tagged value gives away.
PYTHON_REPR = re.compile(
    r"\b(None|True|False)\b|\{'|': '|(?<![\\\w])b['\"]|JSBytes|JSBigInt|JSURL|UndefinedType|<object"
)

VIEWS = [
    "Uint8Array",
    "Int8Array",
    "Uint8ClampedArray",
    "Uint16Array",
    "Int16Array",
    "Uint32Array",
    "Int32Array",
    "Float32Array",
    "Float64Array",
    "BigInt64Array",
    "BigUint64Array",
    "ArrayBuffer",
    "DataView",
    "Buffer",
]

# Text that cannot spell a Python repr by itself (no N/T/F/b and no quote), so any repr in
# the output came from the formatter; control characters and lone surrogates included.
safe_text = st.text(
    alphabet=st.characters(blacklist_characters="NTFb'", blacklist_categories=()),
    max_size=12,
)
numbers = st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=True, allow_infinity=True)
tagged = st.one_of(
    st.just({"$type": "undefined"}),
    st.builds(
        lambda data, view: {"$type": "bytes", "b64": base64.b64encode(data).decode(), "view": view},
        st.binary(max_size=80),
        st.sampled_from(VIEWS),
    ),
    st.builds(
        lambda seed, size, view: {
            "$type": "pattern",
            "seed": base64.b64encode(seed).decode(),
            "size": size,
            "view": view,
        },
        st.binary(min_size=1, max_size=8),
        st.integers(min_value=0, max_value=64 * 1024 * 1024),
        st.sampled_from(VIEWS),
    ),
    st.builds(lambda v: {"$type": "number", "value": v}, st.sampled_from(["NaN", "Infinity", "-Infinity", "-0"])),
    st.builds(lambda v: {"$type": "bigint", "value": str(v)}, st.integers()),
    st.builds(lambda href: {"$type": "url", "href": href}, safe_text),
)
models = st.one_of(
    st.just(UNDEFINED),
    st.builds(JSBytes, st.binary(max_size=40), st.sampled_from(VIEWS)),
    st.builds(JSBigInt, st.integers()),
    st.builds(JSURL, safe_text),
    st.binary(max_size=40),
)
matchers = st.one_of(
    st.just({"$any": True}),
    st.just({"$absent": True}),
    st.builds(lambda t: {"$regex": t}, safe_text),
    st.builds(lambda t: {"$prefix": t}, safe_text),
    st.builds(lambda t: {"$type": t}, st.sampled_from(["undefined", "bytes", "number", "bigint", "url", "other"])),
)
values = st.recursive(
    st.none() | st.booleans() | numbers | safe_text | tagged | models,
    lambda children: (
        st.lists(children, max_size=25) | st.dictionaries(safe_text, children, max_size=25) | st.tuples(children)
    ),
    max_leaves=25,
)
expectations = st.recursive(
    st.none() | st.booleans() | numbers | safe_text | tagged | matchers,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(safe_text, children, max_size=5),
    max_leaves=15,
)


@given(values, st.integers(min_value=1, max_value=400))
def test_no_python_repr_ever_comes_out_of_a_value(value: Any, limit: int) -> None:
    shown = show(value, limit)
    assert not PYTHON_REPR.search(shown), shown
    assert "'" not in shown, shown  # JS strings here are double-quoted; the input has no quote
    assert len(shown) <= limit


@given(expectations)
def test_no_python_repr_ever_comes_out_of_an_expectation(value: Any) -> None:
    shown = show_expected(value)
    assert not PYTHON_REPR.search(shown), shown
    assert "'" not in shown, shown


@given(st.lists(matchers, max_size=3) | st.dictionaries(st.text(alphabet="ab-", max_size=3), matchers, max_size=3))
def test_matchers_are_always_words(value: Any) -> None:
    # A matcher shown as the object it is written as would start "{$".
    assert "{$" not in show_expected(value)


@given(st.one_of(st.none(), values, st.dictionaries(st.sampled_from(["name", "message", "value"]), values)))
def test_no_python_repr_ever_comes_out_of_an_error(error: Any) -> None:
    shown = show_error(error)
    assert not PYTHON_REPR.search(shown), shown


@given(st.dictionaries(st.sampled_from(["name", "message", "value"]), expectations) | st.just("any"))
def test_no_python_repr_ever_comes_out_of_an_expected_error(wanted: Any) -> None:
    shown = expected_error(wanted)
    assert not PYTHON_REPR.search(shown), shown


def _read_js_string(literal: str) -> str:
    """The string a JS double-quoted literal (of the escapes ``string`` writes) stands for."""
    assert literal.startswith('"'), literal
    assert literal.endswith('"'), literal
    body, out, position = literal[1:-1], [], 0
    simple = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", '"': '"', "\\": "\\"}
    while position < len(body):
        character = body[position]
        if character == '"':
            raise AssertionError(f"an unescaped quote inside {literal}")
        if character != "\\":
            out.append(character)
            position += 1
            continue
        escape = body[position + 1]
        if escape in simple:
            out.append(simple[escape])
            position += 2
        elif escape == "x":
            out.append(chr(int(body[position + 2 : position + 4], 16)))
            position += 4
        elif escape == "u" and body[position + 2] == "{":
            end = body.index("}", position)
            out.append(chr(int(body[position + 3 : end], 16)))
            position = end + 1
        elif escape == "u":
            out.append(chr(int(body[position + 2 : position + 6], 16)))
            position += 6
        else:
            raise AssertionError(f"an escape JS would read differently: \\{escape} in {literal}")
    return "".join(out)


@given(st.text(max_size=100))
def test_a_string_is_a_js_literal_of_the_same_text(text: str) -> None:
    literal = string(text)
    assert _read_js_string(literal) == text
    # Nothing invisible or unpaired is written raw: the message stays valid UTF-8 and readable.
    assert all(c.isprintable() or c == " " for c in literal), literal


def test_a_long_string_says_how_much_was_left_out() -> None:
    assert string("x" * 500, limit=10) == '"xxxxxxxxxx"... 490 more characters'
    assert string("x" * 30, limit=10) == '"' + "x" * 30 + '"'  # counting 20 would save nothing


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_number_reads_back_as_the_same_double(value: float) -> None:
    text = number(value)
    assert float(text) == value
    assert math.copysign(1.0, float(text)) == math.copysign(1.0, value)


@pytest.mark.parametrize(
    ("value", "js"),
    [
        (1, "1"),
        (1.0, "1"),
        (1.5, "1.5"),
        (-0.0, "-0"),
        (0.0, "0"),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (123.456, "123.456"),
        (-1.5e-10, "-1.5e-10"),
        (2**53, "9007199254740992"),
        (2**64, "18446744073709552000"),
        (10**400, "Infinity"),
        (True, "true"),
    ],
)
def test_numbers_as_js_prints_them(value: float, js: str) -> None:
    assert number(value) == js
    assert show(value) == js


B64 = base64.b64encode


@pytest.mark.parametrize(
    ("value", "js"),
    [
        (None, "null"),
        (False, "false"),
        ({"$type": "undefined"}, "undefined"),
        (UNDEFINED, "undefined"),
        ("hi", '"hi"'),
        ('say "hi"\n', '"say \\"hi\\"\\n"'),
        ([1, "a", None], '[1, "a", null]'),
        ([], "[]"),
        ({}, "{}"),
        ({"name": "TypeError", "message": "x"}, '{name: "TypeError", message: "x"}'),
        ({"odd-key": 1, "$dollar_ok": 2}, '{"odd-key": 1, $dollar_ok: 2}'),
        ({"$type": "bigint", "value": "10"}, "10n"),
        (JSBigInt(-3), "-3n"),
        ({"$type": "number", "value": "-0"}, "-0"),
        ({"$type": "url", "href": "http://127.0.0.1:8080/"}, 'URL {href: "http://127.0.0.1:8080/"}'),
        (JSURL("http://a/"), 'URL {href: "http://a/"}'),
        ({"$type": "bytes", "b64": B64(b"hi!").decode(), "view": "Uint8Array"}, "Uint8Array(3) [104, 105, 33]"),
        ({"$type": "bytes", "b64": B64(b"hi!").decode()}, "Uint8Array(3) [104, 105, 33]"),
        ({"$type": "bytes", "b64": B64(b"\xff\x01").decode(), "view": "Int8Array"}, "Int8Array(2) [-1, 1]"),
        ({"$type": "bytes", "b64": B64(b"\x01\x00\x02\x00").decode(), "view": "Uint16Array"}, "Uint16Array(2) [1, 2]"),
        (
            {"$type": "bytes", "b64": B64(b"\x01\x00\x02").decode(), "view": "Uint16Array"},
            "Uint16Array(3 bytes) [1, 0, 2]",
        ),
        ({"$type": "bytes", "b64": B64(bytes(8)).decode(), "view": "BigInt64Array"}, "BigInt64Array(1) [0n]"),
        ({"$type": "bytes", "b64": B64(b"hi").decode(), "view": "Buffer"}, "<Buffer 68 69>"),
        ({"$type": "bytes", "b64": B64(b"hi").decode(), "view": "ArrayBuffer"}, "ArrayBuffer(2) [104, 105]"),
        (JSBytes(b"ab", "DataView"), "DataView(2) [97, 98]"),
        (b"\x00", "Uint8Array(1) [0]"),
        (
            {"$type": "pattern", "seed": B64(b"ab").decode(), "size": 16 * 1024 * 1024},
            "Uint8Array(16777216) [97, 98, 97, 98, 97, 98, 97, 98, 97, 98, 97, 98, 97, 98, 97, 98, ... 16777200 more items]",
        ),
        ({"$type": "bytes", "b64": "!!"}, '{$type: "bytes", b64: "!!"}'),  # not base64: shown as it came
        ({"$type": "mystery"}, '{$type: "mystery"}'),
        (list(range(22)), "[" + ", ".join(map(str, range(20))) + ", ... 2 more items]"),
        ([[[[[[1]]]]]], "[[[[[[Array]]]]]]"),
    ],
)
def test_values_as_js_shows_them(value: Any, js: str) -> None:
    assert show(value) == js


def test_a_long_buffer_counts_what_it_leaves_out() -> None:
    data = {"$type": "bytes", "b64": B64(bytes(range(20))).decode(), "view": "Buffer"}
    assert show(data) == "<Buffer 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f ... 4 more bytes>"


def test_a_value_past_the_limit_is_cut_and_says_so() -> None:
    shown = show(list(range(20)), limit=20)
    assert shown == "[0, 1, 2, 3, 4, 5, …"
    assert len(shown) == 20


@pytest.mark.parametrize(
    ("expected", "words"),
    [
        ({"$any": True}, "any value"),
        ({"$absent": True}, "undefined"),
        ({"$regex": "^proxy/x\\."}, "a string matching /^proxy\\/x\\./"),
        ({"$prefix": "ab"}, 'a string starting with "ab"'),
        ({"$type": "undefined"}, "undefined"),
        ({"$type": "bigint"}, "a BigInt"),
        (
            {"name": "Error", "message": {"$regex": "^proxy"}},
            "{name: " + '"Error", message: a string matching /^proxy/}',
        ),
        ({"$regex": 3}, "{$regex: 3}"),  # not a matcher the spec knows: shown as written
    ],
)
def test_matchers_in_words(expected: Any, words: str) -> None:
    assert show_expected(expected) == words


def test_matchers_are_words_only_in_expectations() -> None:
    assert show({"$any": True}) == "{$any: true}"


@pytest.mark.parametrize(
    ("wanted", "words"),
    [
        ("any", "any value"),
        ({"name": "TypeError"}, "a TypeError"),
        ({"name": "Error"}, "an Error"),
        (
            {"name": "AbortError", "message": "The operation was aborted"},
            'an AbortError with message "The operation was aborted"',
        ),
        ({"name": "Error", "message": {"$regex": "^proxy"}}, "an Error with a message matching /^proxy/"),
        ({"name": "Error", "message": {"$prefix": "proxy"}}, 'an Error with a message starting with "proxy"'),
        ({"name": "Error", "message": {"$any": True}}, "an Error with any message"),
        ({"message": "x"}, 'an error with message "x"'),
        ({"value": {"$type": "undefined"}}, "undefined"),
        ({"value": None}, "null"),
        ({"name": {"$regex": "Err"}}, "an error whose name is a string matching /Err/"),
        ({"name": "weird name"}, 'an error whose name is "weird name"'),
        ({"name": None}, "an error whose name is null"),
        ({}, "any value"),
    ],
)
def test_expected_errors_in_words(wanted: Any, words: str) -> None:
    assert expected_error(wanted) == words


@pytest.mark.parametrize(
    ("error", "js"),
    [
        ({"name": "TypeError", "message": "x"}, '{name: "TypeError", message: "x"}'),
        ({"name": None, "message": None, "value": {"$type": "undefined"}}, "undefined"),
        ({"name": None, "message": None, "value": None}, "null"),
        ({"name": None, "message": None, "value": {"code": 42}}, "{code: 42}"),
        ({"name": None, "message": None}, "undefined"),
        (None, "null"),
    ],
)
def test_a_thrown_value_that_is_no_error_is_shown_as_itself(error: Any, js: str) -> None:
    assert show_error(error) == js


def test_wire_bytes_are_text_when_they_are_text() -> None:
    assert wire_bytes(b"hello\r\n") == '"hello\\r\\n"'
    assert wire_bytes(b"\x16\x03\x01") == "hex 16 03 01"
    assert wire_bytes(b"") == '""'
    assert wire_bytes(b"a" * 100) == '100 bytes starting "' + "a" * 24 + '"'
    assert wire_bytes(b"\x00" * 100) == "100 bytes starting hex " + " ".join(["00"] * 24)
    # a multi-byte character cut at the 24th byte still reads as text
    assert wire_bytes("é".encode() * 50).startswith('100 bytes starting "éééééééééééé')


def test_regex_literals_escape_their_slashes_once() -> None:
    assert regex("a/b") == "/a\\/b/"
    assert regex("a\\/b") == "/a\\/b/"
    assert regex("line\nend") == "/line\\nend/"


@pytest.mark.parametrize(
    ("value", "words"),
    [(None, "null"), (True, "a boolean"), (1.5, "a number"), ("", "a string"), ([], "an array"), ({}, "an object")],
)
def test_kinds_in_js_words(value: Any, words: str) -> None:
    assert kind(value) == words


def test_reprs_of_the_models_are_js_too() -> None:
    assert repr(JSBytes(b"hi")) == "Uint8Array(2) [104, 105]"
    assert repr(JSBigInt(10)) == "10n"
    assert repr(JSURL("http://a/")) == 'URL {href: "http://a/"}'
    assert repr(UNDEFINED) == "undefined"
