"""Driver scenarios as cases: ``server:`` and the ``driver`` step in the loader, the interpreter and the
judges (pure: no server, no runtime), and the drivers area of the spec as data."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from conformance.cases import loader
from conformance.core.certificates import CERTIFICATE_NAMES
from conformance.core.model import SERVER_VARIABLES, ServerSpec
from conformance.core.outcomes import Outcome
from conformance.core.substitution import substitute
from conformance.drivers import modules
from conformance.drivers.model import ServerInfo
from conformance.engine.actions import DRIVER_WITHIN, SERVER_SECRETS
from conformance.engine.interpreter import CaseInterpreter, ClientOp, EndSession, Finished
from conformance.protocol import messages
from conformance.protocol.replies import parse
from tests.helpers import REPO, case_from_yaml

SERVER = ServerInfo(
    kind="postgres",
    certificate="good",
    host="127.0.0.1",
    port=5432,
    tls_port=None,
    user="conformance",
    password="secret-password",
    database="postgres",
    ca_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    version="postgres (PostgreSQL) 15.18",
    startup_s=1.0,
)
CLEAN_END = {"status": "returned", "value": {"open_sockets": 0, "unhandled_rejections": []}}


def case_text(steps: str, server: str = "server: {kind: postgres}", requires: str = "requires: [drivers]") -> str:
    return f"""\
- id: drivers.t
  title: t
  level: must
  source: [B45]
  {requires}
  {server}
  steps:
{textwrap.indent(textwrap.dedent(steps), "    ")}"""


def problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "spec" / "drivers" / "t.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    _, errors = loader.load([path])
    return [str(error) for error in errors]


def machine(steps: str) -> CaseInterpreter:
    case = case_from_yaml(case_text(steps))
    server = SERVER.variables()
    public = {f"server.{key}": value for key, value in server.items() if key not in SERVER_SECRETS}
    return CaseInterpreter(case, public, server_object=server)


def run(interpreter: CaseInterpreter, replies: list[dict[str, Any]]) -> list[Any]:
    actions: list[Any] = []
    queue = list(replies)
    while True:
        action = interpreter.next_action()
        actions.append(action)
        if isinstance(action, Finished):
            return actions
        if isinstance(action, ClientOp):
            interpreter.observe(parse(action.request["op"], {"seq": 1, **queue.pop(0)}, action.shape))
        elif isinstance(action, EndSession):
            interpreter.observe(parse("end", {"seq": 1, **CLEAN_END}, "end"))


# -- loading -------------------------------------------------------------------------------------------


def test_a_case_with_a_server_has_no_peer_listener_and_a_longer_deadline_by_default() -> None:
    case = case_from_yaml(
        case_text("- driver: {name: pg, scenario: connect}", "server: {kind: redis, certificate: untrusted}")
    )
    assert case.server == ServerSpec("redis", "untrusted")
    assert case.peer.kind == "none"
    assert case.timeout == loader.DEFAULT_SERVER_CASE_TIMEOUT == 60.0
    (step,) = case.steps
    assert (step.action, step.arg) == ("driver", {"name": "pg", "scenario": "connect"})


def test_a_server_needs_the_drivers_capability(tmp_path: Path) -> None:
    found = problems(case_text("- driver: {name: pg, scenario: connect}", requires=""), tmp_path)
    assert len(found) == 1
    assert found[0].endswith(":6: server: a case with a server needs `requires: [drivers]`")


def test_a_driver_step_needs_the_cases_server(tmp_path: Path) -> None:
    found = problems(case_text("- driver: {name: pg, scenario: connect}", server=""), tmp_path)
    assert found == [
        f"{tmp_path}/spec/drivers/t.yaml:8: steps.0.driver: a driver step needs the case's `server: {{kind: ...}}`"
    ]


def test_an_unknown_driver_or_scenario_is_named_with_what_exists(tmp_path: Path) -> None:
    unknown_driver = problems(case_text("- driver: {name: pgx, scenario: connect}"), tmp_path)
    assert len(unknown_driver) == 1
    assert (
        'unknown driver "pgx" (known: ioredis, mqtt, mysql2, node-redis, pg, postgresjs, redis-on-workers, smtp)'
        in (unknown_driver[0])
    )
    unknown_scenario = problems(case_text("- driver: {name: pg, scenario: select}"), tmp_path)
    assert len(unknown_scenario) == 1
    assert unknown_scenario[0].endswith(
        'steps.0.driver.scenario: pg has no scenario "select" '
        "(it has: connect, large, pipeline, query, shutdown, tls, transaction)"
    )


def test_an_unknown_server_kind_or_certificate_is_a_schema_problem(tmp_path: Path) -> None:
    found = problems(case_text("- driver: {name: pg, scenario: connect}", "server: {kind: oracle}"), tmp_path)
    assert len(found) == 1
    assert ":6: server.kind:" in found[0]
    assert "oracle" in found[0]


def test_server_variables_exist_only_in_a_case_with_a_server(tmp_path: Path) -> None:
    steps = '- driver: {name: pg, scenario: connect}\n  expect: {resolves: {port: "${server.port}"}}'
    assert problems(case_text(steps), tmp_path) == []
    text = """\
- id: drivers.u
  title: u
  level: must
  source: [B45]
  steps:
    - connect: {address: "127.0.0.1:${server.port}"}
"""
    (found,) = problems(text, tmp_path)
    assert found.endswith("steps.0: unknown variable ${server.port}")


def test_the_server_variables_are_what_a_server_gives_without_its_secrets() -> None:
    given = SERVER.variables()
    assert {f"server.{key}" for key in given if key not in SERVER_SECRETS} == set(SERVER_VARIABLES)
    assert set(SERVER_SECRETS) <= set(given)


def test_every_server_certificate_of_the_schema_is_one_the_run_makes() -> None:
    from conformance import schema

    enum = schema.load("case.schema.json")["$defs"]["case"]["properties"]["server"]["properties"]["certificate"]["enum"]
    assert enum == list(CERTIFICATE_NAMES)


# -- running ---------------------------------------------------------------------------------------------


def test_the_driver_request_carries_the_whole_server_and_the_transcript_shows_it_without_secrets() -> None:
    interpreter = machine("""\
        - driver: {name: pg, scenario: query, options: {tls: true}}
          expect: {resolves: {text_equal: true, tls: {ssl: true}}}
        """)
    resolved = {"status": "resolved", "value": {"text_equal": True, "tls": {"ssl": True}}, "elapsed_ms": 12}
    actions = run(interpreter, [resolved])
    request = actions[0].request
    assert request == {
        "op": "driver",
        "driver": "pg",
        "scenario": "query",
        "options": {"tls": True},
        "server": SERVER.variables(),
        "timeout_ms": int(DRIVER_WITHIN * 1000),
    }
    assert messages.request_problem({"seq": 1, **request}) is None
    assert actions[-1] == Finished(Outcome.PASS, "")
    step = interpreter.transcript[1].as_dict()
    assert step["request"]["server"] == {k: v for k, v in SERVER.variables().items() if k not in SERVER_SECRETS}
    assert step["observed"]["elapsed_ms"] == 12
    shown = repr(interpreter.transcript)
    assert "secret-password" not in shown
    assert "BEGIN CERTIFICATE" not in shown


def test_a_driver_steps_within_bounds_how_long_the_scenario_may_take() -> None:
    interpreter = machine("""\
        - driver: {name: pg, scenario: large}
          within: 45s
        """)
    actions = run(interpreter, [{"status": "pending", "promise": "p1"}])
    assert actions[0].request["timeout_ms"] == 45000
    assert actions[-1].outcome is Outcome.FAIL
    assert "expected it to resolve, but it was still pending" in actions[-1].message


def test_a_drivers_error_is_matched_by_name_and_code() -> None:
    steps = """\
        - driver: {name: pg, scenario: transaction}
          expect: {rejects: {name: PostgresError, code: "23505"}}
        """
    duplicate = {"name": "PostgresError", "message": "duplicate key", "code": "23505", "severity": "ERROR"}
    passed = run(machine(steps), [{"status": "rejected", "error": duplicate}])
    assert passed[-1] == Finished(Outcome.PASS, "")
    other = run(machine(steps), [{"status": "rejected", "error": {**duplicate, "code": "23503"}}])
    assert other[-1].outcome is Outcome.FAIL
    assert other[-1].message.endswith(
        'code: "23503", severity: "ERROR"}, expected {name: "PostgresError", code: "23505"}'
    )


def test_a_driver_step_in_a_case_without_a_server_is_an_error_of_the_case() -> None:
    case = case_from_yaml(case_text("- driver: {name: pg, scenario: connect}"))
    interpreter = CaseInterpreter(case, {})  # the runner gave it no server
    actions = run(interpreter, [])
    assert actions[-1].outcome is Outcome.ERROR
    assert "the case has no server" in actions[-1].message


# -- the drivers area ------------------------------------------------------------------------------------

#: Where each driver's scenarios put the server's own proof of TLS (adapters/js/drivers/README.md).
PROOF_KEYS = ("tls", "client", "listener", "receipt")


@pytest.fixture(scope="module")
def area() -> list[Any]:
    return loader.load_strict([REPO / "spec" / "drivers"])


def test_the_drivers_area_covers_six_drivers_or_more_in_thirty_cases_or_more(area: list[Any]) -> None:
    drivers = {step.arg["name"] for case in area for step in case.steps if step.action == "driver"}
    assert len(drivers) >= 6, drivers
    assert drivers <= set(modules.drivers())
    assert len(area) >= 30


def proof_of(expect: dict[str, Any]) -> Any:
    wanted = expect.get("resolves", {})
    return next((wanted[key] for key in PROOF_KEYS if key in wanted), None)


def test_every_tls_case_that_must_succeed_expects_the_servers_proof(area: list[Any]) -> None:
    """A scenario over TLS (the `tls` scenario, or `options.tls`) that is expected to resolve asks for the
    server's own word on TLS, never for an absent one."""
    checked = 0
    for case in area:
        for step in case.steps:
            if step.action != "driver" or step.expect is None or "resolves" not in step.expect:
                continue
            variables = {**case.variables, **dict.fromkeys(SERVER_VARIABLES, 0)}
            options = substitute(step.arg.get("options", {}), variables)
            if step.arg["scenario"] != "tls" and options.get("tls") is not True:
                continue
            if step.arg["name"] == "smtp":
                continue  # every SMTP delivery is over TLS: its receipt is checked below
            proof = proof_of(substitute(step.expect, variables))
            assert proof is not None, f"{case.id} expects no proof of TLS"
            assert proof != {"$absent": True}, f"{case.id} expects no proof of TLS"
            checked += 1
    assert checked >= 25
    for case in area:
        for step in case.steps:
            if step.action == "driver" and step.arg["name"] == "smtp" and step.expect and "resolves" in step.expect:
                wanted = step.expect["resolves"]
                assert (
                    "tls" in wanted or "receipt" in wanted or step.arg["scenario"] in ("connect", "plain", "shutdown")
                )


def test_the_spec_only_names_scenarios_the_modules_export(area: list[Any]) -> None:
    for case in area:
        for step in case.steps:
            if step.action == "driver":
                assert step.arg["scenario"] in modules.scenarios(step.arg["name"]), case.id


def test_the_scenarios_are_read_from_the_modules() -> None:
    assert modules.scenarios("smtp") == ("connect", "large", "plain", "query", "shutdown", "tls")
    assert modules.scenarios("_common") == ()
    assert modules.scenarios("nothing") == ()
    assert set(modules.PACKAGES) == set(modules.drivers())


def test_the_versions_are_read_from_the_installed_packages(tmp_path: Path) -> None:
    for package, version in (("pg", "8.23.1"), ("pg-cloudflare", "1.4.1"), ("postgres", "4.2.0")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "package.json").write_text(f'{{"name": "{package}", "version": "{version}"}}')
    found = modules.versions(tmp_path)
    assert found["pg"] == "pg@8.23.1 pg-cloudflare@1.4.1"
    assert found["postgresjs"] == "postgres@4.2.0"
    assert found["mysql2"] == "mysql2@unknown"
    assert found["smtp"] == modules.OWN_CLIENT
