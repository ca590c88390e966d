"""The conformance peer: the controllable server at the other end of every socket.

Stdlib only (it also runs in a minimal python3 container). In process, the
harness opens one `PeerSession` per case with `open_session()` and drives it
with the case's `peer.*` steps, each a call of `calls` given to
`PeerSession.perform`; standalone, `serve()` (or `python -m conformance_peer`)
runs fixed-behaviour servers such as an echo server.

Importing the package imports none of its modules: each name loads its module
on first use (PEP 562). So the harness's pure engine, which needs the calls and
their results (plain values), never loads the server's asyncio and ssl.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._chunks import ChunkPlan
    from ._errors import PeerError, UnknownConnection, UnsupportedListener
    from ._results import (
        Accepted,
        Done,
        Echoed,
        EndKind,
        EndSeen,
        NoConnection,
        PeerResult,
        Received,
        SeenKind,
        Sent,
        TlsInfo,
    )
    from ._session import PeerSession, open_session
    from ._spec import CertificateFiles, CertificateName, ListenerKind, ListenerSpec, LoopbackHost
    from .calls import PeerCall
    from .standalone import Listening, ServerKind, ServerSpec, serve

_MODULE_OF = {
    "conformance_peer._chunks": ["ChunkPlan"],
    "conformance_peer._errors": ["PeerError", "UnknownConnection", "UnsupportedListener"],
    "conformance_peer._results": [
        "Accepted",
        "Done",
        "Echoed",
        "EndKind",
        "EndSeen",
        "NoConnection",
        "PeerResult",
        "Received",
        "SeenKind",
        "Sent",
        "TlsInfo",
    ],
    "conformance_peer._session": ["PeerSession", "open_session"],
    "conformance_peer._spec": ["CertificateFiles", "CertificateName", "ListenerKind", "ListenerSpec", "LoopbackHost"],
    "conformance_peer.calls": ["PeerCall"],
    "conformance_peer.standalone": ["Listening", "ServerKind", "ServerSpec", "serve"],
}
_EXPORTS = {name: module for module, names in _MODULE_OF.items() for name in names}
"""Public name -> the module that defines it."""

__all__ = [
    "Accepted",
    "CertificateFiles",
    "CertificateName",
    "ChunkPlan",
    "Done",
    "Echoed",
    "EndKind",
    "EndSeen",
    "ListenerKind",
    "ListenerSpec",
    "Listening",
    "LoopbackHost",
    "NoConnection",
    "PeerCall",
    "PeerError",
    "PeerResult",
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


def __getattr__(name: str) -> Any:
    # An AttributeError for any other name lets `from conformance_peer import control` import the submodule.
    if name not in _EXPORTS:
        raise AttributeError(f"module 'conformance_peer' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
