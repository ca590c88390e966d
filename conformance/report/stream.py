"""Reading a results.json one case at a time, so a file of any size takes bounded memory.

``json.loads`` of a 210 MB results.json holds the text twice and every
transcript as Python objects (1.5 GB for ``report compare``). This reader
parses the top-level object itself and hands each element of ``cases`` to a
callback as soon as it is decoded; the rest of the object (the header: ``format``,
``run``, ``summary``, ``gate``, small by nature) is returned. At most one case and
a read buffer are held at a time: the buffer grows only as large as one case.

Each value is decoded by the standard ``json`` decoder (C speed) from a buffer
of the file: a value that does not fit yet is decoded again once more text has
been read (doubling what is read, so a huge case costs linear time). Strict JSON
only: a bare ``NaN`` or ``Infinity`` is an error, as for Node's ``JSON.parse``.
Errors name the line, as ``json`` does.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import ConformanceError

#: What is read at a time; also the least a too-short buffer grows by.
CHUNK = 1 << 20
#: A decoding error this close to the end of the buffer may only mean that the value goes on.
_NEAR_END = 16
_WHITESPACE = " \t\n\r"
_KINDS = {"[": "an array", '"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}


class ReadError(ConformanceError):
    """The file cannot be read as JSON: unreadable, not UTF-8, or not JSON text at ``line``."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


class _BareConstant(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity; strict JSON (and Node's JSON.parse) does not.
    raise _BareConstant(f'bare {name} is not JSON (a results.json writes it as {{"$type": "number", ...}})')


@dataclass
class Document:
    """What ``read`` found: every top-level member but a ``cases`` array, which went to the callback."""

    header: dict[str, Any] = field(default_factory=dict)
    cases_streamed: bool = False
    case_count: int = 0
    duplicate_keys: list[str] = field(default_factory=list)
    not_an_object: str | None = None
    """What the top-level value is instead of an object (``an array``), if it is not one."""


class _Source:
    """The file's text from the current position on, read as needed."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.text = ""
        self.pos = 0
        self.eof = False
        self.lines_before = 0  # newlines in the text already dropped from the buffer
        self.bytes_read = 0
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.decoder = json.JSONDecoder(parse_constant=_reject_constant)

    def line(self, pos: int | None = None) -> int:
        return self.lines_before + self.text.count("\n", 0, self.pos if pos is None else pos) + 1

    def error(self, problem: str, pos: int | None = None) -> ReadError:
        return ReadError(problem, self.line(pos))

    def more(self) -> None:
        """Read on: at least a chunk, and at least as much as is still unparsed (geometric growth)."""
        if self.eof:
            return
        self.lines_before += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos :]
        self.pos = 0
        data = self.file.read(max(CHUNK, len(self.text)))
        pending = len(self.utf8.getstate()[0])
        self.eof = not data
        try:
            self.text += self.utf8.decode(data, final=self.eof)
        except UnicodeDecodeError as error:
            at = self.bytes_read - pending + error.start
            raise ReadError(f"not UTF-8: {error.reason} at byte {at}") from None
        self.bytes_read += len(data)

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end of the file)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos] if self.pos < len(self.text) else ""
            self.more()

    def take(self, expected: str, problem: str) -> None:
        if self.peek() != expected:
            raise self.error(problem)
        self.pos += 1

    def value(self) -> Any:
        """The JSON value at the current position."""
        self.peek()
        start = self.pos
        while True:
            try:
                value, end = self.decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                truncated = error.pos >= len(self.text) - _NEAR_END or error.msg.startswith("Unterminated string")
                if self.eof or not truncated:
                    raise self.error(f"not JSON: {error.msg}", error.pos) from None
                self.more()
                continue
            except _BareConstant as error:
                raise self.error(str(error), start) from None
            except RecursionError:
                raise self.error("not JSON: nested too deeply", start) from None
            except ValueError as error:  # e.g. an integer of more digits than Python converts
                raise self.error(f"not JSON: {error}", start) from None
            if end == len(self.text) and not self.eof:
                self.more()  # a number may go on in the text not read yet
                continue
            self.pos = end
            return value


def read(path: Path, on_case: Callable[[int, Any], None], header_only: bool = False) -> Document:
    """Parse ``path``, calling ``on_case(index, case)`` for each element of its ``cases`` array.

    ``header_only`` stops at the ``cases`` array (a results.json we write has
    ``format``, ``run`` and ``summary`` before it). Raises ``ReadError``.
    """
    try:
        with open(path, "rb") as file:
            return _read(_Source(file), on_case, header_only)
    except OSError as error:
        raise ReadError(f"cannot read: {error.strerror or error}") from None


def _read(source: _Source, on_case: Callable[[int, Any], None], header_only: bool) -> Document:
    document = Document()
    first = source.peek()
    if first != "{":
        if first in _KINDS or first == "-" or first.isdigit():
            document.not_an_object = _KINDS.get(first, "a number")
            return document
        raise source.error("not JSON: Expecting value")
    source.pos += 1
    if source.peek() == "}":
        source.pos += 1
    else:
        while True:
            if source.peek() != '"':
                raise source.error("not JSON: Expecting property name enclosed in double quotes")
            key = source.value()
            source.take(":", "not JSON: Expecting ':' delimiter")
            if key in document.header or (key == "cases" and document.cases_streamed):
                document.duplicate_keys.append(key)
            if key == "cases" and source.peek() == "[":
                document.cases_streamed = True
                document.header.pop("cases", None)
                if header_only:
                    return document
                _cases(source, document, on_case)
            else:
                document.header[key] = source.value()
            following = source.peek()
            source.pos += 1
            if following == "}":
                break
            if following != ",":
                raise source.error("not JSON: Expecting ',' delimiter", source.pos - 1)
    if source.peek() != "":
        raise source.error("not JSON: Extra data")
    return document


def _cases(source: _Source, document: Document, on_case: Callable[[int, Any], None]) -> None:
    source.pos += 1  # the [
    if source.peek() == "]":
        source.pos += 1
        return
    while True:
        on_case(document.case_count, source.value())
        document.case_count += 1
        following = source.peek()
        source.pos += 1
        if following == "]":
            return
        if following != ",":
            raise source.error("not JSON: Expecting ',' delimiter", source.pos - 1)
