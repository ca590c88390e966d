"""YAML reading that remembers where every mapping, list and key came from, within fixed limits.

Spec errors must name ``file:line``; PyYAML's plain loader forgets positions,
so mappings and lists are built as subclasses that carry them. Duplicate keys,
which PyYAML would silently overwrite, are collected as problems.

Spec and expectations files come from pull requests, so reading one must never
crash, hang or exhaust memory, whatever it holds. Every problem is a
``YamlProblem`` with the line it is on, and these limits hold (spec/README.md
section 9 lists them with their messages):

| limit | value | why |
|---|---|---|
| file size | ``MAX_FILE_BYTES`` | a 50 MB file took minutes and gigabytes; 512 KiB (8 times the largest spec file) validates in about 2 s |
| line length | ``MAX_LINE_CHARS`` | |
| nesting depth | ``MAX_DEPTH`` | the composer recurses: 300 nested ``[`` was a ``RecursionError`` |
| aliases | ``MAX_ALIASES`` per file | |
| nodes after aliases are expanded | ``MAX_EXPANDED_NODES`` | a 589-byte "billion laughs" expands to 10^8 nodes |
| integer digits | ``MAX_INTEGER_DIGITS`` | Python refuses ``int()`` of more than 4300 digits |

Mapping keys must be strings: YAML reads ``1:``, ``on:`` or ``[1]:`` as an
integer, a boolean or a list, which no field of ours is.

The scanner and parser are libyaml's when PyYAML has it (four times faster);
composing the nodes stays in Python, where the depth is counted.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import yaml

from ..core.jsshow import string
from ..errors import ConformanceError

MAX_FILE_BYTES = 512 * 1024
MAX_LINE_CHARS = 10_000
MAX_DEPTH = 64
MAX_ALIASES = 1_000
MAX_EXPANDED_NODES = 200_000
MAX_INTEGER_DIGITS = 100

# What YAML 1.1 allows in a stream (https://yaml.org/spec/1.1/#c-printable), as its complement.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _PythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own reader, scanner and parser: the events libyaml would give, slower."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


_Parser: Any
try:
    from yaml import _yaml

    _Parser = _yaml.CParser
except (ImportError, AttributeError):  # a PyYAML built without libyaml
    _Parser = _PythonParser


class YamlProblem(ConformanceError):
    def __init__(self, line: int | None, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(problem)


class LineDict(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    line: int = 0
    item_lines: list[int]


_KINDS = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    datetime.date: "a date",
}


def kind(value: Any) -> str:
    """What YAML made of a value, in YAML's words rather than Python's class names."""
    if value is None:
        return "null"
    for cls, name in _KINDS.items():
        if isinstance(value, cls):
            return name
    return type(value).__name__


def _line(node: yaml.Node | yaml.Event) -> int:
    mark = node.start_mark
    return int(mark.line) + 1 if mark is not None else 1


class _Loader(yaml.composer.Composer, _Parser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):  # type: ignore[misc]
    """libyaml's (or PyYAML's) parser, PyYAML's composer with limits, our constructors."""

    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self.duplicate_keys: list[tuple[int, str]] = []
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise YamlProblem(_line(event), f"more than {MAX_ALIASES} aliases (*name) in one file")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise YamlProblem(_line(event), f"nested more than {MAX_DEPTH} levels deep")
            node: yaml.Node | None = super().compose_node(parent, index)
            assert node is not None  # None only at the end of the stream, which compose_node never sees
            return node
        finally:
            self.depth -= 1


def _key(loader: _Loader, key_node: yaml.Node) -> str:
    key = loader.construct_object(key_node, deep=True)
    if isinstance(key, str):
        return key
    if isinstance(key_node, yaml.ScalarNode):
        got = f'{kind(key)} {key_node.value}: write it in quotes, "{key_node.value}"'
    else:
        got = "a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping"
    raise YamlProblem(_line(key_node), f"a mapping key must be a string, got {got}")


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    # Duplicates count among the keys written here; keys brought in by a merge (<<)
    # may be overridden on purpose.
    written: set[str] = set()
    for key_node, _ in node.value:
        if key_node.tag != "tag:yaml.org,2002:merge" and isinstance(key_node, yaml.ScalarNode):
            if key_node.value in written:
                loader.duplicate_keys.append((_line(key_node), key_node.value))
            written.add(key_node.value)
    try:
        loader.flatten_mapping(node)
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else _line(node)
        raise YamlProblem(line, f"invalid YAML: {error.problem}") from None
    result = LineDict()
    result.line = _line(node)
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = _key(loader, key_node)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = _line(key_node)
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = _line(node)
    result.item_lines = [_line(child) for child in node.value]
    return result


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    digits = sum(character.isalnum() for character in str(node.value))
    if digits > MAX_INTEGER_DIGITS:
        raise YamlProblem(_line(node), f"an integer of {digits} digits (the limit is {MAX_INTEGER_DIGITS})")
    value: int = yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)
    return value


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as error:  # e.g. 2027-02-30
        raise YamlProblem(_line(node), f"invalid date {string(str(node.value))}: {error}") from None


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _expanded_size(root: yaml.Node) -> int:
    """How many nodes a reader walking the document meets, every alias expanded (a shared node counts
    each time it is reached), computed without expanding anything; capped just past the limit.

    An alias inside the node it names (``&a [*a]``) would make the document infinite: a ``YamlProblem``.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    # Iterative post-order over the node graph: aliases make it a graph, not a tree.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            visiting.discard(id(node))
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
            continue
        if id(node) in sizes:
            continue
        if id(node) in visiting:
            raise YamlProblem(_line(node), "an alias refers to a node that contains it (an infinite structure)")
        visiting.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def _check_text(text: str) -> None:
    for number, line in enumerate(text.split("\n"), 1):
        if len(line) > MAX_LINE_CHARS:
            raise YamlProblem(number, f"a line of {len(line)} characters (the limit is {MAX_LINE_CHARS})")
        bad = _NOT_PRINTABLE.search(line)
        if bad is not None:
            raise YamlProblem(
                number,
                f"character U+{ord(bad.group()):04X} at column {bad.start() + 1} is not allowed in YAML"
                " (in a double-quoted string write it as an escape, e.g. \\x01)",
            )


def load(text: str) -> tuple[Any, list[tuple[int, str]]]:
    """Parse YAML text; returns the document and the duplicate keys found (line, key)."""
    _check_text(text)
    try:
        loader = _Loader(text)
    except yaml.YAMLError as error:
        raise YamlProblem(None, f"invalid YAML: {error}") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, []
        # Without aliases the node count is bounded by the file size; only aliases can multiply it.
        if loader.aliases and _expanded_size(node) > MAX_EXPANDED_NODES:
            raise YamlProblem(
                _line(node),
                f"the document expands to more than {MAX_EXPANDED_NODES} nodes once its aliases are expanded",
            )
        document = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise YamlProblem(line, f"invalid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlProblem(None, f"invalid YAML: {error}") from None
    finally:
        loader.dispose()
    return document, loader.duplicate_keys


def read(path: Path) -> str:
    """The text of a YAML file, within the size limit; ``YamlProblem`` (or ``OSError``) otherwise."""
    if not path.is_file():
        raise YamlProblem(None, "not a regular file" if path.exists() else "no such file")
    with open(path, "rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        line = data.count(b"\n") + 1
        raise YamlProblem(line, f"the file is larger than {MAX_FILE_BYTES // 1024} KiB (the limit); split it")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise YamlProblem(line, f"not UTF-8 (byte 0x{data[error.start]:02x}: {error.reason})") from None


def line_of(document: Any, path: list[str | int]) -> int | None:
    """The line of the deepest node along ``path`` that knows its position."""
    best: int | None = getattr(document, "line", None)
    node = document
    for part in path:
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            best = node.key_lines.get(part, best)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            best = node.item_lines[part]
            node = node[part]
        else:
            break
        best = getattr(node, "line", best) if isinstance(node, LineDict | LineList) else best
    return best
