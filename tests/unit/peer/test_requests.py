"""The table of the control protocol's requests (`conformance_peer._requests`) and its field rules
(`_rules`, and `calls.ARGUMENTS` for the ops of a session): it covers every `ListenerSpec` field,
names the same fields as the harness's schema, takes what the harness sends, and shows a wrong value
as JavaScript would, cut short."""

import dataclasses
import re
from typing import Any

import pytest
from conformance_peer import ChunkPlan, ListenerSpec, UnsupportedListener
from conformance_peer import _requests as requests
from conformance_peer._rules import shown
from conformance_peer.calls import CALLS, Send
from conformance_peer.wire import WireError
from control_support import VALID

from conformance.protocol import peer_messages
from conformance.schema import load
from tests.helpers import REPO


def test_every_listener_spec_field_has_a_rule() -> None:
    # Without one, a harness's field would be refused as one this peer is too old to know.
    assert list(requests.LISTENER_FIELDS) == [field.name for field in dataclasses.fields(ListenerSpec)]


def test_the_table_names_the_fields_the_harnesss_schema_names() -> None:
    schema = load(peer_messages.SCHEMA)["$defs"]
    assert sorted(requests.REQUESTS) == peer_messages.ops()
    for op, rule in requests.REQUESTS.items():
        definition = schema["requests"][op]
        assert set(rule.fields) == set(definition["properties"]) - {"id", "op"}, op
        assert set(rule.fields) - rule.optional == set(definition["required"]) - {"id", "op"}, op
        if op in CALLS:
            args = definition["properties"]["args"]
            assert set(CALLS[op].rule().fields) == set(args["properties"]) == set(args["required"]), op
    assert set(requests.LISTENER_FIELDS) == set(schema["listener"]["properties"])


def test_every_op_is_in_the_op_table_of_the_protocols_document() -> None:
    section = (REPO / "docs" / "peer-protocol.md").read_text(encoding="utf-8").split("\n## Ops\n", 1)[1]
    table = re.search(r"^\|.*?(?=\n\n)", section, flags=re.MULTILINE | re.DOTALL)
    assert table is not None
    first_cells = [line.split(" | ")[0] for line in table.group(0).splitlines()]
    listed = {name for cell in first_cells for name in re.findall(r"`([a-z_]+)`", cell)}
    assert listed == set(requests.REQUESTS)


def test_the_valid_requests_of_the_tests_cover_every_op() -> None:
    # hello is checked apart: its fields are judged before the token's.
    assert set(VALID) == set(requests.REQUESTS) - {"hello"}


@pytest.mark.parametrize("op", sorted(VALID))
def test_a_valid_request_of_each_op_is_taken_and_valid_for_the_schema_too(op: str) -> None:
    message = {"id": 1, "op": op, **VALID[op]}
    assert peer_messages.request_problem(message) is None
    assert requests.parse(message)[0] == op


def test_fields_come_back_as_the_peer_uses_them() -> None:
    _, send = requests.parse({"id": 1, "op": "send", **VALID["send"]})
    assert send["args"] == Send(conn="c", data=b"hi", chunks=ChunkPlan(1, 2, 3), timeout=1.5)
    _, opened = requests.parse({"id": 2, "op": "open_session", "listener": {"kind": "tls", "port": 25}})
    assert opened["listener"] == ListenerSpec(kind="tls", port=25)


@pytest.mark.parametrize(
    ("message", "error", "text"),
    [
        ({"op": "open_session", "listener": {"port": 1.5}}, WireError, "listener.port must be an integer from 0 to"),
        ({"op": "open_session", "listener": {"colour": "blue"}}, UnsupportedListener, "listener field(s) colour"),
        (
            {
                "op": "send",
                **VALID["send"],
                "args": {**VALID["send"]["args"], "chunks": {"type": "ChunkPlan", "min": 3, "max": 2, "seed": 0}},
            },
            WireError,
            "send: args.chunks: a chunk plan needs 1 <= min <= max",
        ),
        (
            {"op": "certificates", "certificates": {"wrong-host": {"chain": 1, "key": "PEM"}}},
            WireError,
            'certificates["wrong-host"].chain',
        ),
        ({"op": 5}, WireError, "op must be a string, not 5"),
        ({"op": "x" * 1000}, WireError, 'unknown op "' + "x" * 40 + '…"'),
    ],
)
def test_a_wrong_request_is_refused_naming_the_field(message: dict[str, Any], error: type, text: str) -> None:
    with pytest.raises(error) as raised:
        requests.parse({"id": 1, **message})
    assert text in str(raised.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (1.5, "1.5"),
        (10**50, "1" + "0" * 39 + "…"),
        ("é", '"é"'),
        ("\ud800", '"\\ud800"'),
        ("a" * 100, '"' + "a" * 40 + '…"'),
        ([[[]]], "an array"),
        ({"a": 1}, "an object"),
    ],
)
def test_a_value_is_shown_as_javascript_shows_it_and_cut_short(value: Any, text: str) -> None:
    assert shown(value) == text
