"""The reference's destination policy (B23) without a sandbox: which addresses it blocks, and how each
policy mutant gets it wrong. tests/integration/test_policy.py shows each mutant caught by the spec."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from conformance.adapters.reference import connection, policy
from conformance.adapters.reference.connection import ConnectError, NetworkAddress
from conformance.adapters.reference.mutants import FAITHFUL, quirks_for
from conformance.sandbox import published

from .support import run

RANGES = published()


@pytest.mark.parametrize("address", [*RANGES.edges(), "104.16.0.0", "104.23.255.255", "::ffff:104.16.0.1"])
def test_every_edge_of_every_range_is_blocked(address: str) -> None:
    assert policy.blocked(address, True, FAITHFUL)


@pytest.mark.parametrize("address", [*RANGES.beside(), "127.0.0.1", "::1", "1.1.1.1"])
def test_the_addresses_beside_the_ranges_are_not(address: str) -> None:
    assert not policy.blocked(address, True, FAITHFUL)


@pytest.mark.parametrize(
    ("mutant", "address", "blocked"),
    [
        ("cloudflare-ranges-as-16", "104.23.255.254", False),  # a /13 read as a /16: too narrow
        ("cloudflare-ranges-as-16", "173.245.47.255", True),  # a /20 read as a /16: too wide
        ("cloudflare-first-block-only", "104.23.255.254", False),
        ("cloudflare-first-block-only", "2606:4700:ffff:ffff:ffff:ffff:ffff:ffff", False),
        ("cloudflare-range-end-inclusive", "104.28.0.0", True),
        ("cloudflare-range-end-inclusive", "2606:4701::", True),
    ],
)
def test_each_range_mutant_blocks_the_wrong_addresses(mutant: str, address: str, blocked: bool) -> None:
    assert policy.blocked(address, True, quirks_for(mutant)) is blocked
    assert policy.blocked(address, True, FAITHFUL) is not blocked


@pytest.mark.parametrize(
    "mutant", ["cloudflare-ranges-as-16", "cloudflare-first-block-only", "cloudflare-range-end-inclusive"]
)
def test_the_range_mutants_still_block_the_first_address_of_each_range(mutant: str) -> None:
    assert policy.blocked("104.16.0.1", True, quirks_for(mutant))
    assert policy.blocked("2606:4700::1", True, quirks_for(mutant))
    assert not policy.blocked("104.15.255.254", True, quirks_for(mutant))


@pytest.mark.parametrize("host", ["1745879041", "0x68100001", "0150.020.0.01", "104.16.1", "0x68.020.1"])
def test_legacy_ipv4_spellings_are_checked_as_the_address_they_mean(host: str) -> None:
    assert run(_candidates(host, None)) == "refused"
    assert run(_candidates(host, "legacy-ipv4-spellings-not-blocked")) == ["104.16.0.1"]
    assert not connection._spelling_unchecked("104.16.0.1", quirks_for("legacy-ipv4-spellings-not-blocked"))


@pytest.mark.parametrize("host", ["2606:4700:0:0:0:0:0:1", "2400:CB00::1", "2606:4700:0000::0001"])
def test_ipv6_spellings_are_normalised_before_the_check(host: str) -> None:
    assert run(_candidates(host, None)) == "refused"
    assert run(_candidates(host, "ipv6-spellings-not-normalised")) != "refused"
    assert not connection._spelling_unchecked("2606:4700::1", quirks_for("ipv6-spellings-not-normalised"))


@pytest.mark.parametrize(
    ("addresses", "faithful", "mutant"),
    [
        (["104.15.255.255", "104.16.0.1"], ["104.15.255.255"], ["104.15.255.255", "104.16.0.1"]),
        (["104.16.0.1", "104.15.255.255"], ["104.15.255.255"], ["104.15.255.255"]),
        (["104.16.0.1"], "refused", "refused"),
    ],
)
def test_every_address_of_a_name_is_checked(addresses: list[str], faithful: Any, mutant: Any) -> None:
    assert run(_candidates("mixed.sandbox.test", None, addresses)) == faithful
    assert run(_candidates("mixed.sandbox.test", "first-resolved-address-only", addresses)) == mutant


async def _candidates(host: str, mutant: str | None, resolved: list[str] | None = None) -> Any:
    """What the reference would dial for ``host`` (as if every address were on the sandbox's lo)."""
    loop = asyncio.get_running_loop()

    async def getaddrinfo(*args: Any, **kwargs: Any) -> list[Any]:
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [(family[6 if ":" in ip else 4], socket.SOCK_STREAM, 6, "", (ip, 1)) for ip in resolved or []]

    saved = (policy.resolvable, policy.dialable, loop.getaddrinfo)
    policy.resolvable, policy.dialable = (lambda host: True), (lambda ip: True)  # type: ignore[method-assign]
    loop.getaddrinfo = getaddrinfo  # type: ignore[method-assign]
    try:
        return await connection._resolve(NetworkAddress(host, 1), quirks_for(mutant))
    except ConnectError:
        return "refused"
    finally:
        policy.resolvable, policy.dialable, loop.getaddrinfo = saved  # type: ignore[method-assign]


def test_a_label_no_lookup_can_carry_is_a_connection_failure_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    # A DNS label is at most 63 octets: getaddrinfo's IDNA step raises UnicodeError for a longer one
    # instead of OSError, and the reference's task died of it (found by the fuzzer).
    host = "a" * 64 + ".sandbox.test"
    monkeypatch.setattr(policy, "resolvable", lambda name: True)
    with pytest.raises(ConnectError, match="cannot be looked up"):
        run(connection._resolve(NetworkAddress(host, 80), FAITHFUL))
