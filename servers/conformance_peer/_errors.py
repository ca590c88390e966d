"""Errors of the peer: a peer op that cannot be carried out as asked.

These point at the case or the harness (an unknown connection name, reading a
connection the peer closed itself), never at the implementation under test:
whatever the client does is reported in a result, not raised.
"""


class PeerError(Exception):
    """A peer op was asked for something the peer cannot do."""


class UnknownConnection(PeerError, LookupError):
    """No connection was accepted under this name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no connection named {name!r} was accepted in this session")
        self.name = name


class UnsupportedListener(PeerError):
    """The session was asked for a listener kind or host the peer does not serve."""


class WireError(ValueError):
    """A control message does not follow the protocol (a bad field, an unknown type): a `ProtocolError`."""
