"""The step-action table is the one source of truth: the schema, the protocol and the docs agree with it."""

from __future__ import annotations

import re

import pytest

from conformance import schema
from conformance.core.model import MODIFIERS
from conformance.engine.actions import ACTIONS, Kind
from conformance.engine.judging import CLIENT_EXPECTATIONS
from conformance.protocol import messages
from tests.helpers import REPO

CASE_SCHEMA = schema.load("case.schema.json")


def test_the_table_and_the_schema_name_the_same_actions() -> None:
    in_schema = set(CASE_SCHEMA["$defs"]["actions"])
    in_table = set(ACTIONS)
    assert in_table - in_schema == set(), "actions with no argument schema in $defs.actions"
    assert in_schema - in_table == set(), "$defs.actions entries the table does not know"


def test_the_modifiers_and_the_schema_agree() -> None:
    assert set(MODIFIERS) == set(CASE_SCHEMA["$defs"]["modifiers"])


def test_every_expectation_kind_of_the_table_exists_in_the_schema() -> None:
    kinds = set(CASE_SCHEMA["$defs"]["expect"]["properties"])
    for spec in ACTIONS.values():
        assert spec.expects <= kinds, (spec.name, spec.expects - kinds)
    assert set(CLIENT_EXPECTATIONS) <= kinds


@pytest.mark.parametrize("name", [name for name, spec in ACTIONS.items() if spec.kind is Kind.CLIENT])
def test_every_client_action_is_an_op_of_the_protocol(name: str) -> None:
    assert name in messages.ops()


@pytest.mark.parametrize("name", [name for name, spec in ACTIONS.items() if spec.kind is Kind.PEER])
def test_every_peer_action_has_a_judge(name: str) -> None:
    assert ACTIONS[name].judge is not None


def test_client_actions_say_what_they_expect_by_default() -> None:
    for spec in ACTIONS.values():
        if spec.kind is Kind.CLIENT:
            assert spec.default_expect is not None, spec.name
            ((kind, _),) = spec.default_expect.items()
            assert kind in spec.expects, spec.name


def test_every_action_is_documented_in_the_case_format() -> None:
    text = (REPO / "spec" / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", text, flags=re.MULTILINE))
    assert set(ACTIONS) <= documented, set(ACTIONS) - documented


def test_every_client_op_is_documented_in_the_protocol() -> None:
    text = (REPO / "docs" / "adapter-protocol.md").read_text(encoding="utf-8")
    for name, spec in ACTIONS.items():
        if spec.kind is Kind.CLIENT:
            assert f"| `{name}` |" in text, name
