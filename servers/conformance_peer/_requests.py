"""Every request of the control protocol and the rules of its fields, in one table (docs/peer-protocol.md).

`parse(message)` checks a request against its op's row and returns its fields
as the peer uses them (bytes, `ChunkPlan`, `ListenerSpec`), or raises
`WireError` naming the field: `open_session: listener.port must be an integer
from 0 to 65535, not 1.5`. The service checks nothing else about a request's
shape, so a field added here is a field checked everywhere.
"""

from typing import Any

from ._chunks import ChunkPlan
from ._errors import UnsupportedListener, WireError
from ._rules import Base64Bytes, Each, Fields, Flag, Integer, Nullable, Number, Rule, Text, shown
from ._session import ListenerSpec

REQUEST_ID = Integer(minimum=0)
TIMEOUT = Number(minimum=0)
CONN = Text()
CHUNKS = Nullable(
    Fields(
        {"min": Integer(minimum=1), "max": Integer(minimum=1), "seed": Integer()},
        tag="ChunkPlan",
        build=ChunkPlan,
        meaning='null or a chunk plan, {type: "ChunkPlan", min, max, seed}',
    )
)

LISTENER_FIELDS: dict[str, Rule] = {
    "kind": Text(),
    "host": Text(),
    "cert": Text(),
    "port": Integer(minimum=0, maximum=65535),
}
"""One rule per `ListenerSpec` field. Its values (a kind, a host) are `open_session`'s to judge."""
LISTENER = Fields(
    LISTENER_FIELDS,
    optional=frozenset(LISTENER_FIELDS),
    build=ListenerSpec,
    unknown=lambda names: UnsupportedListener(
        f"this peer does not know the listener field(s) {', '.join(names)}: it is older than the harness"
    ),
)

SESSION_OPS: dict[str, dict[str, Rule]] = {
    "accept": {"name": Text(min_length=1), "timeout": TIMEOUT},
    "send": {"conn": CONN, "data": Base64Bytes(), "chunks": CHUNKS, "timeout": TIMEOUT},
    "recv": {"conn": CONN, "n": Nullable(Integer(minimum=0)), "timeout": TIMEOUT, "digest": Flag()},
    "wait_end": {"conn": CONN, "timeout": TIMEOUT},
    "echo": {"conn": CONN, "chunks": CHUNKS, "timeout": TIMEOUT},
    "start_tls": {"conn": CONN, "timeout": TIMEOUT},
    "shutdown_write": {"conn": CONN},
    "close": {"conn": CONN},
    "reset": {"conn": CONN},
}
"""The `PeerSession` methods a client may call, with their arguments (all required, by name)."""

REQUESTS: dict[str, Fields] = {
    "hello": Fields({"protocol": Integer(), "token": Text()}),
    "certificates": Fields({"certificates": Each(Fields({"chain": Text(), "key": Text()}))}),
    "open_session": Fields({"listener": LISTENER}),
    "close_session": Fields({"session": Text()}),
    "cancel": Fields({"target": REQUEST_ID}),
    **{
        op: Fields({"session": Text(), "args": Fields(args, meaning=f"an object of {', '.join(args)}")})
        for op, args in SESSION_OPS.items()
    },
}
"""Each op's fields besides `id` and `op`."""


def parse(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The request's op and its fields, checked; WireError (beginning with the op) if they break a rule."""
    op = message.get("op")
    if not isinstance(op, str) or op not in REQUESTS:
        raise WireError(f"unknown op {shown(op)}" if isinstance(op, str) else f"op must be a string, not {shown(op)}")
    fields = {name: value for name, value in message.items() if name not in ("id", "op")}
    try:
        parsed: dict[str, Any] = REQUESTS[op].parse(fields, "")
    except WireError as exc:
        raise WireError(f"{op}: {exc}") from None
    return op, parsed
