"""Checking adapter-protocol messages against their schemas (docs/adapter-protocol.md).

Every request the harness sends and every response it receives is validated,
so a non-conforming adapter is reported as broken (``error``) instead of
producing confusing ``fail`` outcomes.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..core.jsshow import kind, show
from ..schema import describe
from . import fastcheck, replies

if TYPE_CHECKING:  # jsonschema only explains a message the fast check refused: most runs never need it
    import jsonschema
    from referencing import Registry

_SCHEMAS = resources.files(__package__).joinpath("schemas")


@cache
def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_SCHEMAS.joinpath(f"{name}.json").read_text(encoding="utf-8"))
    return loaded


@cache
def _registry() -> Registry[Any]:
    from referencing import Registry, Resource

    resources_ = []
    for entry in _SCHEMAS.iterdir():
        if entry.name.endswith(".json"):
            schema = _schema(entry.name[: -len(".json")])
            resources_.append((schema["$id"], Resource.from_contents(schema)))
    registry: Registry[Any] = Registry().with_resources(resources_)
    return registry


@cache
def _ops() -> frozenset[str]:
    return frozenset(e.name[:-5] for e in _SCHEMAS.iterdir() if e.name.endswith(".json") and e.name != "common.json")


def ops() -> list[str]:
    return sorted(_ops())


@cache
def _compiler() -> fastcheck.Compiler:
    documents = {}
    for entry in _SCHEMAS.iterdir():
        if entry.name.endswith(".json"):
            schema = _schema(entry.name[: -len(".json")])
            documents[schema["$id"]] = schema
    return fastcheck.Compiler(documents)


@cache
def _fast(op: str, response: bool) -> fastcheck.Check:
    schema = _schema(op)
    return _compiler().compile_ref("#/$defs/response" if response else "#", schema["$id"])


@cache
def _validator(op: str, response: bool) -> jsonschema.protocols.Validator:
    schema = _schema(op)
    import jsonschema

    target = {"$ref": schema["$id"] + ("#/$defs/response" if response else "")}
    cls = jsonschema.validators.validator_for(schema)
    return cls(target, registry=_registry())


def _problem(validator: jsonschema.protocols.Validator, message: Any) -> str | None:
    if validator.is_valid(message):
        return None
    import jsonschema

    error = jsonschema.exceptions.best_match(validator.iter_errors(message))
    if error is None:
        return "invalid"
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"{where}: {describe(error, kind)}"


def request_problem(message: dict[str, Any]) -> str | None:
    op = message.get("op")
    if not isinstance(op, str) or op not in _ops():
        return f"unknown op {show(op)}"
    if _fast(op, response=False)(message):
        return None
    return _problem(_validator(op, response=False), message)


def response_problem(op: str, message: Any) -> str | None:
    if not isinstance(message, dict):
        return f"a response must be a JSON object, got {kind(message)}"
    if _fast(op, response=True)(message):
        return None
    return _problem(_validator(op, response=True), message)


def reply_problem(op: str, message: Any) -> str | None:
    """Everything the client checks of a response: its schema, then the shape of its value for ``op``."""
    problem = response_problem(op, message)
    if problem:
        return problem
    try:
        replies.parse(op, message, replies.SHAPE_OF_OP.get(op, "any"))
    except replies.ReplyShapeError as error:
        return str(error)
    return None
