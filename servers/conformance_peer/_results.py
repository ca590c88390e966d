"""What each peer op observed, as frozen values with an `as_dict()` for the transcript.

`as_dict()` gives JSON-ready values: bytes appear as a short preview (text when
they decode as UTF-8, hex otherwise) next to their length; the exact bytes stay
on the dataclass for the harness to compare.
"""

from dataclasses import dataclass
from typing import Literal

EndKind = Literal["eof", "reset"]
"""How the client ended its side: FIN (`eof`) or RST (`reset`)."""

SeenKind = Literal["eof", "reset", "data", "silence"]
"""What `wait_end` saw first: an end, bytes, or nothing before its timeout."""

PREVIEW_LIMIT = 1024
"""Bytes longer than this appear in a transcript as a hex preview of their start."""


def preview(data: bytes) -> object:
    """A JSON-ready rendering of `data` for a transcript, short whatever the size."""
    if len(data) <= PREVIEW_LIMIT:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return {"hex": data.hex()}
    return {"hex": data[:64].hex(), "truncated": True}


@dataclass(frozen=True)
class TlsInfo:
    """How a TLS handshake went: `ok` with the session's parameters, or the `error`.

    `sni` is the server name the client asked for, None when it sent none (as
    clients do for an IP literal). A failed handshake keeps what was known
    (the SNI often is) and says why in `error`.
    """

    ok: bool
    version: str | None = None
    """The protocol version, such as "TLSv1.3"."""
    sni: str | None = None
    cipher: str | None = None
    """The cipher suite, such as "TLS_AES_256_GCM_SHA384"."""
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "version": self.version,
            "sni": self.sni,
            "cipher": self.cipher,
            "error": self.error,
        }


@dataclass(frozen=True)
class Accepted:
    """A connection was accepted and stored under `name`."""

    name: str
    remote_address: str
    """The client's end, as `host:port` (`[::1]:port` for IPv6)."""
    tls: TlsInfo | None = None
    """The handshake, on a `tls` listener (which shakes hands as it accepts); None otherwise."""

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "accepted": True,
            "name": self.name,
            "remote_address": self.remote_address,
        }
        if self.tls is not None:
            out["tls"] = self.tls.as_dict()
        return out


@dataclass(frozen=True)
class NoConnection:
    """No connection arrived within `waited` seconds."""

    name: str
    waited: float

    def as_dict(self) -> dict[str, object]:
        return {"accepted": False, "name": self.name, "waited_s": self.waited}


@dataclass(frozen=True)
class Sent:
    """`length` bytes of the data reached the kernel, in `chunks` writes."""

    length: int
    chunks: int
    timed_out: bool
    reset: bool
    """The connection broke (the client reset it) before everything was sent."""

    def as_dict(self) -> dict[str, object]:
        return {
            "sent": self.length,
            "chunks": self.chunks,
            "timed_out": self.timed_out,
            "reset": self.reset,
        }


@dataclass(frozen=True)
class Received:
    """Bytes the peer read; `data` is None when only the digest was kept."""

    data: bytes | None
    sha256: str
    length: int
    ended: EndKind | None
    """Set when the stream ended before the requested count (always, for "until EOF")."""
    timed_out: bool

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "length": self.length,
            "sha256": self.sha256,
            "ended": self.ended,
            "timed_out": self.timed_out,
        }
        if self.data is not None:
            out["data"] = preview(self.data)
        return out


@dataclass(frozen=True)
class EndSeen:
    """What arrived first while waiting for an end; `data` holds the bytes when `kind` is data."""

    kind: SeenKind
    data: bytes = b""

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"seen": self.kind}
        if self.kind == "data":
            out["data"] = preview(self.data)
            out["length"] = len(self.data)
        return out


@dataclass(frozen=True)
class Echoed:
    """`length` bytes were echoed back; `ended` says how the client's stream ended."""

    length: int
    ended: EndKind | None
    timed_out: bool

    def as_dict(self) -> dict[str, object]:
        return {"echoed": self.length, "ended": self.ended, "timed_out": self.timed_out}


@dataclass(frozen=True)
class Done:
    """An op that returns nothing (`shutdown_write`, `close`, `reset`) finished."""

    def as_dict(self) -> dict[str, object]:
        return {"done": True}


PeerResult = Accepted | NoConnection | Sent | Received | EndSeen | Echoed | TlsInfo | Done
"""What performing a call gives (`PeerSession.perform`): each call class says which of these it answers."""
