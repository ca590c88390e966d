"""Checking the peer control protocol's messages (docs/peer-protocol.md) against their schema.

The schema is `conformance/schema/peer-control.schema.json`: one request and
one response definition per op. The harness checks every response the peer
service sends (a peer that breaks the protocol is not trusted with a case),
and in the project's own tests every request it sends, as for the adapter
protocol (`messages`): the fast compiled check first, jsonschema for the readable error.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ..core.jsshow import kind as kind_of
from ..core.jsshow import show
from ..schema import describe, load
from . import fastcheck

if TYPE_CHECKING:  # only to explain a message the fast check refused
    import jsonschema

SCHEMA = "peer-control.schema.json"


@cache
def _schema() -> dict[str, Any]:
    return load(SCHEMA)


def ops() -> list[str]:
    return sorted(_schema()["$defs"]["requests"])


@cache
def _fast(kind: str, op: str) -> fastcheck.Check:
    schema = _schema()
    return fastcheck.Compiler({schema["$id"]: schema}).compile_ref(f"#/$defs/{kind}/{op}", schema["$id"])


@cache
def _validator(kind: str, op: str) -> jsonschema.protocols.Validator:
    import jsonschema

    schema = _schema()
    cls = jsonschema.validators.validator_for(schema)
    return cls({**schema, "$ref": f"#/$defs/{kind}/{op}"})


def _problem(kind: str, op: str, message: Any) -> str | None:
    if op not in _schema()["$defs"][kind]:
        return f"unknown op {show(op)}"
    if _fast(kind, op)(message):
        return None
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(kind, op).iter_errors(message))
    if error is None:  # the fast check is stricter than it should be: a bug, said as such
        return "rejected by the fast check only"
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    return f"{where}: {describe(error, kind_of)}"


def request_problem(message: dict[str, Any]) -> str | None:
    """What is wrong with a request the harness is about to send; None when it is valid."""
    return _problem("requests", str(message.get("op")), message)


def response_problem(op: str, message: Any) -> str | None:
    """What is wrong with the peer's answer to an `op` request; None when it is valid."""
    return _problem("responses", op, message)
