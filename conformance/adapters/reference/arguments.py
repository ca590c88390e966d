"""Turning ``connect(address, options)`` arguments into a validated request (B4-B15),
and ``startTls(options)``'s argument (B42).

The order of the checks is observable (B11): a call with both a bad address
and a bad ``secureTransport`` reports the address. In workerd the work happens
in two phases, and the reference keeps them:

1. JSG *argument conversion*, before ``connectImpl`` runs: the object form's
   ``hostname`` (ToString) and ``port`` (uint16, B10), then the options
   dictionary (``secureTransport`` ToString, ``allowHalfOpen`` ToBoolean,
   ``highWaterMark`` B15);
2. ``connectImpl`` itself: the string form's URL parse (B4-B6), ``isValidHost``
   (B7, B9), then the ``secureTransport`` value (B13).

``connectImpl`` begins by asking for the current request, so at module evaluation
(``global_scope``) the global-scope Error comes between the two phases (B1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from ...core.jsvalues import UNDEFINED, JSBigInt
from . import errors
from .address import (
    Destination,
    convert_object_address,
    is_object_form,
    validate_object_address,
    validate_string_address,
)
from .coerce import to_boolean, to_js_string, to_number
from .errors import JSError, JSThrow, type_error
from .mutants import FAITHFUL, Quirks

SecureTransport = Literal["off", "on", "starttls"]
SECURE_TRANSPORTS: tuple[SecureTransport, ...] = ("off", "on", "starttls")


@dataclass(frozen=True)
class ConnectRequest:
    """A ``connect()`` call that passed every synchronous check."""

    destination: Destination
    secure_transport: SecureTransport
    allow_half_open: bool
    high_water_mark: float | None = None


@dataclass(frozen=True)
class _ConvertedOptions:
    secure_transport: str | None  # ToString'd, not yet checked (B13 runs later)
    allow_half_open: bool
    high_water_mark: float | None


def parse_connect_arguments(
    address: Any, options: Any = UNDEFINED, quirks: Quirks = FAITHFUL, *, global_scope: bool = False
) -> ConnectRequest:
    """Validate like workerd's ``connect()``; raises ``JSThrow`` with the TypeError it throws
    (with ``global_scope``, the global-scope Error once the arguments are converted)."""
    if (address is UNDEFINED or address is None) and not quirks.missing_address_stringified:
        raise type_error(errors.ADDRESS_REQUIRED)  # B52: connect(), connect(undefined), connect(null)
    object_address = convert_object_address(address, quirks) if is_object_form(address, quirks) else None
    converted = _convert_options(options, quirks)
    late_scope_check = quirks.global_scope_checked_after_arguments
    if global_scope and not late_scope_check:
        raise JSThrow(JSError("Error", errors.GLOBAL_SCOPE))
    if quirks.validation_order_swapped:
        secure_transport = _parse_secure_transport(converted.secure_transport, quirks)
        destination = _validate_address(address, object_address, quirks)
    else:
        destination = _validate_address(address, object_address, quirks)
        secure_transport = _parse_secure_transport(converted.secure_transport, quirks)
    if global_scope and late_scope_check:
        raise JSThrow(JSError("Error", errors.GLOBAL_SCOPE))
    return ConnectRequest(
        destination=destination,
        secure_transport=secure_transport,
        allow_half_open=converted.allow_half_open,
        high_water_mark=converted.high_water_mark,
    )


def _validate_address(address: Any, object_address: tuple[str, int] | None, quirks: Quirks) -> Destination:
    if object_address is not None:
        hostname, port = object_address
        return validate_object_address(hostname, port, quirks)
    return validate_string_address(to_js_string(address), quirks)


def _convert_options(options: Any, quirks: Quirks) -> _ConvertedOptions:
    # A WebIDL-style dictionary: undefined and null mean "no options".
    if options is UNDEFINED or options is None:
        fields: dict[str, Any] = {}
    elif isinstance(options, dict):
        fields = options
    elif is_object_form(options, quirks):
        fields = {}  # arrays and byte views are objects without these properties
    else:
        raise type_error(errors.OPTIONS_NOT_OBJECT)
    raw_secure = fields.get("secureTransport", UNDEFINED)
    secure = None if raw_secure is UNDEFINED else to_js_string(raw_secure)
    raw_half_open = fields.get("allowHalfOpen", UNDEFINED)
    allow_half_open = quirks.default_allow_half_open_true if raw_half_open is UNDEFINED else to_boolean(raw_half_open)
    if quirks.allow_half_open_ignored:
        allow_half_open = False
    return _ConvertedOptions(secure, allow_half_open, _convert_high_water_mark(fields, quirks))


def _convert_high_water_mark(fields: dict[str, Any], quirks: Quirks) -> float | None:
    raw = fields.get("highWaterMark", UNDEFINED)
    if raw is UNDEFINED:
        return None
    if isinstance(raw, JSBigInt):
        if raw.value < 0 or raw.value >= 2**64:
            raise type_error(errors.HIGH_WATER_MARK_NEGATIVE_BIGINT)
        return float(raw.value)
    value = to_number(raw)
    if not math.isfinite(value):
        raise type_error(errors.HIGH_WATER_MARK_NOT_INTEGER)
    if value < 0:
        raise type_error(errors.HIGH_WATER_MARK_NEGATIVE)
    if value > 2.0**64 or (value == 2.0**64 and not quirks.high_water_mark_range_inclusive):
        # 2^64 itself too: UINT64_MAX is no double, it rounds up to 2^64 (B15).
        raise type_error(errors.HIGH_WATER_MARK_OUT_OF_RANGE)
    return value


def _parse_secure_transport(value: str | None, quirks: Quirks) -> SecureTransport:
    """B13: "off" when absent; "off", "on", "starttls" exactly; anything else throws."""
    if value is None:
        return "off"
    if value in SECURE_TRANSPORTS:
        return value
    if quirks.secure_transport_not_validated:
        return "off"
    raise type_error(errors.UNSUPPORTED_SECURE_TRANSPORT + value)


def parse_tls_options(options: Any) -> str | None:
    """``startTls(options)``'s argument (JSG ``TlsOptions``): the ``expectedServerHostname``, if any.

    Converted before the method runs, so a bad argument throws before B39's checks.
    """
    if options is UNDEFINED or options is None:
        return None
    if isinstance(options, dict):
        raw = options.get("expectedServerHostname", UNDEFINED)
        return None if raw is UNDEFINED else to_js_string(raw)
    if is_object_form(options, FAITHFUL):
        return None  # arrays and byte views are objects without the property
    raise type_error(errors.STARTTLS_OPTIONS_NOT_OBJECT)
