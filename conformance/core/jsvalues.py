"""JS values as they cross the adapter protocol (docs/adapter-protocol.md, section 3).

JSON carries most JS values as they are; the rest travel as objects tagged
with a ``$type`` key. This module owns both directions, so the harness, the
reference implementation and the tests agree on one encoding.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from typing import Any


class UndefinedType:
    """JS ``undefined``; distinct from ``None`` (JS ``null``)."""

    _instance: UndefinedType | None = None

    def __new__(cls) -> UndefinedType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED = UndefinedType()


@dataclass(frozen=True)
class JSBytes:
    """Bytes held by a JS byte view (``Uint8Array`` unless ``view`` says otherwise)."""

    data: bytes
    view: str = "Uint8Array"

    def __repr__(self) -> str:
        # As JS shows it (messages use jsshow.show; this is for debugging and pytest's diffs).
        items = [str(byte) for byte in self.data[:16]]
        if len(self.data) > 16:
            items.append(f"... {len(self.data) - 16} more items")
        return f"{self.view}({len(self.data)}) [{', '.join(items)}]"


@dataclass(frozen=True)
class JSBigInt:
    value: int

    def __repr__(self) -> str:
        return f"{self.value}n"


#: WHATWG URL: a port equal to its special scheme's default is reported as "".
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21"}


@dataclass(frozen=True)
class JSURL:
    """A WHATWG ``URL`` object, of which only ``href``, ``hostname`` and ``port`` are modelled.

    ``connect()`` reads an object address through its ``hostname`` and ``port``
    properties (B52), so these two are what a URL contributes: the host as
    written (lower-cased, IPv6 in brackets) and the port as a string, ``""``
    when absent or equal to the scheme's default.
    """

    href: str

    def __repr__(self) -> str:
        return f"URL {{href: {json.dumps(self.href)}}}"

    @property
    def _authority(self) -> tuple[str, str, str]:
        scheme, _, rest = self.href.partition("://")
        authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
        if authority.startswith("["):
            host, _, after = authority.partition("]")
            host += "]"
            port = after[1:] if after.startswith(":") else ""
        else:
            host, _, port = authority.partition(":")
        return scheme.lower(), host.lower(), port

    @property
    def hostname(self) -> str:
        return self._authority[1]

    @property
    def port(self) -> str:
        scheme, _, port = self._authority
        port = port.lstrip("0") or ("0" if port else "")
        return "" if _DEFAULT_PORTS.get(scheme) == port else port


def expand_pattern(seed: bytes, size: int) -> bytes:
    if size == 0:
        return b""
    if not seed:
        raise ValueError("a pattern needs a non-empty seed")
    repeats = size // len(seed) + 1
    return (seed * repeats)[:size]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def decode(value: Any) -> Any:
    """Turn a protocol value into its Python model (tags resolved, recursively)."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "$type" not in value:
        return {key: decode(item) for key, item in value.items()}
    kind = value["$type"]
    if kind == "undefined":
        return UNDEFINED
    if kind == "bytes":
        return JSBytes(base64.b64decode(value["b64"]), value.get("view", "Uint8Array"))
    if kind == "pattern":
        data = expand_pattern(base64.b64decode(value["seed"]), int(value["size"]))
        return JSBytes(data, value.get("view", "Uint8Array"))
    if kind == "number":
        special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}
        return special[value["value"]]
    if kind == "bigint":
        return JSBigInt(int(value["value"]))
    if kind == "url":
        return JSURL(str(value["href"]))
    raise ValueError(f"unknown $type {json.dumps(kind)}")


def encode(value: Any) -> Any:
    """Turn a Python model value into its protocol form."""
    if value is UNDEFINED:
        return {"$type": "undefined"}
    if isinstance(value, JSBytes):
        return {"$type": "bytes", "b64": b64(value.data), "view": value.view}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$type": "bytes", "b64": b64(bytes(value)), "view": "Uint8Array"}
    if isinstance(value, JSBigInt):
        return {"$type": "bigint", "value": str(value.value)}
    if isinstance(value, JSURL):
        return {"$type": "url", "href": value.href}
    if isinstance(value, float):
        if math.isnan(value):
            return {"$type": "number", "value": "NaN"}
        if math.isinf(value):
            return {"$type": "number", "value": "Infinity" if value > 0 else "-Infinity"}
        if value == 0 and math.copysign(1.0, value) < 0:
            return {"$type": "number", "value": "-0"}
        return value
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items() if item is not UNDEFINED}
    return value


def typeof(value: Any) -> str:
    """JS ``typeof`` of a Python model value."""
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, JSBigInt):
        return "bigint"
    return "object"
