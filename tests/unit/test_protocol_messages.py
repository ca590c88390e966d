"""The protocol schemas, and the fast compiled check that must agree with jsonschema on every message."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.protocol import messages

VALID_REQUESTS = [
    {"seq": 1, "op": "hello", "protocol": 1},
    {"seq": 2, "op": "connect", "address": {"hostname": "x", "port": 1}, "options": {"allowHalfOpen": True}},
    {"seq": 3, "op": "await", "socket": "s1", "promise": "opened", "timeout_ms": 100},
    {"seq": 4, "op": "read_bytes", "socket": "s1", "n": None, "digest": True, "timeout_ms": 0},
    {
        "seq": 5,
        "op": "write",
        "socket": "s1",
        "data": {"$type": "bytes", "b64": "", "view": "Uint8Array"},
        "timeout_ms": 5,
    },
    {"seq": 6, "op": "end", "timeout_ms": 2000},
]
INVALID_REQUESTS = [
    {"seq": 1, "op": "hello"},
    {"seq": -1, "op": "hello", "protocol": 1},
    {"seq": 2, "op": "read", "socket": "s1"},
    {"seq": 3, "op": "release_lock", "socket": "s1", "stream": "both"},
    {"seq": 4, "op": "get", "socket": "s1", "property": "upgraded", "extra": 1},
    {"seq": 5, "op": "await", "socket": "", "promise": "opened", "timeout_ms": 1},
]
VALID_RESPONSES = [
    ("read", {"seq": 1, "status": "resolved", "value": {"done": True}}),
    (
        "read",
        {"seq": 1, "status": "rejected", "error": {"name": None, "message": None, "value": {"$type": "undefined"}}},
    ),
    ("close", {"seq": 1, "status": "pending", "promise": "p1"}),
    ("get", {"seq": 1, "status": "returned", "value": "off", "typeof": "string"}),
    ("end", {"seq": 1, "status": "returned", "value": {"open_sockets": 0, "unhandled_rejections": []}}),
    ("connect", {"seq": 1, "status": "unsupported", "reason": "no"}),
]
INVALID_RESPONSES = [
    ("read", {"seq": 1, "status": "maybe"}),
    ("read", {"seq": 1, "status": "rejected"}),
    ("close", {"seq": 1, "status": "pending"}),
    ("connect", {"seq": 1, "status": "threw", "error": {"name": "TypeError"}}),
    ("end", {"seq": 1, "status": "returned", "value": {"open_sockets": -1, "unhandled_rejections": []}}),
    (
        "hello",
        {
            "seq": 1,
            "status": "returned",
            "value": {"name": "", "version": "1", "runtime": "r", "protocol": 1, "capabilities": []},
        },
    ),
    ("read", ["not", "an", "object"]),
]


@pytest.mark.parametrize("message", VALID_REQUESTS)
def test_valid_requests(message: dict[str, Any]) -> None:
    assert messages.request_problem(message) is None


@pytest.mark.parametrize("message", INVALID_REQUESTS)
def test_invalid_requests_are_named(message: dict[str, Any]) -> None:
    assert messages.request_problem(message)


@pytest.mark.parametrize(("op", "message"), VALID_RESPONSES)
def test_valid_responses(op: str, message: Any) -> None:
    assert messages.response_problem(op, message) is None


@pytest.mark.parametrize(("op", "message"), INVALID_RESPONSES)
def test_invalid_responses_are_named(op: str, message: Any) -> None:
    assert messages.response_problem(op, message)


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(-2, 2, allow_nan=False)
    | st.sampled_from(
        [
            "",
            "s1",
            "p1",
            "opened",
            "closed",
            "readable",
            "returned",
            "threw",
            "resolved",
            "rejected",
            "pending",
            "unsupported",
            "protocol_error",
            "x",
        ]
    )
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "message",
                    "value",
                    "open_sockets",
                    "unhandled_rejections",
                    "version",
                    "runtime",
                    "protocol",
                    "capabilities",
                    "done",
                    "$type",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=8,
)
FIELDS = [
    "seq",
    "op",
    "status",
    "value",
    "error",
    "promise",
    "reason",
    "typeof",
    "socket",
    "timeout_ms",
    "address",
    "options",
    "n",
    "digest",
    "data",
    "stream",
    "property",
    "case",
    "protocol",
    "extra",
]


@settings(max_examples=400, deadline=None)
@given(
    op=st.sampled_from(messages.ops()),
    fields=st.dictionaries(st.sampled_from(FIELDS), json_value, max_size=7),
    response=st.booleans(),
)
def test_the_fast_check_agrees_with_jsonschema(op: str, fields: dict[str, Any], response: bool) -> None:
    message = {"seq": 1, **fields}
    if not response:
        message["op"] = op
    fast = messages._fast(op, response)(message)
    slow = messages._validator(op, response).is_valid(message)
    assert fast == slow, message


def test_the_js_interpreter_speaks_the_same_protocol_version() -> None:
    import re

    from conformance.protocol import PROTOCOL_VERSION
    from tests.helpers import REPO

    source = (REPO / "conformance" / "adapters" / "js" / "interpreter.js").read_text(encoding="utf-8")
    declared = re.findall(r"^const PROTOCOL_VERSION = (\d+);", source, flags=re.MULTILINE)
    assert declared == [str(PROTOCOL_VERSION)]
