"""The conformance peer: the controllable server at the other end of every socket.

Stdlib only (it also runs in a minimal python3 container). In process, the
harness opens one `PeerSession` per case with `open_session()` and drives it
with the case's `peer.*` steps; standalone, `serve()` (or `python -m
conformance_peer`) runs fixed-behaviour servers such as an echo server.
"""

from ._chunks import ChunkPlan
from ._errors import PeerError, UnknownConnection, UnsupportedListener
from ._results import (
    Accepted,
    Echoed,
    EndKind,
    EndSeen,
    NoConnection,
    Received,
    SeenKind,
    Sent,
    TlsInfo,
)
from ._session import ListenerKind, ListenerSpec, LoopbackHost, PeerSession, open_session
from ._tls import CertificateFiles, CertificateName
from .standalone import Listening, ServerKind, ServerSpec, serve

__all__ = [
    "Accepted",
    "CertificateFiles",
    "CertificateName",
    "ChunkPlan",
    "Echoed",
    "EndKind",
    "EndSeen",
    "ListenerKind",
    "ListenerSpec",
    "Listening",
    "LoopbackHost",
    "NoConnection",
    "PeerError",
    "PeerSession",
    "Received",
    "SeenKind",
    "Sent",
    "ServerKind",
    "ServerSpec",
    "TlsInfo",
    "UnknownConnection",
    "UnsupportedListener",
    "open_session",
    "serve",
]
