"""The options of connect() (B13-B15) and the order of all synchronous checks (B11)."""

from __future__ import annotations

import math

import pytest

from conformance.adapters.reference import errors
from conformance.adapters.reference.arguments import parse_connect_arguments
from conformance.adapters.reference.errors import JSError, JSThrow
from conformance.adapters.reference.mutants import quirks_for
from conformance.core.jsvalues import JSURL, UNDEFINED, JSBigInt

ADDRESS = "localhost:80"


def error_of(address: object, options: object, mutant: str | None = None) -> tuple[str, str]:
    with pytest.raises(JSThrow) as raised:
        parse_connect_arguments(address, options, quirks_for(mutant))
    error = raised.value.value
    assert isinstance(error, JSError)
    return error.name, error.message


@pytest.mark.parametrize("value", ["off", "on", "starttls"])
def test_b13_accepted_secure_transport_values(value: str) -> None:
    assert parse_connect_arguments(ADDRESS, {"secureTransport": value}).secure_transport == value


@pytest.mark.parametrize("options", [UNDEFINED, None, {}, {"secureTransport": UNDEFINED}, [], {"sni": "x"}])
def test_b13_absent_secure_transport_means_off(options: object) -> None:
    assert parse_connect_arguments(ADDRESS, options).secure_transport == "off"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("ON", "ON"), ("tls", "tls"), (True, "true"), (None, "null"), (1, "1"), ("", ""), ({}, "[object Object]")],
)
def test_b13_other_values_throw_with_the_string_value(value: object, shown: str) -> None:
    assert error_of(ADDRESS, {"secureTransport": value}) == (
        "TypeError",
        "Unsupported value in secureTransport socket option: " + shown,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (UNDEFINED, False),
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("", False),
        ("false", True),
        ({}, True),
        (None, False),
    ],
)
def test_b14_allow_half_open_is_coerced_to_boolean(value: object, expected: bool) -> None:
    options = {} if value is UNDEFINED else {"allowHalfOpen": value}
    assert parse_connect_arguments(ADDRESS, options).allow_half_open is expected


def test_b15_negative_high_water_mark_throws() -> None:
    assert error_of(ADDRESS, {"highWaterMark": -1}) == ("TypeError", errors.HIGH_WATER_MARK_NEGATIVE)
    # A bigint has its own message (B15, corrected 2026-11-30), also for one too large for 64 bits.
    for value in (JSBigInt(-1), JSBigInt(2**64)):
        assert error_of(ADDRESS, {"highWaterMark": value}) == ("TypeError", errors.HIGH_WATER_MARK_NEGATIVE_BIGINT)
    assert parse_connect_arguments(ADDRESS, {"highWaterMark": 1024}).high_water_mark == 1024


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "lots", UNDEFINED, {}])
def test_b15_high_water_mark_that_is_nan_is_not_an_integer(value: object) -> None:
    if value is UNDEFINED:  # absent or undefined: no option at all
        assert parse_connect_arguments(ADDRESS, {"highWaterMark": value}).high_water_mark is None
        return
    assert error_of(ADDRESS, {"highWaterMark": value}) == ("TypeError", errors.HIGH_WATER_MARK_NOT_INTEGER)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), ("4096", 4096), (2.0**64 - 2048, 2.0**64 - 2048), (JSBigInt(2**64 - 1), 2.0**64), (JSBigInt(16), 16)],
)
def test_b15_high_water_mark_bounds_are_accepted(value: object, expected: float) -> None:
    assert parse_connect_arguments(ADDRESS, {"highWaterMark": value}).high_water_mark == expected


@pytest.mark.parametrize("value", [2.0**64, 2**64 - 1, 2.0**65, 1e300, "18446744073709551616"])
def test_b15_a_number_of_two_to_the_64_or_more_is_out_of_range(value: object) -> None:
    # 2**64 - 1 as a number is the double 2^64: out of range, as since workerd 1.20261119.1.
    assert error_of(ADDRESS, {"highWaterMark": value}) == ("TypeError", errors.HIGH_WATER_MARK_OUT_OF_RANGE)


@pytest.mark.parametrize("address", [UNDEFINED, None])
def test_b52_a_missing_address_throws_before_anything_else(address: object) -> None:
    # Even with options that are themselves invalid: the address argument is converted first.
    assert error_of(address, {"highWaterMark": -1}) == ("TypeError", errors.ADDRESS_REQUIRED)
    assert error_of(address, UNDEFINED, "missing-address-stringified") == ("TypeError", errors.ADDRESS_MISSING_PORT)


def test_b52_a_url_object_is_read_through_hostname_and_port() -> None:
    url = JSURL("http://127.0.0.1:8080/path?q=1")
    assert parse_connect_arguments(url).destination.address == "127.0.0.1:8080"
    assert parse_connect_arguments(url).destination.object_form
    assert parse_connect_arguments(JSURL("http://[::1]:81/")).destination.address == "[::1]:81"
    assert parse_connect_arguments(JSURL("http://127.0.0.1/")).destination.address == "127.0.0.1:0"
    # The mutant stringifies it: "http://127.0.0.1:8080/path?q=1" is no host:port.
    assert error_of(url, UNDEFINED, "url-object-stringified")[0] == "TypeError"


@pytest.mark.parametrize("options", ["on", 42, True])
def test_b52_options_that_are_not_an_object_throw(options: object) -> None:
    assert error_of(ADDRESS, options) == ("TypeError", errors.OPTIONS_NOT_OBJECT)


def test_b52_null_options_are_no_options_as_in_webidl() -> None:
    assert parse_connect_arguments(ADDRESS, None) == parse_connect_arguments(ADDRESS)


@pytest.mark.parametrize("options", ["on", 42, True])
def test_options_that_are_not_an_object_throw(options: object) -> None:
    assert error_of(ADDRESS, options) == ("TypeError", errors.OPTIONS_NOT_OBJECT)


def test_b11_secure_transport_is_checked_after_the_address() -> None:
    assert error_of("no-port", {"secureTransport": "bogus"}) == ("TypeError", errors.ADDRESS_MISSING_PORT)


def test_mutant_validation_order_swapped() -> None:
    assert error_of("no-port", {"secureTransport": "bogus"}, "validation-order-swapped") == (
        "TypeError",
        "Unsupported value in secureTransport socket option: bogus",
    )


def test_mutant_secure_transport_not_validated() -> None:
    quirks = quirks_for("secure-transport-not-validated")
    assert parse_connect_arguments(ADDRESS, {"secureTransport": "tls"}, quirks).secure_transport == "off"


def test_mutants_of_allow_half_open() -> None:
    ignored = quirks_for("allow-half-open-ignored")
    assert parse_connect_arguments(ADDRESS, {"allowHalfOpen": True}, ignored).allow_half_open is False
    default_true = quirks_for("default-allow-half-open-true")
    assert parse_connect_arguments(ADDRESS, UNDEFINED, default_true).allow_half_open is True
    assert parse_connect_arguments(ADDRESS, {"allowHalfOpen": False}, default_true).allow_half_open is False
