"""YAML reading that remembers where every mapping, list and key came from.

Spec errors must name ``file:line``; PyYAML's plain loader forgets positions,
so mappings and lists are built as subclasses that carry them. Duplicate keys,
which PyYAML would silently overwrite, are collected as problems.
"""

from __future__ import annotations

from typing import Any

import yaml


class LineDict(dict[str, Any]):
    line: int = 0
    key_lines: dict[str, int]


class LineList(list[Any]):
    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    duplicate_keys: list[tuple[int, str]]


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    # Duplicates count among the keys written here; keys brought in by a merge (<<)
    # may be overridden on purpose.
    written: set[str] = set()
    for key_node, _ in node.value:
        if key_node.tag != "tag:yaml.org,2002:merge" and isinstance(key_node, yaml.ScalarNode):
            if key_node.value in written:
                loader.duplicate_keys.append((key_node.start_mark.line + 1, key_node.value))
            written.add(key_node.value)
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class YamlProblem(Exception):
    def __init__(self, line: int | None, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(problem)


def load(text: str) -> tuple[Any, list[tuple[int, str]]]:
    """Parse YAML text; returns the document and the duplicate keys found (line, key)."""
    loader = _Loader(text)
    loader.duplicate_keys = []
    try:
        document = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise YamlProblem(line, f"invalid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise YamlProblem(None, f"invalid YAML: {error}") from None
    finally:
        loader.dispose()
    return document, loader.duplicate_keys


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
