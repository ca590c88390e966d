"""``${name}`` substitution in case values (spec/README.md section 2)."""

from __future__ import annotations

import re
from typing import Any

from ..errors import ConformanceError

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class UnknownVariable(ConformanceError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown variable ${{{name}}}")


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """A copy of ``value`` with variables replaced; a lone ``${x}`` keeps its value's type."""
    if isinstance(value, str):
        whole = _VARIABLE.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), variables)
        return _VARIABLE.sub(lambda m: str(_lookup(m.group(1), variables)), value)
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    return value


def _lookup(name: str, variables: dict[str, Any]) -> Any:
    if name not in variables:
        raise UnknownVariable(name)
    # A variant's value may itself name peer variables ("${peer.host}:80").
    return substitute(variables[name], {k: v for k, v in variables.items() if k != name})
