"""Cloudflare's published IP ranges, and whether an address falls in one.

The ranges ship as data (``cloudflare-ranges.json``, with the URLs they come from and the
day they were taken); production ``connect()`` refuses them (B23). An address may be
spelled in any way an implementation might accept: dotted IPv4, IPv6 in any compression,
bracketed IPv6, and IPv4-mapped IPv6 (``::ffff:104.16.0.1``, ``::ffff:6810:1``,
``0:0:0:0:0:ffff:104.16.0.1``): a mapped address is the IPv4 address it carries, so it is
checked against the IPv4 ranges.

Legacy IPv4 spellings that only ``inet_aton`` accepts (``1745879041``, ``0x68.16.0.1``,
``104.16.1``) are not literals here: they are host names, which a resolver may turn into an
address; check the resolved address.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from dataclasses import dataclass
from importlib import resources

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DATA_FILE = "cloudflare-ranges.json"


@dataclass(frozen=True)
class PublishedRanges:
    source: tuple[str, ...]
    """Where the lists are published."""
    taken: str
    """The day the lists were copied (ISO date)."""
    ipv4: tuple[ipaddress.IPv4Network, ...]
    ipv6: tuple[ipaddress.IPv6Network, ...]

    @classmethod
    def from_json(cls, text: str, origin: str = DATA_FILE) -> PublishedRanges:
        """Parse the data file; a bad entry is an error naming the file and the entry."""
        try:
            data = json.loads(text)
            source = tuple(str(url) for url in data["source"])
            taken = str(data["taken"])
            ipv4 = tuple(_ipv4(entry, origin) for entry in data["ipv4"])
            ipv6 = tuple(_ipv6(entry, origin) for entry in data["ipv6"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{origin}: {error}") from None
        if not source or not ipv4 or not ipv6:
            raise ValueError(f"{origin}: source, ipv4 and ipv6 must not be empty")
        return cls(source=source, taken=taken, ipv4=ipv4, ipv6=ipv6)

    def network_of(self, address: str | IPAddress) -> IPNetwork | None:
        """The published range holding ``address`` (any spelling), or None.

        Raises ``ValueError`` when ``address`` is not an IP literal (a host name).
        """
        ip = address if isinstance(address, IPAddress) else ip_literal(address)
        if ip is None:
            raise ValueError(f"not an IP address: {address!r}")
        ip = unmapped(ip)
        networks: tuple[IPNetwork, ...] = self.ipv4 if ip.version == 4 else self.ipv6
        for network in networks:
            if ip in network:
                return network
        return None

    @property
    def networks(self) -> tuple[IPNetwork, ...]:
        return (*self.ipv4, *self.ipv6)

    def edges(self) -> tuple[str, ...]:
        """The first and the last usable address of every range, IPv4 then IPv6, in list order.

        Usable: an IPv4 range's network and broadcast addresses are not hosts; an IPv6 range has
        no broadcast address, so its last address is usable and its first (the Subnet-Router
        anycast address) is not.
        """
        found: list[str] = []
        for network in self.networks:
            last = network.broadcast_address - 1 if network.version == 4 else network.broadcast_address
            found += [str(network.network_address + 1), str(last)]
        return tuple(dict.fromkeys(found))

    def beside(self) -> tuple[str, ...]:
        """The address just before and the one just after every range, where that address is in
        no published range itself (104.24.0.0/14 follows 104.16.0.0/13 without a gap)."""
        found: list[str] = []
        for network in self.networks:
            for outside in (network.network_address - 1, network.broadcast_address + 1):
                if self.network_of(outside) is None:
                    found.append(str(outside))
        return tuple(dict.fromkeys(found))

    def just_below(self, address: str) -> str:
        """The address just before the range holding ``address`` (``ValueError`` when in none)."""
        network = self.network_of(address)
        if network is None:
            raise ValueError(f"{address} is in no published Cloudflare range")
        return str(network.network_address - 1)


def _ipv4(entry: object, origin: str) -> ipaddress.IPv4Network:
    network = ipaddress.ip_network(str(entry), strict=True)
    if not isinstance(network, ipaddress.IPv4Network):
        raise ValueError(f"{entry!r} is listed under ipv4 in {origin}")
    return network


def _ipv6(entry: object, origin: str) -> ipaddress.IPv6Network:
    network = ipaddress.ip_network(str(entry), strict=True)
    if not isinstance(network, ipaddress.IPv6Network):
        raise ValueError(f"{entry!r} is listed under ipv6 in {origin}")
    return network


@functools.cache
def published() -> PublishedRanges:
    """The ranges shipped with the package."""
    text = resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return PublishedRanges.from_json(text)


def ip_literal(text: str) -> IPAddress | None:
    """``text`` as an IP address (IPv4, IPv6, ``[IPv6]``, mapped IPv6), or None for a host name."""
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def unmapped(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv4-mapped IPv6 address carries; any other address unchanged."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def cloudflare_network(address: str | IPAddress) -> IPNetwork | None:
    """The published Cloudflare range holding ``address``, or None (``ValueError`` for a host name)."""
    return published().network_of(address)


def is_cloudflare(address: str | IPAddress) -> bool:
    """Whether ``address`` (any spelling) is in a published Cloudflare range (``ValueError`` for a host name)."""
    return cloudflare_network(address) is not None
