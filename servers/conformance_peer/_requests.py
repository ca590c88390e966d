"""Every request of the control protocol and the rules of its fields, in one table (docs/peer-protocol.md).

`parse(message)` checks a request against its op's row and returns its fields
as the peer uses them (a `ListenerSpec`, a session's op as its call), or raises
`WireError` naming the field: `open_session: listener.port must be an integer
from 0 to 65535, not 1.5`. The service checks nothing else about a request's
shape, so a field added here is a field checked everywhere. The rows of a
session's ops are made from their call classes (`calls`), whose arguments'
rules are `calls.ARGUMENTS`.
"""

from typing import Any

from ._errors import UnsupportedListener, WireError
from ._rules import Each, Fields, Integer, Rule, Text, shown
from ._spec import ListenerSpec
from .calls import CALLS

REQUEST_ID = Integer(minimum=0)
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

REQUESTS: dict[str, Fields] = {
    "hello": Fields({"protocol": Integer(), "token": Text()}),
    "certificates": Fields({"certificates": Each(Fields({"chain": Text(), "key": Text()}))}),
    "open_session": Fields({"listener": LISTENER}),
    "close_session": Fields({"session": Text()}),
    "cancel": Fields({"target": REQUEST_ID}),
    **{op: Fields({"session": Text(), "args": call.rule()}) for op, call in CALLS.items()},
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
