"""Values written as JavaScript shows them, for every message a user reads.

Failure messages, expectations and transcript summaries quote what an
implementation did and what a case expected. Their readers write JavaScript,
so a value reads as JS: ``undefined``, ``null``, ``true``, ``1.5``, ``-0``,
``10n``, ``"text"``, ``[1, 2]``, ``{name: "TypeError", message: "..."}``,
``Uint8Array(3) [104, 105, 33]``. This module renders every value the harness
handles in that form: JSON-ish protocol values with their ``$type`` tags
(docs/adapter-protocol.md, section 3), the Python models of ``jsvalues``, and
the matchers of spec/README.md ("Matchers"). Nothing here falls back to
Python's ``repr``: an object may say how it reads with a ``__js__()`` method
(the protocol's "no value" marker does), and a value of any other type is shown
as the JS string of its text.

Long values are shortened the way Node's ``util.inspect`` does it, saying how
much was left out (``... 90 more items``, ``... 1200 more characters``); a
whole value past ``limit`` characters is cut and ends with ``…``.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from decimal import Decimal
from typing import Any

from .jsvalues import JSURL, UNDEFINED, JSBigInt, JSBytes, expand_pattern

#: A value shown in a message is cut after this many characters.
LIMIT = 300
#: Characters of one string before the rest is counted instead of shown.
STRING_LIMIT = 160
#: A rest shorter than this is shown rather than counted: counting it would save nothing.
_SHORT_REST = 24
#: Items of an array, and properties of an object, shown before the rest is counted.
ITEMS = 20
#: Elements of a byte view shown before the rest is counted.
VIEW_ITEMS = 16
#: Nesting shown before an inner array or object becomes ``[Array]``/``[Object]``, as in Node.
DEPTH = 5

_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_SPECIAL_NUMBERS = ("NaN", "Infinity", "-Infinity", "-0")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
#: Typed arrays by their element: struct format (little-endian, as every JS engine in use) and size.
_ELEMENTS = {
    "Int8Array": ("b", 1),
    "Uint8Array": ("B", 1),
    "Uint8ClampedArray": ("B", 1),
    "Int16Array": ("<h", 2),
    "Uint16Array": ("<H", 2),
    "Int32Array": ("<i", 4),
    "Uint32Array": ("<I", 4),
    "Float32Array": ("<f", 4),
    "Float64Array": ("<d", 8),
    "BigInt64Array": ("<q", 8),
    "BigUint64Array": ("<Q", 8),
}
#: What a ``{$type: X}`` matcher matches, in words.
_TYPE_MATCHES = {
    "undefined": "undefined",
    "bytes": "a byte view",
    "number": "NaN, Infinity, -Infinity or -0",
    "bigint": "a BigInt",
    "url": "a URL",
}


# -- entry points ------------------------------------------------------------------------------


def show(value: Any, limit: int = LIMIT) -> str:
    """A value as JS shows it: a protocol value (``$type`` tags resolved) or a ``jsvalues`` model."""
    return _Writer(limit, expected=False).render(value)


def show_expected(value: Any, limit: int = LIMIT) -> str:
    """A value a case expects, its matchers in words: ``{message: a string matching /^proxy/}``."""
    return _Writer(limit, expected=True).render(value)


def show_error(error: Any, limit: int = LIMIT) -> str:
    """A thrown or rejection value as the protocol reports it (``{name, message}``, or ``value`` for a non-Error)."""
    if isinstance(error, dict) and error.get("name") is None and error.get("message") is None:
        return show(error.get("value", UNDEFINED), limit)
    return show(error, limit)


def is_error_object(error: Any) -> bool:
    """Whether a reported thrown/rejection value is an Error (has a name or message), not another value."""
    return isinstance(error, dict) and (error.get("name") is not None or error.get("message") is not None)


def expected_error(wanted: Any) -> str:
    """An ``ERR`` of a ``throws``/``rejects`` expectation in words: ``a TypeError with message "..."``."""
    if wanted == "any" or wanted == {}:
        return "any value"  # {} checks nothing of what was thrown
    if not isinstance(wanted, dict):
        return show_expected(wanted)
    if set(wanted) == {"value"}:
        return show_expected(wanted["value"])
    if not set(wanted) <= {"name", "message"}:
        return show_expected(wanted)
    name = wanted.get("name")
    if "name" not in wanted:
        what = "an error"
    elif isinstance(name, str) and _IDENTIFIER.fullmatch(name):
        what = f"{article(name)} {name}"
    else:
        what = f"an error whose name is {show_expected(name)}"
    if "message" not in wanted:
        return what
    message = wanted["message"]
    joiner = " and" if what.startswith("an error whose") else ""
    return f"{what}{joiner} with {_message_words(message)}"


def string(text: str, limit: int = STRING_LIMIT) -> str:
    """A JS string literal in double quotes; past ``limit`` characters the rest is counted."""
    if len(text) <= limit + _SHORT_REST:
        limit = len(text)
    shown = text[:limit]
    literal = '"' + "".join(_escape(character) for character in shown) + '"'
    if len(text) > limit:
        literal += f"... {len(text) - limit} more character{'s' if len(text) - limit != 1 else ''}"
    return literal


def number(value: int | float) -> str:
    """A number as JS's ``String(n)`` writes it, except that ``-0`` keeps its sign (as ``util.inspect``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < 2**53:
            return str(value)
        # JSON numbers are doubles in JS: a larger integer reads as the nearest one.
        try:
            value = float(value)
        except OverflowError:
            return "Infinity" if value > 0 else "-Infinity"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digits that read back as the same double, as JS does.
    parts = Decimal(repr(abs(value))).as_tuple()
    assert isinstance(parts.exponent, int)
    all_digits = "".join(map(str, parts.digits))
    point = len(all_digits) + parts.exponent  # where the decimal point goes, from the first digit
    digits = all_digits.rstrip("0")
    count = len(digits)
    if count <= point <= 21:
        body = digits + "0" * (point - count)
    elif 0 < point <= 21:
        body = digits[:point] + "." + digits[point:]
    elif -6 < point <= 0:
        body = "0." + "0" * -point + digits
    else:
        exponent = point - 1
        mantissa = digits[0] + ("." + digits[1:] if count > 1 else "")
        body = f"{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"
    return sign + body


def key(name: Any) -> str:
    """A property name as an object literal writes it: bare when it is an identifier."""
    text = name if isinstance(name, str) else number(name) if isinstance(name, int | float) else str(name)
    return text if _IDENTIFIER.fullmatch(text) else string(text)


def path(where: str, name: Any) -> str:
    """``where.name``, or ``where["odd name"]`` when the name is no identifier."""
    shown = key(name)
    return f"{where}.{shown}" if _IDENTIFIER.fullmatch(shown) else f"{where}[{shown}]"


def regex(pattern: str, limit: int = STRING_LIMIT) -> str:
    """A regex source as a JS regex literal, ``/^proxy/``."""
    if len(pattern) <= limit + _SHORT_REST:
        limit = len(pattern)
    out: list[str] = []
    escaped = False
    for character in pattern[:limit]:
        if escaped:
            out.append(_escape(character) if _invisible(character) else character)
            escaped = False
        elif character == "\\":
            out.append(character)
            escaped = True
        elif character == "/":
            out.append("\\/")
        else:
            out.append(_escape(character) if _invisible(character) else character)
    more = len(pattern) - limit
    return "/" + "".join(out) + "/" + (f"... {more} more characters" if more > 0 else "")


def article(name: str) -> str:
    return "an" if name[:1].lower() in ("a", "e", "i", "o", "u") else "a"


def kind(value: Any) -> str:
    """What kind of JSON value this is, in JS's words: ``an array``, ``a string``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a value of another kind"


def wire_bytes(data: bytes, limit: int = 64) -> str:
    """Bytes on the wire (sent, received, compared): their text as a JS string when they are text, else hex.

    Up to ``limit`` bytes are shown whole; longer ones by their length and start.
    """
    if len(data) <= limit:
        text = _text(data)
        return string(text, limit=limit) if text is not None else "hex " + data.hex(" ")
    head = data[:24]
    text = _text(head, cut=True)
    start = string(text, limit=24) if text is not None else "hex " + head.hex(" ")
    return f"{len(data)} bytes starting {start}"


# -- the writer ----------------------------------------------------------------------------------


class _Full(Exception):
    """The value grew past its limit: stop rendering."""


class _Writer:
    def __init__(self, limit: int, expected: bool) -> None:
        self.limit = limit
        self.expected = expected
        self.parts: list[str] = []
        self.size = 0

    def render(self, value: Any) -> str:
        try:
            self.write(value, 0)
        except _Full:
            return "".join(self.parts)[: max(self.limit - 1, 0)] + "…"
        return "".join(self.parts)

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > self.limit:
            raise _Full

    def write(self, value: Any, depth: int) -> None:
        if value is None:
            self.emit("null")
        elif value is UNDEFINED:
            self.emit("undefined")
        elif isinstance(value, bool | int | float):
            self.emit(number(value))
        elif isinstance(value, str):
            self.emit(string(value))
        elif isinstance(value, JSBigInt):
            self.emit(f"{value.value}n")
        elif isinstance(value, JSBytes):
            self.emit(_view(value.view, value.data, len(value.data)))
        elif isinstance(value, JSURL):
            self.emit(f"URL {{href: {string(value.href)}}}")
        elif isinstance(value, bytes | bytearray | memoryview):
            data = bytes(value)
            self.emit(_view("Uint8Array", data, len(data)))
        elif isinstance(value, dict):
            self.write_object(value, depth)
        elif isinstance(value, list | tuple):
            self.write_array(list(value), depth)
        elif callable(getattr(value, "__js__", None)):
            self.emit(str(value.__js__()))
        else:
            self.emit(string(str(value)))

    def write_object(self, value: dict[Any, Any], depth: int) -> None:
        if self.expected and len(value) == 1:
            ((name, argument),) = value.items()
            words = _matcher(name, argument) if isinstance(name, str) else None
            if words is not None:
                self.emit(words)
                return
        if "$type" in value:
            tagged = _tagged(value)
            if tagged is not None:
                self.emit(tagged)
                return
        if not value:
            self.emit("{}")
            return
        if depth >= DEPTH:
            self.emit("[Object]")
            return
        self.emit("{")
        for position, (name, item) in enumerate(value.items()):
            if position == ITEMS:
                more = len(value) - ITEMS
                self.emit(f", ... {more} more propert{'ies' if more != 1 else 'y'}")
                break
            self.emit(("" if position == 0 else ", ") + key(name) + ": ")
            self.write(item, depth + 1)
        self.emit("}")

    def write_array(self, value: list[Any], depth: int) -> None:
        if not value:
            self.emit("[]")
            return
        if depth >= DEPTH:
            self.emit("[Array]")
            return
        self.emit("[")
        for position, item in enumerate(value):
            if position == ITEMS:
                more = len(value) - ITEMS
                self.emit(f", ... {more} more item{'s' if more != 1 else ''}")
                break
            if position:
                self.emit(", ")
            self.write(item, depth + 1)
        self.emit("]")


# -- pieces ------------------------------------------------------------------------------------


def _matcher(name: str, argument: Any) -> str | None:
    """A matcher of spec/README.md in words, or None when ``{name: argument}`` is no matcher."""
    if name == "$any":
        return "any value"
    if name == "$absent":
        return "undefined"
    if name == "$regex" and isinstance(argument, str):
        return f"a string matching {regex(argument)}"
    if name == "$prefix" and isinstance(argument, str):
        return f"a string starting with {string(argument)}"
    if name == "$type" and isinstance(argument, str):
        return _TYPE_MATCHES.get(argument, f"a value of $type {string(argument)}")
    return None


def _message_words(message: Any) -> str:
    if isinstance(message, dict) and len(message) == 1:
        ((name, argument),) = message.items()
        if name == "$any":
            return "any message"
        if name == "$absent":
            return "no message"
        words = _matcher(name, argument) if isinstance(name, str) else None
        if words is not None and words.startswith("a string "):
            return "a message " + words.removeprefix("a string ")
    return f"message {show_expected(message)}"


def _tagged(value: dict[str, Any]) -> str | None:
    """A ``$type``-tagged protocol value as JS shows it, or None when the tag is unknown or malformed."""
    tag = value.get("$type")
    try:
        if tag == "undefined":
            return "undefined"
        if tag == "number" and value.get("value") in _SPECIAL_NUMBERS:
            return str(value["value"])
        if tag == "bigint":
            return f"{int(str(value.get('value')))}n"
        if tag == "url" and isinstance(value.get("href"), str):
            return f"URL {{href: {string(value['href'])}}}"
        view = value.get("view") or "Uint8Array"
        if not isinstance(view, str):
            return None
        if tag == "bytes" and isinstance(value.get("b64"), str):
            encoded = value["b64"]
            # Only the start is decoded: a chunk may be megabytes.
            head = base64.b64decode(encoded[:192], validate=True)
            return _view(view, head, _decoded_length(encoded))
        if tag == "bytes" and isinstance(value.get("length"), int):  # a transcript's digest of a large payload
            digest = value.get("sha256")
            inside = f"sha256 {digest[:16]}…" if isinstance(digest, str) else "..."
            return f"{_name(view)}({value['length']}) [{inside}]"
        if tag == "pattern" and isinstance(value.get("seed"), str) and isinstance(value.get("size"), int):
            size = value["size"]
            head = expand_pattern(base64.b64decode(value["seed"], validate=True), min(size, 128))
            return _view(view, head, size)
    except (ValueError, binascii.Error, TypeError):
        return None
    return None


def _decoded_length(encoded: str) -> int:
    stripped = encoded.rstrip("=")
    return len(stripped) * 3 // 4


def _name(view: str) -> str:
    return view if _IDENTIFIER.fullmatch(view) else string(view)


def _view(view: str, head: bytes, length: int) -> str:
    """A byte view of ``length`` bytes, of which ``head`` is the start, as Node shows it."""
    if view == "Buffer":
        shown = head[:VIEW_ITEMS].hex(" ")
        rest = length - min(len(head), VIEW_ITEMS)
        return f"<Buffer {shown}{f' ... {rest} more bytes' if rest > 0 else ''}>" if length else "<Buffer >"
    form, size = _ELEMENTS.get(view, ("B", 1))
    unit = ""
    if length % size:
        form, size, unit = "B", 1, " bytes"  # not whole elements: the bytes themselves
    count = length // size
    shown_count = min(count, VIEW_ITEMS, len(head) // size)
    items = struct.unpack(f"<{shown_count}{form.lstrip('<')}", head[: shown_count * size]) if shown_count else ()
    big = view.startswith("Big")
    texts = [f"{item}n" if big else number(item) for item in items]
    rest = count - shown_count
    if rest > 0:
        texts.append(f"... {rest} more item{'s' if rest != 1 else ''}")
    return f"{_name(view)}({count}{unit}) [{', '.join(texts)}]"


def _escape(character: str) -> str:
    """A character inside a JS string literal: escaped when it is a quote, a backslash or invisible.

    Invisible means what Python does not call printable (controls, format characters such as
    a soft hyphen or a byte order mark, separators other than the space, lone surrogates).
    """
    if character in _ESCAPES:
        return _ESCAPES[character]
    if character.isprintable() or character == " ":
        return character
    code = ord(character)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\u{{{code:x}}}"


def _invisible(character: str) -> bool:
    return not (character.isprintable() or character == " ")


def _text(data: bytes, cut: bool = False) -> str | None:
    """The bytes as text, if they are UTF-8 without control characters (tab and line ends allowed)."""
    for trim in range(4 if cut else 1):
        try:
            text = data[: len(data) - trim].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if all(character.isprintable() or character in "\t\r\n" for character in text):
            return text
        return None
    return None
