"""Validating the ``address`` argument of ``connect()`` (behaviours B4-B10). Pure: no I/O.

Theory of operation. Workerd accepts two forms:

* a string, which it parses with the WHATWG URL parser as ``"fake://" + address``
  (B4-B6), then checks with ``isValidHost`` as a whole (B7). ``fake:`` is not a
  special scheme, so the host is an *opaque host* (any code point except the
  forbidden host code points), a bracketed host must be a valid IPv6 address,
  the port is ASCII digits up to 65535, and there is no default port;
* an object ``{hostname, port}``, which skips the URL parser (B9): ``hostname``
  goes through ToString, ``port`` through JSG's uint16 conversion (B10), and
  ``isValidHost`` checks `${hostname}:${port}`.

Both end as one address string, which is what the network layer dials and what
``opened`` reports as ``remoteAddress`` (B17).

Only the parts of the URL parser that can change the outcome for this input
are modelled: input trimming, the authority, host and port states, the opaque
host parser and the IPv6 parser. Paths, queries and fragments only need to be
*accepted*; ``isValidHost`` rejects them afterwards.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...core.jsvalues import JSURL, JSBytes
from . import errors
from .coerce import to_js_string, to_number
from .errors import type_error
from .mutants import Quirks

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._[]:")
_MAX_HOST_LENGTH = 255
#: WHATWG "forbidden host code points"; an opaque host may contain none of them.
_FORBIDDEN_HOST = frozenset("\x00\t\n\r #/:<>?@[\\]^|")
_END_OF_AUTHORITY = frozenset("/?#")
_HEX = frozenset("0123456789abcdefABCDEF")


class _Failure(Exception):
    """The URL parser returned failure."""


@dataclass(frozen=True)
class ParsedURL:
    """What B5/B6 look at: the URL's hostname (``[...]`` for IPv6) and port (None: absent)."""

    hostname: str
    port: int | None


@dataclass(frozen=True)
class Destination:
    """A validated address: the string the network layer dials and ``opened`` reports."""

    address: str
    #: Given as a SocketAddress object (B9), not as a string.
    object_form: bool = False


def is_valid_host(text: str, quirks: Quirks | None = None) -> bool:
    """Workerd's ``isValidHost`` (B7): 1 to 255 characters from ``[A-Za-z0-9-._[]:]``, the ":port" included."""
    measured = text.rpartition(":")[0] if quirks is not None and quirks.host_length_excludes_port else text
    return 0 < len(measured) <= _MAX_HOST_LENGTH and all(char in _HOST_CHARS for char in text)


def parse_fake_url(address: str) -> ParsedURL | None:
    """Parse ``"fake://" + address`` as the WHATWG URL parser does; None means failure."""
    # Basic URL parser, step 1-3: trim C0 controls and spaces, drop tabs and newlines.
    text = ("fake://" + address).strip("".join(map(chr, range(0x21))))
    text = text.replace("\t", "").replace("\n", "").replace("\r", "")
    try:
        return _parse_authority(text[len("fake://") :])
    except _Failure:
        return None


def _parse_authority(rest: str) -> ParsedURL:
    # Authority state: the userinfo ends at the last "@" before "/", "?" or "#".
    end = next((i for i, char in enumerate(rest) if char in _END_OF_AUTHORITY), len(rest))
    authority = rest[:end]
    at = authority.rfind("@")
    if at >= 0:
        authority = authority[at + 1 :]
        if not authority:
            raise _Failure  # "host-missing" after credentials
    host_text, port_text = _split_host_port(authority)
    hostname = _parse_host(host_text)
    if port_text is None:
        return ParsedURL(hostname, None)
    return ParsedURL(hostname, _parse_port(port_text))


def _split_host_port(authority: str) -> tuple[str, str | None]:
    # Host state: the first ":" outside brackets ends the host.
    inside_brackets = False
    for index, char in enumerate(authority):
        if char == "[":
            inside_brackets = True
        elif char == "]":
            inside_brackets = False
        elif char == ":" and not inside_brackets:
            if index == 0:
                raise _Failure  # "host-missing": ":80", "::1:80"
            return authority[:index], authority[index + 1 :]
    return authority, None


def _parse_port(text: str) -> int | None:
    # Port state: digits only; empty means no port; no default port for "fake:".
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise _Failure
    port = int(text)
    if port > 65535:
        raise _Failure
    return port


def _parse_host(text: str) -> str:
    if text.startswith("["):
        if not text.endswith("]") or not is_ipv6(text[1:-1]):
            raise _Failure
        return text
    # Opaque-host parser: forbidden code points fail; anything else is kept
    # (percent-encoded, which does not matter here: B7 rejects it afterwards).
    if any(char in _FORBIDDEN_HOST for char in text):
        raise _Failure
    return text


def is_ipv6(text: str) -> bool:
    """The WHATWG IPv6 parser's verdict on the text between the brackets."""
    pieces = [0] * 8
    piece = 0
    compress: int | None = None
    i = 0
    n = len(text)
    if text.startswith(":"):
        if not text.startswith("::"):
            return False
        i = 2
        piece = 1
        compress = 1
    while i < n:
        if piece == 8:
            return False
        if text[i] == ":":
            if compress is not None:
                return False
            i += 1
            piece += 1
            compress = piece
            continue
        value = length = 0
        while length < 4 and i < n and text[i] in _HEX:
            value = value * 16 + int(text[i], 16)
            i += 1
            length += 1
        if i < n and text[i] == ".":
            if length == 0 or piece > 6:
                return False
            i -= length
            return _ipv4_tail(text[i:], 8 - piece, compress)
        if i < n and text[i] == ":":
            i += 1
            if i == n:
                return False
        elif i < n:
            return False
        pieces[piece] = value
        piece += 1
    return compress is not None or piece == 8


def _ipv4_tail(text: str, free_pieces: int, compress: int | None) -> bool:
    # An embedded dotted quad: exactly four decimal numbers 0-255, no leading zeros.
    parts = text.split(".")
    if len(parts) != 4 or free_pieces < 2:
        return False
    for part in parts:
        if not part or not (part.isascii() and part.isdigit()):
            return False
        if len(part) > 1 and part[0] == "0":
            return False
        if int(part) > 255:
            return False
    return compress is not None or free_pieces == 2


def validate_string_address(address: str, quirks: Quirks) -> Destination:
    """B4-B7 for the string form, in workerd's order."""
    parsed = parse_fake_url(address)
    if parsed is None:
        raise type_error(errors.ADDRESS_UNPARSEABLE)
    if not parsed.hostname:
        raise type_error(errors.ADDRESS_MISSING_HOSTNAME)
    dialled = address
    if parsed.port is None:
        if not quirks.missing_port_defaults_443:
            raise type_error(errors.ADDRESS_MISSING_PORT)
        dialled = f"{parsed.hostname}:443"
    if not quirks.host_check_skipped and not is_valid_host(address, quirks):
        raise type_error(errors.ADDRESS_INVALID_HOST)
    return Destination(dialled)


def convert_port(value: Any, quirks: Quirks) -> int:
    """JSG's uint16 conversion of ``port`` (B10): ToNumber, range checks, truncation."""
    number = to_number(value)
    if math.isnan(number) or (math.isinf(number) and not quirks.infinite_port_out_of_range):
        raise type_error(errors.PORT_NOT_INTEGER)
    if number < 0:
        raise type_error(errors.PORT_NEGATIVE)
    if number > 65535 or (quirks.port_65535_rejected and number >= 65535):
        if not quirks.invalid_port_accepted:
            raise type_error(errors.PORT_TOO_LARGE)
        if math.isinf(number):
            return 0
        return int(number) % 65536  # what a C cast to uint16_t would do
    return int(number)


def convert_object_address(address: Any, quirks: Quirks) -> tuple[str, int]:
    """Argument conversion of the object form: (ToString(hostname), uint16(port))."""
    fields: dict[str, Any] = address if isinstance(address, dict) else {}
    if isinstance(address, JSURL):  # read through its hostname and port properties (B52)
        fields = {"hostname": address.hostname, "port": address.port}
    hostname = to_js_string(fields["hostname"]) if "hostname" in fields else "undefined"
    port = convert_port(fields.get("port", math.nan), quirks)
    return hostname, port


def validate_object_address(hostname: str, port: int, quirks: Quirks) -> Destination:
    """B9: no URL parsing, only ``isValidHost`` on `${hostname}:${port}`."""
    address = f"{hostname}:{port}"
    if not quirks.host_check_skipped and not is_valid_host(address, quirks):
        raise type_error(errors.ADDRESS_INVALID_HOST)
    return Destination(address, object_form=True)


def is_object_form(address: Any, quirks: Quirks) -> bool:
    """Objects (and arrays, and byte views) unwrap as SocketAddress; the rest as strings."""
    if isinstance(address, JSURL):
        return not quirks.url_object_stringified
    return isinstance(address, dict | list | JSBytes)
