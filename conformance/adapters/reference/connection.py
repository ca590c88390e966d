"""The reference's network layer: one TCP connection as an asyncio Protocol.

This is the only module that touches the network. It plays the part of
workerd's network service and kj's socket code:

* the address string is split the way kj's ``SocketAddress::parse`` does
  (``[v6]:port``, ``host:port``; a colon-laden host without brackets is an
  IPv6 literal *without* a port, B9), and a port of 0 cannot be dialled;
* names ending in ``.invalid`` (RFC 6761) fail without any lookup, so cases
  can ask for a DNS failure without sending a query; the only names looked up
  at all are ``localhost`` and ``*.localhost`` (from /etc/hosts, RFC 6761 again):
  any other name fails as unresolvable, so the reference never sends a DNS
  query off the machine;
* like a workerd ``network`` service with ``allow = ["local"]``, only loopback
  addresses may be dialled (and, inside the run's sandbox, the sandbox's own
  addresses on ``lo``): anything else fails as "blocked" (B26), so the
  reference never sends traffic off the machine;
* Cloudflare's production rules (``policy.py``): an address in a Cloudflare
  range is dropped from the candidates before anything is dialled (B23).

Events (data, EOF, loss) go straight to the socket model's callbacks, so a
read that is already waiting is fulfilled without a task switch. Peer EOF
keeps the transport open (half-close, B29/B33).

TLS (``start_tls``) runs on the same connection and the same protocol, for
``secureTransport: "on"`` right after connecting and for ``startTls()`` later
(B17, B40): from then on the events carry plaintext. Over TLS:

* the peer's close_notify is its EOF; a FIN (or a bad record) without it
  breaks the stream like a reset: kj reports "peer disconnected without
  gracefully ending TLS session" as DISCONNECTED, which is B21's "Network
  connection lost.";
* ``write_eof`` sends close_notify, then FIN, and reading goes on (B29);
* ``close`` sends close_notify before closing, so the peer sees a clean end.

The handshake's own failures (certificate, protocol, the peer leaving) are
``TlsFailure``; the connection is closed after the alert went out.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Protocol

from ...core.jsshow import show
from . import policy
from .mutants import FAITHFUL, Quirks
from .tls import TlsError, TlsSession

#: Flow-control thresholds of the transport's write buffer.
WRITE_HIGH_WATER = 1024 * 1024
WRITE_LOW_WATER = 256 * 1024
#: How long a closed TLS connection keeps reading (and discarding) after its close_notify and FIN,
#: waiting for the peer's end, before the socket is closed for good.
TLS_CLOSE_LINGER_S = 1.0


class ConnectError(Exception):
    """The connection could not be made; the message says why (for logs only)."""


class TlsFailure(ConnectError):
    """The TLS handshake failed; the connection is closed."""


class ConnectionLost(Exception):
    """The connection broke (peer reset, broken pipe) or was closed under a write."""


@dataclass(frozen=True)
class NetworkAddress:
    host: str
    port: int


class ConnectionEvents(Protocol):
    def connection_data(self, data: bytes) -> None: ...

    def connection_eof(self) -> None: ...

    def connection_lost(self, error: Exception | None) -> None: ...


def split_network_address(address: str) -> NetworkAddress | None:
    """Split like kj's ``SocketAddress::parse``; port 0 means "no port given"."""
    if address.startswith("["):
        end = address.find("]")
        if end < 0:
            return None
        host, rest = address[1:end], address[end + 1 :]
        if not rest:
            return NetworkAddress(host, 0)
        if not rest.startswith(":"):
            return None
        port_text = rest[1:]
    else:
        host, colon, port_text = address.rpartition(":")
        if not colon or ":" in host:
            return NetworkAddress(address, 0)
    if not (port_text.isascii() and port_text.isdigit()) or int(port_text) > 65535:
        return None
    return NetworkAddress(host, int(port_text))


def _octal_port(address: str, port: int) -> int:
    """The mutant's port: written with a leading zero and only octal digits, read as octal."""
    text = address.rpartition(":")[2]
    if len(text) > 1 and text.startswith("0") and set(text) <= set("01234567"):
        return int(text, 8)
    return port


def _is_reserved_invalid(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "invalid" or name.endswith(".invalid")


def _is_localhost(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def _numeric_ip(host: str) -> str | None:
    """An IP literal as the system resolver reads it, without any lookup (B8).

    IPv6 literals, dotted quads, and the inet_aton shorthands a resolver also
    accepts as numbers ("127.1", "0x7f000001"); None for a name.
    """
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or not all(char in "0123456789abcdefxABCDEFX." for char in host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _spelling_unchecked(host: str, quirks: Quirks) -> bool:
    """The spelling mutants: an address written in a form the block check does not recognise."""
    if quirks.legacy_ipv4_spellings_not_blocked and ":" not in host and _numeric_ip(host) is not None:
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return True  # 1745879041, 0x68.16.0.1, 0150.020.0.01, 104.16.1: not a dotted quad
    if quirks.ipv6_spellings_not_normalised and ":" in host:
        try:
            return str(ipaddress.IPv6Address(host)) != host  # only the canonical text is checked
        except ValueError:
            return False
    return False


async def _resolve(target: NetworkAddress, quirks: Quirks) -> list[str]:
    """The IP addresses to try for ``target``, in order: never one policy blocks (B23), only dialable ones."""
    if not target.host or target.port == 0:
        raise ConnectError(f"nothing to dial at {target}")
    if _is_reserved_invalid(target.host):
        raise ConnectError(f"{target.host}: reserved name, not resolved (RFC 6761)")
    literal = True
    numeric = _numeric_ip(target.host)
    if numeric is not None:
        candidates = [numeric]
    else:
        if not _is_localhost(target.host) and not policy.resolvable(target.host):
            raise ConnectError(f"{target.host}: not resolved (the reference looks up only localhost)") from None
        literal = False
        loop = asyncio.get_running_loop()
        name = target.host.lower()  # "LOCALHOST" is localhost too (B17 keeps the spelling, not the lookup)
        try:
            infos = await loop.getaddrinfo(name, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except OSError as error:
            raise ConnectError(f"{target.host}: {error}") from None
        except UnicodeError as error:  # a label over 63 octets or a name over 253: no lookup can carry it
            raise ConnectError(f"{target.host}: cannot be looked up: {error}") from None
        candidates = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not quirks.block_after_dial and not _spelling_unchecked(target.host, quirks):
        if quirks.first_resolved_address_only and candidates and not policy.blocked(candidates[0], literal, quirks):
            pass  # the mutant: the first address passed, so every one is dialled
        else:
            candidates = [ip for ip in candidates if not policy.blocked(ip, literal, quirks)]
        if not candidates:
            raise ConnectError(f"{target.host}: a Cloudflare address, never dialled (B23)")
    allowed = [ip for ip in candidates if policy.dialable(ip)]
    if not allowed:
        raise ConnectError(f"{target.host}: blocked, only loopback may be dialled")
    return allowed


async def open_connection(address: str, events: ConnectionEvents, quirks: Quirks = FAITHFUL) -> Connection:
    """Connect to ``address`` (as validated by ``connect()``) over TCP; raises ``ConnectError``."""
    target = split_network_address(address)
    if target is None:
        raise ConnectError(f"{show(address)}: not a network address")
    if quirks.leading_zero_port_octal:
        target = NetworkAddress(target.host, _octal_port(address, target.port))
    loop = asyncio.get_running_loop()
    failures: list[str] = []
    for ip in await _resolve(target, quirks):
        try:
            _, protocol = await loop.create_connection(lambda: Connection(events), ip, target.port)
        except OSError as error:
            failures.append(f"{ip}: {error}")
            continue
        if quirks.block_after_dial and policy.blocked(ip, True, quirks):
            protocol.abort()  # the mutant: the rule applied only once the connection exists
            raise ConnectError(f"{ip}: a Cloudflare address, refused after dialling")
        return protocol
    raise ConnectError("; ".join(failures))


class Connection(asyncio.Protocol):
    def __init__(self, events: ConnectionEvents) -> None:
        self._events = events
        self._transport: asyncio.Transport | None = None
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._lost = False
        self._loss_reported = False
        self._peer_eof = False  # a FIN arrived (before or after TLS started)
        self._eof_written = False  # we sent FIN: nothing more can go out
        #: close() on a TLS connection: FIN sent, the rest of the input is read and dropped until the
        #: peer's end (or the linger), so records still on their way cannot make the kernel reset it.
        self._draining = False
        self._linger: asyncio.TimerHandle | None = None
        self._closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tls: TlsSession | None = None
        #: While a handshake runs: its outcome, None for success or why it failed.
        self._handshake: asyncio.Future[str | None] | None = None
        self._tls_eof_reported = False

    # -- asyncio's callbacks ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER, low=WRITE_LOW_WATER)

    def data_received(self, data: bytes) -> None:
        if self._draining:
            return
        if self._tls is None:
            self._events.connection_data(data)
        else:
            self._tls.feed(data)
            self._advance_tls()

    def eof_received(self) -> bool:
        if self._draining:
            self._finish_close()
            return True
        self._peer_eof = True
        if self._tls is None:
            self._events.connection_eof()
        else:
            self._tls.feed_eof()
            self._advance_tls()
        return True  # keep our write side open: TCP half-close

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._linger is not None:
            self._linger.cancel()
        self._wake_drainers()
        if not self._closed.done():
            self._closed.set_result(None)
        if self._handshaking:
            self._end_handshake(f"the connection was {'reset' if exc else 'closed'} during the TLS handshake")
        elif not self._loss_reported:
            self._loss_reported = True
            self._events.connection_lost(exc)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_drainers()

    # -- the socket model's side -------------------------------------------------------

    def set_events(self, events: ConnectionEvents) -> None:
        """Send later events elsewhere: startTls hands the connection to the new socket (B40)."""
        self._events = events

    @property
    def peer_ip(self) -> str:
        peer = self._transport.get_extra_info("peername") if self._transport else None
        return str(peer[0]) if peer else ""

    @property
    def local_address(self) -> str:
        local = self._transport.get_extra_info("sockname") if self._transport else None
        if not local:
            return ""
        host = str(local[0])
        return f"[{host}]:{local[1]}" if ":" in host else f"{host}:{local[1]}"

    async def start_tls(self, session: TlsSession, early: bytes = b"") -> None:
        """Run the client handshake on this connection; raises ``TlsFailure``.

        ``early`` holds bytes that arrived before TLS started and nobody read
        (STARTTLS): they are the first bytes the handshake sees.
        """
        assert self._tls is None, "TLS starts once per connection"
        self._tls = session
        outcome: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._handshake = outcome
        if self._lost or self._eof_written:
            self._end_handshake("the connection was shut before the TLS handshake")
        else:
            self.resume_reading()  # the handshake must hear the server, whatever the app read
            if early:
                session.feed(early)
            if self._peer_eof:
                session.feed_eof()
            self._advance_tls()  # sends the ClientHello
        reason = await outcome
        if reason is not None:
            raise TlsFailure(reason)

    def can_write_now(self) -> bool:
        """Writing would neither block nor fail: connected, not closing, buffer below its mark."""
        return not (self._lost or self._write_paused or self._transport is None or self._transport.is_closing())

    def write(self, data: bytes | memoryview) -> None:
        if self._lost or self._transport is None or self._transport.is_closing():
            raise ConnectionLost("the connection is closed")
        if self._tls is not None:
            try:
                data = self._tls.encrypt(data)
            except TlsError as error:
                raise ConnectionLost(str(error)) from None
        self._transport.write(data)

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its low-water mark."""
        while self._write_paused and not self._lost:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._drain_waiters:
                    self._drain_waiters.remove(waiter)
        if self._lost:
            raise ConnectionLost("the connection is closed")

    def write_eof(self) -> None:
        """Half-close: (close_notify and) FIN once the buffered data is sent."""
        if self._lost or self._transport is None or self._transport.is_closing():
            raise ConnectionLost("the connection is closed")
        if self._tls is not None:
            self._send(self._tls.close_notify())
        self._eof_written = True
        try:
            self._transport.write_eof()
        except OSError as error:  # e.g. ENOTCONN: the peer is gone and a reset already came back
            if self._tls is not None and self._tls.ended:
                # The peer's close_notify came first, so the TLS session is over both ways and
                # our FIN is a courtesy. kj's TlsConnection sends nothing at all then, and its
                # shutdownWrite succeeds: closed resolves (B31).
                return
            raise ConnectionLost(f"cannot half-close: {error}") from None

    def pause_reading(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def close(self) -> None:
        """Close after sending what is buffered (kj: destroy the stream).

        Over TLS the peer's last records may still be on their way: a server sends its session
        tickets right after the handshake, and a close() right after opened (with writes queued
        behind the handshake) can beat them. A socket closed with input unread, or receiving input
        once closed, is reset by the kernel, which throws away the data the peer has not read yet.
        So a TLS connection sends close_notify and FIN, then drops whatever still arrives until the
        peer's end or ``TLS_CLOSE_LINGER_S``, and only then closes. Plain TCP closes at once: a peer
        whose data was never read sees a reset there, as with workerd (B35's note).
        """
        transport = self._transport
        if transport is None or self._lost or transport.is_closing() or self._draining:
            return
        if self._tls is None:
            transport.close()
            return
        self._send(self._tls.close_notify())  # a clean end for the peer (once)
        if not self._eof_written:
            self._eof_written = True
            try:
                transport.write_eof()
            except OSError:
                transport.close()
                return
        self._draining = True
        self.resume_reading()
        self._linger = asyncio.get_running_loop().call_later(TLS_CLOSE_LINGER_S, self._finish_close)

    def _finish_close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        """Close at once, discarding buffered data."""
        # Not once closed: asyncio's transport would schedule its teardown a second time.
        if self._transport is not None and not self._lost:
            self._transport.abort()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    # -- TLS ------------------------------------------------------------------------

    @property
    def _handshaking(self) -> bool:
        return self._handshake is not None and not self._handshake.done()

    def _advance_tls(self) -> None:
        """Run the session on what arrived: the handshake, then plaintext and its end."""
        tls = self._tls
        assert tls is not None
        if self._handshaking:
            try:
                done = tls.handshake()
            except TlsError as failure:
                self._send(tls.output())  # the alert, so the server learns why
                self._end_handshake(str(failure))
                return
            self._send(tls.output())
            if not done:
                return
            self._end_handshake(None)
        if not tls.established or self._lost:
            return
        plain, error = tls.read()
        self._send(tls.output())
        if plain:
            self._events.connection_data(plain)
        if error is not None:
            self._break(ConnectionLost(error))
        elif tls.ended and not self._tls_eof_reported:
            self._tls_eof_reported = True
            self._events.connection_eof()

    def _end_handshake(self, failure: str | None) -> None:
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_result(failure)
        if failure is not None and self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def _break(self, error: Exception) -> None:
        """The TLS stream broke: report it as a loss (B21), then drop the connection."""
        if not self._loss_reported:
            self._loss_reported = True
            self._events.connection_lost(error)
        self.abort()

    def _send(self, records: bytes) -> None:
        transport = self._transport
        if records and transport is not None and not transport.is_closing() and not self._eof_written:
            transport.write(records)

    def _wake_drainers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
