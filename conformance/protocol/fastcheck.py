"""A fast yes/no check of protocol messages, compiled from the same JSON Schemas.

jsonschema's validator resolves ``$ref``s and builds error objects on every
call: about half a millisecond per message, more than the round trip it
checks. This compiles the subset of JSON Schema the protocol schemas use
into plain closures, once. It only answers "valid or not"; when a message is
invalid, ``messages`` asks jsonschema for the readable error. Any keyword
outside the subset is refused at compile time, so a schema change cannot
silently weaken the check; a test keeps the two validators in agreement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

#: Keywords that only document.
_IGNORED = {"$schema", "$id", "title", "description", "$defs", "$comment"}

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _equal(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0, but True is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _ANYTHING(value: Any) -> bool:
    return True


def _all_of(checks: list[Check]) -> Check:
    # Plain loops, not all(genexpr): this runs several times per message.
    def every(value: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a generator costs more than the check
            if not check(value):
                return False
        return True

    return every


class Compiler:
    def __init__(self, documents: Mapping[str, dict[str, Any]]) -> None:
        self.documents = documents  # $id -> schema
        self.cache: dict[str, Check] = {}

    def resolve(self, ref: str, base: str) -> tuple[dict[str, Any], str]:
        target, _, pointer = ref.partition("#")
        if target:
            base = base.rsplit("/", 1)[0] + "/" + target if "://" not in target else target
        node: Any = self.documents[base]
        for part in filter(None, pointer.split("/")):
            node = node[part]
        return node, base

    def compile_ref(self, ref: str, base: str) -> Check:
        node, base = self.resolve(ref, base)
        key = f"{base}#{ref.partition('#')[2]}"
        if key not in self.cache:
            # A forward slot lets recursive schemas refer to themselves.
            slot: list[Check] = []
            self.cache[key] = lambda value: slot[0](value)
            slot.append(self.compile(node, base))
            self.cache[key] = slot[0]
        return self.cache[key]

    def compile(self, schema: Any, base: str) -> Check:
        if schema is True or schema == {} or (isinstance(schema, dict) and not set(schema) - _IGNORED):
            return _ANYTHING
        if not isinstance(schema, dict):
            raise ValueError(f"unsupported schema {schema!r}")
        checks: list[Check] = []
        for keyword, argument in schema.items():
            if keyword in _IGNORED or keyword in ("then", "else"):
                continue
            if keyword == "allOf":  # flattened into this schema's own list: one loop, not two
                checks.extend(self.compile(sub, base) for sub in argument)
                continue
            checks.append(self.keyword(keyword, argument, schema, base))
        checks = [check for check in checks if check is not _ANYTHING]
        if not checks:
            return _ANYTHING
        if len(checks) == 1:
            return checks[0]
        return _all_of(checks)

    def keyword(self, keyword: str, argument: Any, schema: dict[str, Any], base: str) -> Check:
        if keyword == "$ref":
            return self.compile_ref(argument, base)
        if keyword == "type":
            names = [argument] if isinstance(argument, str) else list(argument)
            tests = [_TYPES[name] for name in names]
            if len(tests) == 1:
                return tests[0]
            return lambda value: any(test(value) for test in tests)
        if keyword == "const":
            if isinstance(argument, str):
                return lambda value: value == argument and isinstance(value, str)
            return lambda value: _equal(value, argument)
        if keyword == "enum":
            if all(isinstance(option, str) for option in argument):
                options = frozenset(argument)
                return lambda value: isinstance(value, str) and value in options
            return lambda value: any(_equal(value, option) for option in argument)
        if keyword == "required":
            names = list(argument)

            def required(value: Any) -> bool:
                if isinstance(value, dict):
                    for name in names:
                        if name not in value:
                            return False
                return True

            return required
        if keyword == "properties":
            compiled = {name: self.compile(sub, base) for name, sub in argument.items()}
            # Unconstrained properties ({}) need no call at all.
            compiled = {name: check for name, check in compiled.items() if check is not _ANYTHING}

            def properties(value: Any) -> bool:
                if isinstance(value, dict):
                    for name, item in value.items():
                        check = compiled.get(name)
                        if check is not None and not check(item):
                            return False
                return True

            return properties
        if keyword == "additionalProperties":
            if argument is not False:
                raise ValueError("only additionalProperties: false is supported")
            allowed = set(schema.get("properties", {}))
            return lambda value: not isinstance(value, dict) or all(name in allowed for name in value)
        if keyword == "items":
            item = self.compile(argument, base)
            return lambda value: not isinstance(value, list) or all(item(element) for element in value)
        if keyword in ("minimum", "maximum"):
            bound = argument
            number = _TYPES["number"]
            if keyword == "minimum":
                return lambda value: not number(value) or value >= bound
            return lambda value: not number(value) or value <= bound
        if keyword in ("minLength", "maxLength"):
            limit = argument
            if keyword == "minLength":
                return lambda value: not isinstance(value, str) or len(value) >= limit
            return lambda value: not isinstance(value, str) or len(value) <= limit
        if keyword == "pattern":
            compiled_re = re.compile(argument)
            return lambda value: not isinstance(value, str) or compiled_re.search(value) is not None
        if keyword == "allOf":
            return _all_of([self.compile(sub, base) for sub in argument])
        if keyword == "if":
            condition = self.compile(argument, base)
            then = self.compile(schema.get("then", True), base)
            otherwise = self.compile(schema.get("else", True), base)
            return lambda value: then(value) if condition(value) else otherwise(value)
        if keyword in ("then", "else"):
            return lambda value: True  # handled with "if"
        raise ValueError(f"the fast check does not support the keyword {keyword!r}")
