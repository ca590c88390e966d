"""Spec loading and validation: every problem names file:line, the field and what was expected."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conformance.cases import loader

GOOD = """\
- id: lifecycle.example
  title: An example case
  level: must
  source: [B16]
  steps:
    - connect: {address: "${peer.address}"}
    - await: opened
"""


def write(tmp_path: Path, text: str, area: str = "lifecycle", name: str = "cases.yaml") -> Path:
    folder = tmp_path / "spec" / area
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, area: str = "lifecycle") -> list[str]:
    write(tmp_path, text, area)
    cases, errors = loader.load([tmp_path / "spec"])
    assert not cases or errors == [], "the broken case must not load"
    return [str(error) for error in errors]


def test_a_good_case_loads_with_its_location(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    cases, errors = loader.load([tmp_path / "spec"])
    assert errors == []
    (case,) = cases
    assert case.id == "lifecycle.example"
    assert case.location == f"{path}:1"
    assert [step.action for step in case.steps] == ["connect", "await"]
    assert case.steps[1].line == 7


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        pytest.param("- id: lifecycle.x\n  title: [unclosed\n", 3, "invalid YAML", id="bad-yaml"),
        pytest.param(
            GOOD.replace("- await: opened", "- wait_for: opened"),
            7,
            'unknown step "wait_for": expected one of connect',
            id="unknown-step",
        ),
        pytest.param(
            GOOD.replace("  level: must", "  level: must\n  priority: 3"),
            4,
            'unknown field "priority"',
            id="unknown-case-field",
        ),
        pytest.param(
            GOOD.replace("- await: opened", "- await: opened\n      wthin: 2s"),
            8,
            'unknown field "wthin"',
            id="unknown-step-field",
        ),
        pytest.param(
            GOOD.replace("source: [B16]", "source: B16"), 4, "source: expected array, got string", id="wrong-type"
        ),
        pytest.param(GOOD.replace("  source: [B16]\n", ""), 1, '"source" is required', id="missing-source"),
        pytest.param(
            GOOD.replace(
                "- await: opened", "- await: opened\n      expect: {rejects: {message: {$regex: '(unclosed'}}}"
            ),
            8,
            'bad regex "(unclosed"',
            id="bad-regex",
        ),
        pytest.param(
            GOOD.replace("  level: must", "  level: must\n  requires: [quic]"),
            4,
            'expected one of "ipv6", "tls"',
            id="unknown-capability",
        ),
        pytest.param(
            GOOD.replace("level: must", "level: mandatory"),
            3,
            'expected one of "must", "should", "info", got "mandatory"',
            id="bad-level",
        ),
        pytest.param(
            GOOD.replace("source: [B16]", "source: [B99]"),
            4,
            '"B99": no behaviour B99 in the catalogue',
            id="unknown-behaviour",
        ),
        pytest.param(
            GOOD.replace("source: [B16]", "source: [somewhere]"), 4, "neither a behaviour id", id="bad-source-form"
        ),
        pytest.param(
            GOOD.replace("${peer.address}", "${peer.adress}"),
            6,
            "unknown variable ${peer.adress}",
            id="unknown-variable",
        ),
        pytest.param(
            GOOD.replace("- await: opened", "- join: writer"),
            7,
            "no earlier step has background: writer",
            id="join-without-background",
        ),
        pytest.param(
            GOOD.replace("id: lifecycle.example", "id: address.example"),
            1,
            'the area of "address.example" is "address"',
            id="area-mismatch",
        ),
        pytest.param(
            GOOD.replace("  level: must\n", "  level: must\n  level: info\n"), 4, "duplicate key", id="duplicate-key"
        ),
        pytest.param(
            GOOD.replace("- await: opened", "- read_bytes: {n: lots}"),
            7,
            "expected a size (512, 64KiB, 16MiB) or null",
            id="bad-size",
        ),
        pytest.param(
            GOOD.replace(
                "- await: opened", "- peer.accept: {}\n      as: first\n    - peer.send: hi\n      conn: second"
            ),
            9,
            'steps.2.conn: no earlier peer.accept names a connection "second"',
            id="unknown-conn",
        ),
        pytest.param(
            GOOD.replace("- await: opened", "- peer.accept: {}\n      as: first\n    - write: hi\n      conn: first"),
            9,
            "conn names a peer connection; write does not act on one",
            id="conn-on-a-client-step",
        ),
        pytest.param(
            GOOD.replace('{address: "${peer.address}"}', "{options: {allowHalfOpen: true}}"),
            6,
            "'address' is a dependency of 'options'",
            id="options-without-address",
        ),
        pytest.param(
            GOOD.replace("- await: opened", "- same: [close(), upgraded]"),
            7,
            'expected one of "opened", "closed", "close()"',
            id="same-unknown-expression",
        ),
        pytest.param(
            GOOD.replace("- await: opened", "- await: opened\n      request: b"),
            7,
            "request: b needs `requires: [request-scope]`",
            id="request-without-capability",
        ),
        pytest.param(
            GOOD.replace("  level: must", "  level: must\n  requires: [request-scope]").replace(
                "- await: opened", "- peer.accept: {}\n      request: b"
            ),
            8,
            "only a client op runs in a request",
            id="request-on-a-peer-step",
        ),
        pytest.param(
            GOOD.replace("  level: must", "  level: must\n  requires: [global-scope]").replace(
                "- await: opened", "- await: opened\n      request: global"
            ),
            8,
            "only connect runs at module evaluation",
            id="global-scope-on-await",
        ),
        pytest.param(
            GOOD.replace('{address: "${peer.address}"}', '{address: "${peer.address}"}\n      request: global'),
            6,
            "request: global needs `requires: [global-scope]`",
            id="global-scope-without-capability",
        ),
        pytest.param(
            GOOD.replace("  level: must", "  level: must\n  environment: outbound-worker"),
            4,
            "environment outbound-worker needs `requires: [outbound-worker]`",
            id="environment-without-capability",
        ),
        pytest.param(
            GOOD.replace("  level: must", "  level: must\n  environment: durable-object"),
            4,
            'expected one of "outbound-worker"',
            id="unknown-environment",
        ),
    ],
)
def test_malformed_cases_are_rejected_with_file_line_field_and_expectation(
    tmp_path: Path, text: str, line: int, expected: str
) -> None:
    found = problems(tmp_path, text)
    assert found, "the malformed case was accepted"
    path = tmp_path / "spec" / "lifecycle" / "cases.yaml"
    assert any(expected in problem for problem in found), found
    assert any(problem.startswith(f"{path}:{line}:") for problem in found), found


def test_duplicate_ids_across_files_name_both_places(tmp_path: Path) -> None:
    first = write(tmp_path, GOOD, name="a.yaml")
    second = write(tmp_path, GOOD, name="b.yaml")
    cases, errors = loader.load([tmp_path / "spec"])
    assert len(cases) == 1
    (error,) = errors
    assert str(error).startswith(f'{second}:1: id: duplicate id "lifecycle.example"')
    assert f"first defined at {first}:1" in str(error)


def test_one_broken_file_does_not_hide_the_cases_of_another(tmp_path: Path) -> None:
    write(tmp_path, GOOD, name="good.yaml")
    write(tmp_path, "- id: [\n", name="broken.yaml")
    cases, errors = loader.load([tmp_path / "spec"])
    assert [case.id for case in cases] == ["lifecycle.example"]
    assert len(errors) == 1


def test_a_broken_case_costs_only_itself(tmp_path: Path) -> None:
    broken = GOOD.replace("lifecycle.example", "lifecycle.broken").replace("level: must", "level: maybe")
    write(tmp_path, GOOD + broken)
    cases, errors = loader.load([tmp_path / "spec"])
    assert [case.id for case in cases] == ["lifecycle.example"]
    assert len(errors) == 1


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("level: must", "level: maybe").replace("- await: opened", "- wait: opened")
    found = problems(tmp_path, text)
    assert len(found) == 2, found


def test_variants_expand_into_cases_with_their_variables(tmp_path: Path) -> None:
    text = """\
    - id: lifecycle.variants
      title: Variants
      level: must
      source: [B4]
      peer: none
      variants:
        - {name: one, address: "a:1"}
        - {name: two, address: "b:2"}
      steps:
        - connect: {address: "${address}"}
    """
    write(tmp_path, text)
    cases, errors = loader.load([tmp_path / "spec"])
    assert errors == []
    assert [(c.id, c.variables) for c in cases] == [
        ("lifecycle.variants[one]", {"address": "a:1"}),
        ("lifecycle.variants[two]", {"address": "b:2"}),
    ]


def test_listener_variables_are_unknown_without_a_listener(tmp_path: Path) -> None:
    text = GOOD.replace("  steps:", "  peer: none\n  steps:")
    found = problems(tmp_path, text)
    assert any("unknown variable ${peer.address} (this case has peer: none)" in p for p in found), found


def test_peer_port_hex_is_a_listener_variable(tmp_path: Path) -> None:
    with_hex = GOOD.replace(
        '{address: "${peer.address}"}', '{address: {hostname: "127.0.0.1", port: "${peer.port_hex}"}}'
    )
    write(tmp_path, with_hex)
    cases, errors = loader.load([tmp_path / "spec"])
    assert errors == []
    assert len(cases) == 1
    no_listener = with_hex.replace("  steps:", "  peer: none\n  steps:")
    assert any(
        "unknown variable ${peer.port_hex} (this case has peer: none)" in p
        for p in problems(tmp_path / "b", no_listener)
    )


def test_request_and_environment_reach_the_case(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  level: must", "  level: must\n  requires: [request-scope, outbound-worker]\n  environment: outbound-worker"
    )
    write(tmp_path, text.replace("- await: opened", "- await: opened\n      request: b"))
    (case,), errors = loader.load([tmp_path / "spec"])
    assert errors == []
    assert case.environment == "outbound-worker"
    assert [step.request for step in case.steps] == [None, "b"]
