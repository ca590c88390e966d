"""What a peer step observes, and how its call reads in the transcript.

The interpreter builds a call of ``conformance_peer.calls`` for each ``peer.*``
step; the runner hands it to the case's session, ``session.perform(call)``, in
process or on a peer service alike, and gets the peer's typed result
(``Accepted``, ``Sent``... or ``Done``). A background step can also end in
``JoinTimedOut``: the harness's own observation. Every result has an
``as_dict()`` for the transcript.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import conformance_peer
from conformance_peer import PeerCall
from conformance_peer.calls import Send

from ..core.jsshow import wire_bytes


@dataclass(frozen=True)
class JoinTimedOut:
    """A background peer step had not finished when its ``join`` gave up."""

    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {"timed_out": True, "error": f"the background step had not finished after {self.seconds:g} s"}


PeerResult = conformance_peer.PeerResult | JoinTimedOut
"""What a peer step observed: the peer's result, or a background step's join giving up."""


def describe(call: PeerCall) -> dict[str, object]:
    """The call as the transcript's "request" column shows it."""
    fields = {key: value for key, value in asdict(call).items() if value is not None}
    if isinstance(call, Send):
        fields["data"] = wire_bytes(call.data)
    return {"peer": call.op, **fields}
