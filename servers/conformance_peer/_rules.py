"""Field rules: what one field of a control request may hold, as data (the table is `_requests`).

A rule takes the JSON value a client sent and returns it as the peer uses it
(bytes for `{"b64": ...}`, a `ChunkPlan`, a `ListenerSpec`), or raises
`WireError` naming the field by its path (`args.timeout`) and saying what it
must be. A rule looks only as deep as its own shape: a hostile value (nested
100,000 deep, hundreds of megabytes long) costs an isinstance check and a short
description of it, never a recursion over it or a copy of it in a message.
"""

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ._errors import WireError

SHOWN_CHARS = 40
"""How much of a string a message quotes: enough to recognise it, never the whole of a large one."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Rule(Protocol):
    def parse(self, value: Any, path: str) -> Any:
        """`value` as the peer uses it; WireError naming `path` when it breaks the rule."""
        ...


def shown(value: Any) -> str:
    """`value` as JavaScript would show it, cut short: `null`, `true`, `"text"`, `an array`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        digits = str(value) if abs(value) < 10**SHOWN_CHARS else f"{str(value)[:SHOWN_CHARS]}…"
        return digits
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        quoted = json.dumps(value[:SHOWN_CHARS], ensure_ascii=False)
        if len(value) > SHOWN_CHARS:
            quoted = quoted[:-1] + '…"'
        # A lone surrogate cannot be printed or encoded: it is shown as the escape that sent it.
        return quoted.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def label(name: str) -> str:
    """A field's name in a message: as it is when it reads as one, quoted (and cut short) otherwise."""
    return name if _NAME.fullmatch(name) and len(name) <= SHOWN_CHARS else shown(name)


def member(path: str, name: str) -> str:
    """The path of field `name` inside `path`: `args.timeout`, `certificates["wrong-host"]`."""
    if _NAME.fullmatch(name) and len(name) <= SHOWN_CHARS:
        return f"{path}.{name}" if path else name
    return f"{path}[{shown(name)}]"


def _wrong(path: str, expected: str, value: Any) -> WireError:
    return WireError(f"{path} must be {expected}, not {shown(value)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Integer:
    """A JSON integer (not `true`, not `1.5`), within [minimum, maximum] where given."""

    minimum: int | None = None
    maximum: int | None = None

    def parse(self, value: Any, path: str) -> int:
        if (
            _is_int(value)
            and (self.minimum is None or value >= self.minimum)
            and (self.maximum is None or value <= self.maximum)
        ):
            return int(value)
        raise _wrong(path, self.expected(), value)

    def expected(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"an integer from {self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f"an integer of at least {self.minimum}"
        return "an integer"


@dataclass(frozen=True)
class Number:
    """A finite JSON number (integer or not, but not `true`) of at least `minimum`."""

    minimum: float = 0

    def parse(self, value: Any, path: str) -> float:
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= self.minimum
        ):
            return value
        raise _wrong(path, f"a number of at least {self.minimum:g}", value)


@dataclass(frozen=True)
class Text:
    """A JSON string of Unicode text (a lone surrogate such as `"\\ud800"` is not text)."""

    min_length: int = 0

    def parse(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or len(value) < self.min_length:
            raise _wrong(path, "a non-empty string" if self.min_length else "a string", value)
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise WireError(f"{path} must be Unicode text, not {shown(value)} (a lone surrogate)") from None
        return value


@dataclass(frozen=True)
class Flag:
    """`true` or `false`."""

    def parse(self, value: Any, path: str) -> bool:
        if isinstance(value, bool):
            return value
        raise _wrong(path, "true or false", value)


@dataclass(frozen=True)
class Base64Bytes:
    """Bytes, as the protocol sends them: `{"b64": "<base64>"}` and nothing else."""

    def parse(self, value: Any, path: str) -> bytes:
        if not isinstance(value, dict) or set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise _wrong(path, 'bytes, {b64: "<base64>"}', value)
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError) as exc:  # ValueError: a character beyond ASCII
            raise WireError(f"{member(path, 'b64')} is not base64: {exc}") from None


@dataclass(frozen=True)
class Nullable:
    """`null`, or what `rule` takes."""

    rule: Rule

    def parse(self, value: Any, path: str) -> Any:
        return None if value is None else self.rule.parse(value, path)


@dataclass(frozen=True)
class Fields:
    """A JSON object with these fields, each checked by its rule; `build` makes the peer's value of it.

    Every field is required unless it is in `optional` (then a missing one is left
    out, for `build`'s default). A field the object should not have is refused
    by name, with `unknown` when the refusal means something more (an older peer).
    With `tag`, the object also carries `"type": tag` (how `_wire` names a dataclass).
    """

    fields: Mapping[str, Rule]
    optional: frozenset[str] = frozenset()
    tag: str | None = None
    build: Callable[..., Any] | None = None
    unknown: Callable[[list[str]], Exception] | None = None
    meaning: str = "an object"

    def parse(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _wrong(path or "a request", self.meaning, value)
        given = dict(value)
        if self.tag is not None and given.pop("type", None) != self.tag:
            raise WireError(f"{member(path, 'type')} must be {shown(self.tag)}, not {shown(value.get('type'))}")
        extra = [label(name) for name in given if name not in self.fields]
        if extra:
            named = extra[:5] + (["…"] if len(extra) > 5 else [])
            if self.unknown is not None:
                raise self.unknown(named)
            raise WireError(f"{path or 'a request'} has no field(s) {', '.join(named)}")
        missing = [name for name in self.fields if name not in given and name not in self.optional]
        if missing:
            raise WireError(f"{member(path, missing[0])} is missing")
        parsed = {
            name: rule.parse(given[name], member(path, name)) for name, rule in self.fields.items() if name in given
        }
        if self.build is None:
            return parsed
        try:
            return self.build(**parsed)
        except ValueError as exc:  # what the value's own checks refuse, like a chunk plan with min > max
            raise WireError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class Each:
    """A JSON object whose every field, under any name, is what `rule` takes (a map)."""

    rule: Rule

    def parse(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _wrong(path, "an object", value)
        return {name: self.rule.parse(item, member(path, name)) for name, item in value.items()}
