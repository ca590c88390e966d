"""The client side of TLS: whom the reference trusts, and one TLS session over memory BIOs.

Why memory BIOs (an ``ssl.SSLObject`` between two ``ssl.MemoryBIO``) and not
asyncio's SSL transport: the connection keeps its own protocol and sees every
byte, which the behaviours need:

* a half-close (B29 over TLS): close_notify and FIN, then reading goes on;
* the peer's close_notify (a clean end) told apart from a stream cut short;
* STARTTLS (B40) on the live connection, where the bytes the app left unread
  are still "in the connection" and so go to the handshake, as they would in
  workerd (its readable pulls from the kj stream only when JS reads).

Trust, as workerd's ``network`` service with ``tlsOptions.trustedCertificates``
and no ``trustBrowserCas`` (catalogue 4.3): the run's CA only, never the
system store; certificate chain and name verified; TLS 1.2 or newer.

The name (B45, kj's ``TlsConnection::connect``): the hostname part of the
address, or ``expectedServerHostname`` (B42). An IP literal is checked against
the certificate's IP SANs and sends no SNI; a DNS name is checked against the
DNS SANs and is sent as SNI. Python's ``ssl`` does exactly this for the
``server_hostname`` it is given. Brackets around an IPv6 literal are dropped
first (the catalogue's possible ``[::1]`` quirk of B45 is not modelled).

Nothing here does I/O: ``connection.py`` moves the bytes.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
import ssl
from typing import Any

from ...core.jsshow import show
from .mutants import Quirks

#: Plaintext taken from the session per read call.
READ_SIZE = 256 * 1024


#: TLS record content types: change_cipher_spec, alert, handshake, application_data, heartbeat.
_RECORD_TYPES = frozenset(range(20, 25))


class TlsError(Exception):
    """The TLS session failed (handshake, certificate, protocol); the message says why (for logs)."""


def describe(error: ssl.SSLError) -> str:
    """An ssl error's text without the ``(_ssl.c:NNNN)`` suffix."""
    return re.sub(r"\s*\(_ssl\.c:\d+\)$", "", str(error))


def server_name(hostname: str) -> str:
    """The name to send and verify: ``[::1]`` is the IP literal ``::1``."""
    if hostname.startswith("[") and hostname.endswith("]"):
        return hostname[1:-1]
    return hostname


@functools.lru_cache(maxsize=8)
def _client_context(ca_pem: str, *, check_hostname: bool, verify: bool) -> ssl.SSLContext:
    # PROTOCOL_TLS_CLIENT loads no trust anchors by itself: the run's CA is the only one.
    # Shared by every lane of a run (never changed after this): loading the CA is 2 ms a time.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    context.load_verify_locations(cadata=ca_pem)
    return context


class TlsConfig:
    """What the adapter was launched with (the run's CA) and how its sessions are set up.

    The mutants that break TLS switch exactly one thing here; every session
    is made by ``session``, so that is where they live.
    """

    def __init__(self, ca_pem: str, quirks: Quirks) -> None:
        self._quirks = quirks
        self._verifying = _client_context(ca_pem, check_hostname=True, verify=True)
        # Chain verified, name not: for the mutants that check the name in the wrong way or not at all.
        self._chain_only = _client_context(ca_pem, check_hostname=False, verify=True)
        self._trusting_anything = _client_context(ca_pem, check_hostname=False, verify=False)

    def session(self, hostname: str, *, upgrade: bool) -> TlsSession:
        """A client session for ``hostname``: the address's (``"on"``) or startTls's (``upgrade``)."""
        name = server_name(hostname)
        quirks = self._quirks
        if upgrade and quirks.start_tls_no_verify:
            return TlsSession(self._trusting_anything, name)
        if not upgrade and quirks.tls_hostname_not_checked:
            return TlsSession(self._chain_only, name)
        if quirks.sni_not_sent:
            # Without a server_hostname Python sends no SNI and cannot check the name: check it here.
            return TlsSession(self._chain_only, None, check_name=name)
        return TlsSession(self._verifying, name)


class TlsSession:
    """One client session: bytes from the wire in (``feed``), bytes for the wire out (``output``).

    After each call that can produce records (``handshake``, ``read``,
    ``encrypt``, ``close_notify``), ``output()`` holds what must be sent.
    """

    def __init__(self, context: ssl.SSLContext, server_hostname: str | None, *, check_name: str | None = None) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._check_name = check_name
        self._setup_error: str | None = None
        try:
            self._obj: ssl.SSLObject | None = context.wrap_bio(
                self._incoming, self._outgoing, server_hostname=server_hostname
            )
        except (ValueError, UnicodeError) as error:
            # An empty name, or one IDNA cannot encode: kj fails such a name too.
            self._obj = None
            self._setup_error = f"cannot use {show(server_hostname)} as the server name: {error}"
        self.established = False
        """The handshake completed (and the certificate was accepted)."""
        self.ended = False
        """The peer's close_notify arrived: no more plaintext will come."""
        self._close_notify_sent = False
        self._fed = False

    def feed(self, data: bytes) -> None:
        if data and not self._fed:
            self._fed = True
            if data[0] not in _RECORD_TYPES and self._setup_error is None:
                # kj's TLS fails a first byte that cannot start a record at once; OpenSSL
                # would wait for a whole 5-byte header, leaving opened pending behind a
                # plaintext server that sent less and now waits for us.
                self._setup_error = f"the server's first byte {data[0]:#04x} cannot start a TLS record"
                self._obj = None
        self._incoming.write(data)

    def feed_eof(self) -> None:
        """The peer's FIN: what is still unread is all there will be."""
        self._incoming.write_eof()

    def output(self) -> bytes:
        return self._outgoing.read()

    def handshake(self) -> bool:
        """Advance the handshake with what was fed; True once it is done. Raises ``TlsError``."""
        if self._obj is None:
            raise TlsError(self._setup_error or "no TLS session")
        if self.established:
            return True
        try:
            self._obj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLError as error:  # certificate, protocol, a FIN mid-handshake (SSLEOFError)
            raise TlsError(describe(error)) from None
        if self._check_name is not None and not _certificate_names(self._obj.getpeercert(), self._check_name):
            raise TlsError(f"the certificate is not valid for {show(self._check_name)}")
        self.established = True
        return True

    def read(self) -> tuple[bytes, str | None]:
        """The plaintext that was fed, and the error if the session broke (a stream cut short
        without close_notify, a bad record). Plaintext decrypted before an error comes with it."""
        if self._obj is None or not self.established:
            return b"", None
        parts: list[bytes] = []
        error = None
        try:
            while not self.ended:
                chunk = self._obj.read(READ_SIZE)
                if not chunk:
                    self.ended = True  # read() gives b"" only for close_notify
                else:
                    parts.append(chunk)
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:
            self.ended = True
        except ssl.SSLError as failure:
            error = describe(failure)
        return b"".join(parts), error

    def encrypt(self, data: bytes | memoryview) -> bytes:
        """The records carrying ``data``. Raises ``TlsError``."""
        if self._obj is None:
            raise TlsError(self._setup_error or "no TLS session")
        view = memoryview(data)
        try:
            while view:
                written = self._obj.write(view)
                view = view[written:]
        except ssl.SSLError as error:
            raise TlsError(describe(error)) from None
        return self.output()

    def close_notify(self) -> bytes:
        """Our close_notify (once; nothing before the handshake completed). Reading goes on."""
        if self._obj is None or self._close_notify_sent or not self.established:
            return b""
        self._close_notify_sent = True
        # SSLWantReadError only says the peer's close_notify has not come yet, which is fine.
        with contextlib.suppress(ssl.SSLError):
            self._obj.unwrap()
        return self.output()


def _certificate_names(certificate: dict[str, Any] | None, name: str) -> bool:
    """Does a verified certificate's SAN list cover ``name`` (RFC 6125, one leftmost wildcard)?"""
    if not certificate:
        return False
    sans: tuple[tuple[str, str], ...] = certificate.get("subjectAltName", ())
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    for kind, value in sans:
        if ip is not None:
            if kind == "IP Address" and _same_ip(value, ip):
                return True
        elif kind == "DNS" and _dns_matches(value, name):
            return True
    return False


def _same_ip(value: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(value.strip()) == ip
    except ValueError:
        return False


def _dns_matches(pattern: str, name: str) -> bool:
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name
