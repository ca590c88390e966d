"""Large pattern writes are sent as a repeated block: the bytes must equal the expanded pattern."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.adapters.reference.payload import BLOCK_SIZE, pieces, repeated_pattern
from conformance.core.jsvalues import b64, expand_pattern

from .support import Client, run


@settings(max_examples=40)
@given(st.binary(min_size=1, max_size=300), st.integers(min_value=0, max_value=3 * BLOCK_SIZE + 7))
def test_repeated_pattern_equals_the_expanded_pattern(seed: bytes, size: int) -> None:
    payload = repeated_pattern(seed, size)
    sent = list(pieces(payload, BLOCK_SIZE))
    assert len(payload) == size
    assert b"".join(sent) == expand_pattern(seed, size)
    assert all(len(piece) <= BLOCK_SIZE + len(seed) for piece in sent)


@given(st.binary(max_size=5000), st.integers(min_value=1, max_value=2000))
def test_plain_bytes_are_cut_in_order(data: bytes, limit: int) -> None:
    sent = list(pieces(data, limit))
    assert b"".join(sent) == data
    assert all(0 < len(piece) <= limit for piece in sent)


def test_an_empty_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="seed"):
        repeated_pattern(b"", 10)


def test_a_malformed_pattern_is_a_protocol_error() -> None:
    async def scenario() -> str:
        client = Client()
        s = await client.connect("nowhere.invalid:1")
        reply = await client.adapter.request(
            {
                "seq": 99,
                "op": "write",
                "socket": s,
                "timeout_ms": 10,
                "data": {"$type": "pattern", "seed": "", "size": 2 * BLOCK_SIZE},
            }
        )
        await client.end()
        return str(reply["status"])

    assert run(scenario()) == "protocol_error"


def test_a_bad_tagged_value_is_a_protocol_error() -> None:
    async def scenario() -> str:
        client = Client()
        reply = await client.adapter.request({"seq": 1, "op": "connect", "address": {"$type": "mystery"}})
        return str(reply["status"])

    assert run(scenario()) == "protocol_error"


def test_small_patterns_are_decoded_normally() -> None:
    async def scenario() -> dict[str, object]:
        client = Client()
        s = await client.connect("nowhere.invalid:1")
        await client.op("await", socket=s, promise="opened", timeout_ms=2000)
        reply = await client.op(
            "write", socket=s, timeout_ms=100, data={"$type": "pattern", "seed": b64(b"ab"), "size": 5}
        )
        await client.end()
        return reply

    reply = run(scenario())
    assert reply["status"] == "rejected"  # the connection failed (B19), but the value decoded
