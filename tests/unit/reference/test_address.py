"""Address validation of connect() (B4-B11): every example row of the catalogue, and properties."""

from __future__ import annotations

import math
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from conformance.adapters.reference import errors
from conformance.adapters.reference.address import is_ipv6, is_valid_host, parse_fake_url
from conformance.adapters.reference.arguments import ConnectRequest, parse_connect_arguments
from conformance.adapters.reference.errors import JSError, JSThrow
from conformance.adapters.reference.mutants import quirks_for
from conformance.core.jsvalues import UNDEFINED, JSBigInt

ALLOWED = string.ascii_letters + string.digits + "-._[]:"


def thrown(address: object, options: object = UNDEFINED) -> tuple[str, str]:
    """(name, message) of what connect(address, options) throws; fails if it does not throw."""
    with pytest.raises(JSThrow) as raised:
        parse_connect_arguments(address, options)
    error = raised.value.value
    assert isinstance(error, JSError)
    return error.name, error.message


def dialled(address: object, options: object = UNDEFINED) -> str:
    return parse_connect_arguments(address, options).destination.address


@pytest.mark.parametrize(
    "address",
    ["localhost:99999", "host:abc", "host:-1", ":80", "::1:80", "[::1:80", "exa mple.com:80"],
)
def test_b4_unparseable_addresses(address: str) -> None:
    assert thrown(address) == ("TypeError", errors.ADDRESS_UNPARSEABLE)


@pytest.mark.parametrize(
    "address",
    ["[1.2.3.4]:80", "[::1]x:80", "[:::1]:80", "[1::2::3]:80", "user@:80", "@", "h:8 0", "h:+80", "[]:1"],
)
def test_b4_more_url_parser_failures(address: str) -> None:
    assert thrown(address) == ("TypeError", errors.ADDRESS_UNPARSEABLE)


def test_b5_empty_string_is_missing_hostname() -> None:
    assert thrown("") == ("TypeError", errors.ADDRESS_MISSING_HOSTNAME)


@pytest.mark.parametrize("address", ["/path", "?q", "#f"])
def test_b5_an_empty_opaque_host_is_missing_hostname(address: str) -> None:
    assert thrown(address) == ("TypeError", errors.ADDRESS_MISSING_HOSTNAME)


@pytest.mark.parametrize("address", ["example.com", "example.com:", "[::1]"])
def test_b6_missing_port(address: str) -> None:
    assert thrown(address) == ("TypeError", errors.ADDRESS_MISSING_PORT)


@pytest.mark.parametrize(
    "address",
    [
        "example.com:80/path",
        "user:pw@example.com:80",
        "exämple.com:80",
        "a" * 250 + ".com:80",
        "example.com:80?x",
        "example.com:80 ",  # the URL parser trims it; isValidHost sees the space
        "exa\tmple.com:80",  # the URL parser drops tabs; isValidHost does not
        "ex%41mple.com:80",
    ],
)
def test_b7_parses_as_url_but_fails_is_valid_host(address: str) -> None:
    assert parse_fake_url(address) is not None
    assert thrown(address) == ("TypeError", errors.ADDRESS_INVALID_HOST)


def test_b7_checks_run_after_b4_to_b6() -> None:
    assert thrown("exa mple.com") == ("TypeError", errors.ADDRESS_UNPARSEABLE)
    assert thrown("exämple.com") == ("TypeError", errors.ADDRESS_MISSING_PORT)


def test_b7_length_limit_is_255_characters() -> None:
    host = "a" * (255 - len(":80"))
    assert dialled(f"{host}:80") == f"{host}:80"
    assert thrown(f"a{host}:80") == ("TypeError", errors.ADDRESS_INVALID_HOST)


@pytest.mark.parametrize("address", ["[::1]:8080", "[2001:db8::1]:443", "[::ffff:127.0.0.1]:80"])
def test_b8_bracketed_ipv6_is_accepted_and_passed_as_is(address: str) -> None:
    assert dialled(address) == address


@pytest.mark.parametrize(
    "address",
    ["localhost:80", "127.0.0.1:1", "example.com:443", "a_b-c.d:65535", "localhost:0", "h:080"],
)
def test_valid_string_addresses_are_dialled_as_given(address: str) -> None:
    assert dialled(address) == address


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ({"hostname": "", "port": 80}, ":80"),
        ({"hostname": "::1", "port": 80}, "::1:80"),
        ({"hostname": "[::1]", "port": 80}, "[::1]:80"),
        ({"port": 80}, "undefined:80"),
        ({"hostname": "example.com", "port": 80.9}, "example.com:80"),
        ({"hostname": "example.com", "port": "80"}, "example.com:80"),
        ({"hostname": "example.com", "port": 0}, "example.com:0"),
        ({"hostname": 127, "port": 1}, "127:1"),
        ({"hostname": "h", "port": True}, "h:1"),
        ({"hostname": "h", "port": None}, "h:0"),
        ({"hostname": "h", "port": -0.0}, "h:0"),
    ],
)
def test_b9_object_form_skips_the_url_parser(address: object, expected: str) -> None:
    assert dialled(address) == expected


def test_b9_object_form_still_runs_is_valid_host() -> None:
    assert thrown({"hostname": "a b", "port": 1}) == ("TypeError", errors.ADDRESS_INVALID_HOST)


@pytest.mark.parametrize(
    ("port", "message"),
    [
        (70000, errors.PORT_TOO_LARGE),
        (65536, errors.PORT_TOO_LARGE),
        # Not finite is "not an integer", as workerd 1.20261117.1 says (B10, corrected 2026-11-30).
        (math.inf, errors.PORT_NOT_INTEGER),
        (-math.inf, errors.PORT_NOT_INTEGER),
        (-1, errors.PORT_NEGATIVE),
        (-0.5, errors.PORT_NEGATIVE),
        (math.nan, errors.PORT_NOT_INTEGER),
        ("abc", errors.PORT_NOT_INTEGER),
        (UNDEFINED, errors.PORT_NOT_INTEGER),
        ({}, errors.PORT_NOT_INTEGER),
        (JSBigInt(80), errors.BIGINT_TO_NUMBER),
    ],
)
def test_b10_port_conversion(port: object, message: str) -> None:
    assert thrown({"hostname": "h", "port": port}) == ("TypeError", message)


def test_b10_missing_port_is_not_an_integer() -> None:
    assert thrown({"hostname": "h"}) == ("TypeError", errors.PORT_NOT_INTEGER)


def test_b10_port_conversion_comes_before_options() -> None:
    # JSG converts arguments in order: the address (with its port) before the options.
    assert thrown({"hostname": "h", "port": -1}, "not options") == ("TypeError", errors.PORT_NEGATIVE)


def test_b11_address_errors_win_over_secure_transport_errors() -> None:
    assert thrown("nope", {"secureTransport": "tls"}) == ("TypeError", errors.ADDRESS_MISSING_PORT)
    assert thrown({"hostname": "a b", "port": 1}, {"secureTransport": "tls"}) == (
        "TypeError",
        errors.ADDRESS_INVALID_HOST,
    )


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("::", True),
        ("::1", True),
        ("1:2:3:4:5:6:7:8", True),
        ("1:2:3:4:5:6:7::", True),
        ("::ffff:1.2.3.4", True),
        ("1:2:3:4:5:6:1.2.3.4", True),
        ("fe80::1ff:fe23:4567:890a", True),
        ("", False),
        (":1", False),
        ("1:", False),
        (":::", False),
        ("1:2:3:4:5:6:7:8:9", False),
        ("1:2:3:4:5:6:7", False),
        ("12345::", False),
        ("::1.2.3", False),
        ("::1.2.3.04", False),
        ("::1.2.3.256", False),
        ("1:2:3:4:5:6:7:1.2.3.4", False),
        ("::1%eth0", False),
        ("g::", False),
    ],
)
def test_whatwg_ipv6_parser(text: str, valid: bool) -> None:
    assert is_ipv6(text) is valid


# -- properties -------------------------------------------------------------------------------

hostnames = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}", fullmatch=True)
ports = st.integers(min_value=0, max_value=65535)


@given(hostnames, ports)
def test_valid_host_and_port_round_trip(host: str, port: int) -> None:
    address = f"{host}:{port}"
    assert dialled(address) == address
    assert dialled({"hostname": host, "port": port}) == address
    assert dialled({"hostname": host, "port": str(port)}) == address


@given(st.text(min_size=1, max_size=40), st.sampled_from(list(set(map(chr, range(0x80))) - set(ALLOWED))))
def test_a_string_with_a_character_outside_the_allowed_set_never_connects(text: str, bad: str) -> None:
    for address in (text + bad, bad + text, f"{text}{bad}:80"):
        with pytest.raises(JSThrow):
            parse_connect_arguments(address)


@given(st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1, max_size=5), hostnames)
def test_non_ascii_never_connects(extra: str, host: str) -> None:
    with pytest.raises(JSThrow):
        parse_connect_arguments(f"{host}{extra}:80")


def outcome(address: object) -> ConnectRequest | JSError:
    """What connect(address) does: the validated request, or the Error it throws."""
    try:
        return parse_connect_arguments(address)
    except JSThrow as raised:
        error = raised.value
    assert isinstance(error, JSError)
    return error


@given(st.text(max_size=300))
def test_any_accepted_string_passes_is_valid_host_and_has_a_port(address: str) -> None:
    request = outcome(address)
    if isinstance(request, JSError):
        assert request.name == "TypeError"
        return
    assert is_valid_host(address)
    parsed = parse_fake_url(address)
    assert parsed is not None
    assert parsed.port is not None
    assert request.destination.address == address


@given(st.text(alphabet=ALLOWED, min_size=1, max_size=60))
def test_strings_of_allowed_characters_fail_only_in_the_url_parser(address: str) -> None:
    assume(len(address) <= 255)
    result = outcome(address)
    if isinstance(result, JSError):
        assert result.message != errors.ADDRESS_INVALID_HOST


# -- mutants of this area ------------------------------------------------------------------------


def test_mutant_missing_port_defaults_443() -> None:
    request = parse_connect_arguments("localhost", quirks=quirks_for("missing-port-defaults-443"))
    assert request.destination.address == "localhost:443"


def test_mutant_invalid_port_accepted_wraps_like_uint16() -> None:
    quirks = quirks_for("invalid-port-accepted")
    request = parse_connect_arguments({"hostname": "h", "port": 70000}, quirks=quirks)
    assert request.destination.address == "h:4464"


def test_mutant_host_check_skipped() -> None:
    quirks = quirks_for("host-check-skipped")
    request = parse_connect_arguments("example.com:80/path", quirks=quirks)
    assert request.destination.address == "example.com:80/path"
