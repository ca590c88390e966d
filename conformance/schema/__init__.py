"""The JSON Schemas shipped with the package."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..core.jsshow import show
from ..core.text import plural

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError


@cache
def load(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def describe(error: ValidationError, kind: Callable[[Any], str]) -> str:
    """What a schema error says, with values as JS writes them (``"text"``, ``null``), never Python's repr.

    ``kind`` names a value's kind: YAML's words for spec files (``yamlsource.kind``), JSON's for protocol messages.
    """
    instance = error.instance
    # jsonschema types these loosely (they may be "unset"); here they are always set.
    schema: Any = error.schema
    validator_value: Any = error.validator_value
    got = kind(instance) if not isinstance(instance, str) else f"string {show(instance)}"
    if error.validator == "type":
        return f"expected {_types(validator_value)}, got {got}"
    if error.validator == "enum":
        choices = ", ".join(show(choice) for choice in validator_value)
        return f"expected one of {choices}, got {show(instance)}"
    if error.validator == "const":
        return f"expected {show(validator_value)}, got {show(instance)}"
    if error.validator == "required":
        missing = [name for name in validator_value if isinstance(instance, dict) and name not in instance]
        return f"{', '.join(show(name) for name in missing) or show(validator_value)} is required"
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed)) if isinstance(instance, dict) else []
        return f"unknown field {', '.join(map(show, extra))} (expected one of {', '.join(allowed)})"
    if error.validator == "pattern":
        return f"{show(instance)} does not match the pattern {validator_value}"
    if error.validator == "minItems":
        return f"expected at least {plural(validator_value, 'item')}"
    bound = _bound(error.validator, validator_value, instance)
    if bound:
        return bound
    if error.validator in ("oneOf", "anyOf") and "description" in schema:
        return f"expected {schema['description']}, got {show(instance)}"
    if error.validator in ("oneOf", "anyOf"):
        import jsonschema  # only for a readable error: most commands never need it

        best = jsonschema.exceptions.best_match(error.context or [])
        if best is not None and best.validator not in ("oneOf", "anyOf"):
            return describe(best, kind)
        return f"{show(instance)} is not a valid value here"
    return error.message


def _bound(validator: Any, limit: Any, instance: Any) -> str | None:
    comparisons = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if validator in comparisons:
        return f"expected a number {comparisons[validator]} {show(limit)}, got {show(instance)}"
    sized = {"minLength": ("at least", "character"), "maxLength": ("at most", "character")}
    sized |= {"maxItems": ("at most", "item")}
    if validator in sized and isinstance(instance, str | list):
        which, unit = sized[validator]
        return f"expected {which} {limit} {unit}(s), got {len(instance)}"
    return None


def _types(names: Any) -> str:
    return " or ".join(names) if isinstance(names, list) else str(names)
