"""The published Cloudflare ranges shipped with the sandbox, and membership in any spelling."""

from __future__ import annotations

import ipaddress
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.sandbox.ranges import (
    PublishedRanges,
    cloudflare_network,
    ip_literal,
    is_cloudflare,
    published,
)

RANGES = published()


def test_the_data_file_names_its_source_and_date() -> None:
    assert RANGES.source == ("https://www.cloudflare.com/ips-v4", "https://www.cloudflare.com/ips-v6")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", RANGES.taken)
    assert len(RANGES.ipv4) == 15
    assert len(RANGES.ipv6) == 7
    assert ipaddress.ip_network("104.16.0.0/13") in RANGES.ipv4
    assert ipaddress.ip_network("2606:4700::/32") in RANGES.ipv6


def _spellings(ip: ipaddress.IPv4Address) -> list[str]:
    """The ways an implementation might be handed the same IPv4 address."""
    mapped = ipaddress.IPv6Address(f"::ffff:{ip}")
    high, low = divmod(int(ip), 1 << 16)
    return [
        str(ip),
        f"::ffff:{ip}",
        f"::FFFF:{ip}",
        f"0:0:0:0:0:ffff:{ip}",
        f"::ffff:{high:x}:{low:x}",
        mapped.exploded,
        f"[::ffff:{ip}]",
    ]


@given(st.sampled_from(RANGES.ipv4), st.integers(min_value=0))
def test_every_ipv4_address_in_a_range_is_found_in_every_spelling(network: ipaddress.IPv4Network, offset: int) -> None:
    ip = network.network_address + offset % network.num_addresses
    for spelling in _spellings(ip):
        assert cloudflare_network(spelling) == network, spelling


@given(st.sampled_from(RANGES.ipv6), st.integers(min_value=0))
def test_every_ipv6_address_in_a_range_is_found_in_every_spelling(network: ipaddress.IPv6Network, offset: int) -> None:
    ip = network.network_address + offset % network.num_addresses
    for spelling in (str(ip), ip.exploded, str(ip).upper(), f"[{ip}]"):
        assert cloudflare_network(spelling) == network, spelling


@given(st.ip_addresses())
def test_membership_agrees_with_the_list(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    effective = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    listed = RANGES.ipv4 if effective.version == 4 else RANGES.ipv6
    assert is_cloudflare(str(ip)) == any(effective in network for network in listed)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "1.1.1.1", "8.8.8.8", "104.15.255.255", "104.28.0.0", "2606:4701::1", "::ffff:127.0.0.1"],
)
def test_addresses_outside_the_ranges(address: str) -> None:
    assert not is_cloudflare(address)


@pytest.mark.parametrize("address", ["104.16.0.0", "104.23.255.255", "131.0.75.255", "2a06:98c7:ffff::1"])
def test_range_edges_are_inside(address: str) -> None:
    assert is_cloudflare(address)


@pytest.mark.parametrize("text", ["example.com", "1745879041", "0x68.16.0.1", "104.16.1", "", "[104.16.0.1"])
def test_host_names_are_not_literals(text: str) -> None:
    assert ip_literal(text) is None
    with pytest.raises(ValueError, match="not an IP address"):
        is_cloudflare(text)


@pytest.mark.parametrize(
    ("ipv4", "ipv6", "message"),
    [
        (["2400:cb00::/32"], ["2400:cb00::/32"], "listed under ipv4"),
        (["104.16.0.0/13"], ["104.16.0.0/13"], "listed under ipv6"),
        (["104.16.0.1/13"], ["2400:cb00::/32"], "has host bits set"),
        ([], ["2400:cb00::/32"], "must not be empty"),
    ],
)
def test_a_bad_data_file_is_an_error_naming_it(ipv4: list[str], ipv6: list[str], message: str) -> None:
    text = json.dumps({"source": ["https://x"], "taken": "2026-01-01", "ipv4": ipv4, "ipv6": ipv6})
    with pytest.raises(ValueError, match=f"ranges.json: .*{message}"):
        PublishedRanges.from_json(text, origin="ranges.json")


def test_every_range_has_its_first_and_last_usable_address_as_edges() -> None:
    edges = RANGES.edges()
    assert len(edges) == 2 * (len(RANGES.ipv4) + len(RANGES.ipv6))
    assert edges[edges.index("104.16.0.1") :][:2] == ("104.16.0.1", "104.23.255.254")
    assert "2a06:98c7:ffff:ffff:ffff:ffff:ffff:ffff" in edges  # IPv6 has no broadcast address
    assert "104.16.0.0" not in edges
    assert "104.23.255.255" not in edges
    for network in RANGES.networks:
        inside = [ip for ip in edges if ipaddress.ip_address(ip) in network]
        assert len(inside) == 2, network
        assert all(cloudflare_network(ip) == network for ip in inside)


def test_the_addresses_beside_each_range_are_in_no_range() -> None:
    beside = RANGES.beside()
    assert "104.15.255.255" in beside
    assert "172.72.0.0" in beside
    assert "2606:46ff:ffff:ffff:ffff:ffff:ffff:ffff" in beside
    # 104.24.0.0/14 starts where 104.16.0.0/13 ends: neither address between them is beside a range.
    assert "104.24.0.0" not in beside
    assert "104.23.255.255" not in beside
    assert not any(is_cloudflare(ip) for ip in beside)
    assert len(beside) == 2 * (len(RANGES.ipv4) + len(RANGES.ipv6)) - 2
    for network in RANGES.networks:
        before, after = str(network.network_address - 1), str(network.broadcast_address + 1)
        assert (before in beside) != is_cloudflare(before)
        assert (after in beside) != is_cloudflare(after)


def test_just_below() -> None:
    assert RANGES.just_below("104.16.0.1") == "104.15.255.255"
    assert RANGES.just_below("2606:4700::1") == "2606:46ff:ffff:ffff:ffff:ffff:ffff:ffff"
    with pytest.raises(ValueError, match="in no published Cloudflare range"):
        RANGES.just_below("8.8.8.8")
