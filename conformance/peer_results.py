"""Between the runner and the peer: case arguments in, plain observations out.

The interpreter judges dictionaries; the peer returns typed results. This is
the one place that maps one to the other, so neither needs to know the other.
"""

from __future__ import annotations

import base64
from typing import Any

from conformance_peer import (
    Accepted,
    ChunkPlan,
    Echoed,
    EndSeen,
    NoConnection,
    Received,
    Sent,
    TlsInfo,
)


def prepare(kwargs: dict[str, Any]) -> dict[str, Any]:
    chunks = kwargs.get("chunks")
    if isinstance(chunks, dict):
        return {**kwargs, "chunks": ChunkPlan(min=chunks["min"], max=chunks["max"], seed=chunks.get("seed", 0))}
    return kwargs


def normalise(method: str, result: Any) -> dict[str, Any]:
    if isinstance(result, Accepted | NoConnection):
        return dict(result.as_dict())
    if isinstance(result, Sent):
        observed: dict[str, Any] = {"sent": result.length, "chunks": result.chunks, "timed_out": result.timed_out}
        if result.reset:
            observed["error"] = "the client reset the connection before everything was sent"
        return observed
    if isinstance(result, Received):
        observed = {
            "length": result.length,
            "sha256": result.sha256,
            "ended": result.ended,
            "timed_out": result.timed_out,
        }
        if result.data is not None:
            observed["data"] = result.data
        return observed
    if isinstance(result, EndSeen):
        observed = {"kind": result.kind}
        if result.data:
            observed["data_b64"] = base64.b64encode(result.data).decode("ascii")
        return observed
    if isinstance(result, Echoed):
        return {"length": result.length, "ended": result.ended, "timed_out": result.timed_out}
    if isinstance(result, TlsInfo):
        return {"tls": result.as_dict()}
    if result is None:
        return {"done": method}
    raise TypeError(f"unexpected peer result {result!r} from {method}")
