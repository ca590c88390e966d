"""Matchers of spec/README.md: each returns None on a match, or says how the value differs."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from conformance.engine.matching import match, match_error

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(alphabet="abc", max_size=3), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_every_value_matches_itself(value: Any) -> None:
    assert match(value, value) is None


scalars = st.none() | st.booleans() | st.integers() | st.text()


@given(scalars, scalars)
def test_scalars_match_only_when_equal_and_of_the_same_type(a: Any, b: Any) -> None:
    same = a == b and type(a) is type(b)
    assert (match(a, b) is None) == same


def test_booleans_are_not_numbers() -> None:
    assert match(1, True) is not None
    assert match(True, 1) is not None
    assert match(80, 80.0) is None


def test_objects_match_by_the_keys_listed() -> None:
    assert match({"remoteAddress": "a:1"}, {"remoteAddress": "a:1", "extra": 2}) is None
    assert match({"localAddress": {"$absent": True}}, {"remoteAddress": "a:1"}) is None
    assert match({"localAddress": {"$absent": True}}, {"localAddress": {"$type": "undefined"}}) is None
    problem = match({"localAddress": {"$absent": True}}, {"localAddress": "127.0.0.1:5"})
    assert problem == 'value.localAddress: expected no such property (undefined), got "127.0.0.1:5"'
    assert match({"a": 1}, {}) == "value.a: expected 1, got undefined"
    assert match({"odd-key": True}, {"odd-key": False}) == 'value["odd-key"]: expected true, got false'
    assert match({"a": 1}, None) == "expected {a: 1}, got null"


def test_regex_prefix_and_type_matchers() -> None:
    message = "proxy request failed, cannot connect to the specified address"
    assert match({"$regex": "^proxy request failed"}, message) is None
    assert match({"$prefix": "proxy"}, message) is None
    assert match({"$regex": "^cannot"}, message) is not None
    assert match({"$prefix": "x"}, 3) == 'expected a string starting with "x", got 3'
    assert match({"$regex": "^cannot"}, message) == f'expected a string matching /^cannot/, got "{message}"'
    assert match({"$type": "undefined"}, None) == "expected undefined, got null"
    assert match({"$type": "undefined"}, {"$type": "undefined"}) is None
    assert match({"$type": "undefined"}, None) is not None


def test_errors_match_name_and_message() -> None:
    error = {"name": "TypeError", "message": "Specified address is missing port."}
    assert match_error({"name": "TypeError"}, error) is None
    assert match_error({"name": "Error"}, error, "threw") == (
        'threw {name: "TypeError", message: "Specified address is missing port."}, expected an Error'
    )
    assert match_error({"name": "TypeError", "message": "Other."}, error) == (
        'error.message: expected "Other.", got "Specified address is missing port."'
    )
    assert (
        match_error({"value": {"$type": "undefined"}}, {"name": None, "message": None, "value": {"$type": "undefined"}})
        is None
    )
    assert match_error("any", None) is None


def test_a_value_that_is_not_an_error_is_reported_as_that_value() -> None:
    undefined = {"name": None, "message": None, "value": {"$type": "undefined"}}
    assert match_error({"name": "TypeError"}, undefined, "rejected with") == (
        "rejected with undefined, expected a TypeError"
    )
    assert match_error({"name": "TypeError", "message": {"$regex": "^x"}}, undefined, "threw") == (
        "threw undefined, expected a TypeError with a message matching /^x/"
    )
    error = {"name": "Error", "message": "boom"}
    assert match_error({"value": {"$type": "undefined"}}, error, "rejected with") == (
        'rejected with {name: "Error", message: "boom"}, expected undefined'
    )


def test_an_empty_error_expectation_matches_any_thrown_value() -> None:
    # {} is a valid ERR (spec/README.md): nothing is checked, so nothing may fail.
    assert match_error({}, {"name": "Error", "message": "boom"}) is None
    assert match_error({}, {"name": None, "message": None, "value": 1}) is None
