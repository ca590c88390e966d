"""The JSON Schemas shipped with the package."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from .. import yamlsource


@cache
def load(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def describe(error: ValidationError) -> str:
    instance = error.instance
    # jsonschema types these loosely (they may be "unset"); here they are always set.
    schema: Any = error.schema
    validator_value: Any = error.validator_value
    got = yamlsource.kind(instance) if not isinstance(instance, str) else f"string {instance!r}"
    if error.validator == "type":
        return f"expected {validator_value}, got {got}"
    if error.validator == "enum":
        choices = ", ".join(repr(choice) for choice in validator_value)
        return f"expected one of {choices}, got {instance!r}"
    if error.validator == "const":
        return f"expected {validator_value!r}, got {instance!r}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed)) if isinstance(instance, dict) else []
        return f"unknown field {', '.join(map(repr, extra))} (expected one of {', '.join(allowed)})"
    if error.validator == "pattern":
        return f"{instance!r} does not match the pattern {validator_value}"
    if error.validator == "minItems":
        return f"expected at least {validator_value} item(s)"
    if error.validator in ("oneOf", "anyOf") and "description" in schema:
        return f"expected {schema['description']}, got {instance!r}"
    if error.validator in ("oneOf", "anyOf"):
        best = jsonschema.exceptions.best_match(error.context or [])
        if best is not None and best.validator not in ("oneOf", "anyOf"):
            return describe(best)
        return f"{instance!r} is not a valid value here"
    return error.message
