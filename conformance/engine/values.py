"""Values as cases write them (spec/README.md, section 2): bytes, write payloads, transcript summaries."""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

from ..core import units
from ..core.jsshow import wire_bytes
from ..core.jsvalues import b64

#: Transcripts keep at most this much of any byte payload.
TRANSCRIPT_BYTES = 256


def to_bytes(spec: Any) -> bytes:
    if isinstance(spec, str):
        return spec.encode("utf-8")
    if "text" in spec:
        return str(spec["text"]).encode("utf-8")
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if "b64" in spec:
        return base64.b64decode(spec["b64"])
    seed = str(spec["pattern"]).encode("utf-8")
    total = units.size(spec["size"])
    return (seed * (total // len(seed) + 1))[:total]


#: A pattern is compared and hashed a block at a time: a case's 64 MiB is never built to check it.
PATTERN_BLOCK = 1024 * 1024


def pattern_of(spec: Any) -> tuple[bytes, int] | None:
    """``(seed, size)`` of a ``pattern`` byte value; None for any other form."""
    if isinstance(spec, dict) and "pattern" in spec and not {"text", "hex", "b64"} & spec.keys():
        return str(spec["pattern"]).encode("utf-8"), units.size(spec["size"])
    return None


@functools.lru_cache(maxsize=8)
def _block(seed: bytes) -> bytes:
    return seed * max(1, PATTERN_BLOCK // len(seed))


def pattern_matches(data: bytes, seed: bytes, size: int) -> bool:
    """Whether ``data`` is ``seed`` repeated to ``size`` bytes, as ``to_bytes`` would build it."""
    if len(data) != size:
        return False
    block, view = _block(seed), memoryview(data)
    return all(view[at : at + len(block)] == block[: size - at] for at in range(0, size, len(block)))


@functools.lru_cache(maxsize=32)
def pattern_sha256(seed: bytes, size: int) -> str:
    """The SHA-256 of ``seed`` repeated to ``size`` bytes (hex), computed a block at a time."""
    digest, block = hashlib.sha256(), _block(seed)
    for at in range(0, size, len(block)):
        digest.update(block[: size - at] if size - at < len(block) else block)
    return digest.hexdigest()


def to_protocol_value(spec: Any) -> Any:
    """A ``write`` argument as the adapter protocol carries it."""
    if isinstance(spec, dict) and "raw" in spec:
        return spec["raw"]
    view = spec.get("view", "Uint8Array") if isinstance(spec, dict) else "Uint8Array"
    if isinstance(spec, dict) and "pattern" in spec:
        seed = str(spec["pattern"]).encode("utf-8")
        return {"$type": "pattern", "seed": b64(seed), "size": units.size(spec["size"]), "view": view}
    return {"$type": "bytes", "b64": b64(to_bytes(spec)), "view": view}


def shorten(value: Any) -> Any:
    """A copy of a protocol value fit for a transcript (large payloads summarised)."""
    if isinstance(value, dict):
        if value.get("$type") == "bytes" and len(value.get("b64", "")) > TRANSCRIPT_BYTES:
            data = base64.b64decode(value["b64"])
            return {
                "$type": "bytes",
                "view": value.get("view"),
                "length": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "starts": wire_bytes(data[:32]),
            }
        return {key: shorten(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shorten(item) for item in value]
    if isinstance(value, bytes):
        return (
            wire_bytes(value)
            if len(value) <= TRANSCRIPT_BYTES
            else {"length": len(value), "sha256": hashlib.sha256(value).hexdigest()}
        )
    return value
