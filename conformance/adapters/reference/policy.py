"""Cloudflare's network rules as the reference models them (production, not local workerd).

- **Blocked destinations** (B23): an address in a published Cloudflare range is
  never dialled, whichever way it was written (IPv4, IPv6, an IPv4-mapped IPv6
  spelling, a name that resolves to it); when nothing else is left, the
  connection fails with B18's error. The reference keeps loopback dialable
  (production refuses localhost too): every other case of the suite needs it.
- **Port 25** (B24): refused before anything is resolved or dialled, with the
  documented message, whatever ``secureTransport`` says. Where the message
  shows (a synchronous throw or a rejected ``opened``) is not documented; the
  reference rejects ``opened``.
- **Six connections at once** (B48): each socket takes a slot from its session
  from ``connect()`` until ``closed`` settles (a socket still connecting counts;
  one whose connection failed gives its slot back); a seventh waits, in order,
  and dials only when a slot frees. A socket returned by ``startTls()`` keeps
  the slot of the connection it took over.

Only ``*.sandbox.test`` names are looked up besides ``localhost``, and only
inside the run's sandbox (``conformance.sandbox``), whose hosts file answers
them: the reference never sends a DNS query.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import deque
from functools import cache

from conformance import sandbox

from .mutants import Quirks

CONNECTION_LIMIT = 6
PROHIBITED_PORT = 25
SANDBOX_DOMAIN = ".sandbox.test"


@cache
def _sandbox_addresses() -> frozenset[str]:
    description = sandbox.current()
    if description is None:
        return frozenset()
    return frozenset(str(ipaddress.ip_address(a)) for a in description.on_lo)


def resolvable(host: str) -> bool:
    """A name the reference may look up: the sandbox's own names, inside the sandbox only."""
    return host.rstrip(".").lower().endswith(SANDBOX_DOMAIN) and sandbox.current() is not None


def dialable(ip: str) -> bool:
    """What the reference may connect to at all: loopback, and inside the sandbox its addresses on
    ``lo`` (Cloudflare's, the range edges, the public addresses beside them)."""
    address = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # the kernel dials the IPv4 address it carries
    return address.is_loopback or str(address) in _sandbox_addresses()


def blocked(ip: str, literal: bool, quirks: Quirks) -> bool:
    """Whether B23 forbids dialling ``ip``; ``literal``: it was written in the address, not resolved."""
    address = ipaddress.ip_address(ip.split("%")[0])
    if quirks.cloudflare_names_not_blocked and not literal:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        if quirks.mapped_ipv6_not_blocked:
            return False
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv6Address) and quirks.cloudflare_v6_not_blocked:
        return False
    return _in_published_range(address, quirks)


def _in_published_range(address: ipaddress.IPv4Address | ipaddress.IPv6Address, quirks: Quirks) -> bool:
    if not (
        quirks.cloudflare_ranges_as_16 or quirks.cloudflare_first_block_only or quirks.cloudflare_range_end_inclusive
    ):
        return sandbox.is_cloudflare(str(address))
    ranges = sandbox.published()
    networks: tuple[sandbox.IPNetwork, ...] = ranges.ipv4 if address.version == 4 else ranges.ipv6
    for listed in networks:
        network = listed
        if quirks.cloudflare_ranges_as_16 and network.version == 4:
            network = ipaddress.ip_network(f"{network.network_address}/16", strict=False)
        if quirks.cloudflare_first_block_only:
            network = ipaddress.ip_network(f"{network.network_address}/{24 if network.version == 4 else 48}")
        if address in network:
            return True
        if quirks.cloudflare_range_end_inclusive and address == network.broadcast_address + 1:
            return True
    return False


def port_prohibited(port: int, secure_transport: str, quirks: Quirks) -> bool:
    if quirks.port_25_allowed_with_tls and secure_transport != "off":
        return False
    return port == PROHIBITED_PORT


class SlotsEnded(Exception):
    """The request ended while a socket waited for a connection slot: it never connects."""


class Slots:
    """The connections one session (one request) may have open at once; the rest wait in order."""

    def __init__(self, quirks: Quirks) -> None:
        self.limit = CONNECTION_LIMIT + (1 if quirks.connection_limit_off_by_one else 0)
        self.rejects = quirks.connection_limit_rejects
        self.last_in_first_out = quirks.connection_limit_last_in_first_out
        self.held = 0
        self.ended = False
        self._waiting: deque[asyncio.Future[None]] = deque()

    def end(self) -> None:
        """The request is over: no one waiting gets a slot, ever. Without this, closing the open
        sockets at the end of a session would hand their slots to queued ones, which would dial
        an address whose listener is gone (and may be another case's by then)."""
        self.ended = True
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_exception(SlotsEnded())
        self._waiting.clear()

    def full(self) -> bool:
        return self.held >= self.limit

    async def acquire(self) -> None:
        """Wait for a slot; ``SlotsEnded`` once the request is over."""
        if self.ended:
            raise SlotsEnded()
        if self.held < self.limit and not self._waiting:
            self.held += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter  # release() handed its slot over
        except asyncio.CancelledError:
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif not waiter.cancelled():
                self.release()  # the slot arrived just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiting:
            waiter = self._waiting.pop() if self.last_in_first_out else self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes to the next in line
                return
        self.held = max(0, self.held - 1)
