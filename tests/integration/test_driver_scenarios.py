"""Real client libraries over connect() in the pinned workerd, against the servers the harness starts:
the feasibility of the drivers area, one scenario per thing a case will check (exact values, large
payloads as digests, transactions, TLS with the server's own proof, a certificate that must fail,
shutdown). The bundles come from ``conformance.drivers.bundle`` (npm and esbuild on first use)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from conformance.adapters import npm_cache
from conformance.adapters.workerd import WorkerdRuntime
from conformance.core.certificates import RunCertificates
from conformance.drivers import bundle
from conformance.drivers.servers import ServerPool
from conformance.drivers.smtp_server import EVENTS_FILE, read_events
from conformance.errors import InfrastructureError
from tests.helpers import require_program

from .driver_runtime import ScenarioWorker
from .test_driver_servers import require_kind

pytestmark = pytest.mark.slow

SAMPLE_TEXT = "plain ascii, caf\u00e9, \u6f22\u5b57, \U0001f600 \U0001d11e, 'quoted' \"double\""
ALL_BYTES = bytes(range(256)).hex()
UNIT = b"0123456789abcdef"
TEN_MIB = {"bytes": 10 << 20, "sha256": hashlib.sha256(UNIT * (10 << 16)).hexdigest()}
ONE_MIB = {"bytes": 1 << 20, "sha256": hashlib.sha256(UNIT * (1 << 16)).hexdigest()}


@pytest.fixture(scope="module")
def certs() -> Iterator[RunCertificates]:
    with RunCertificates() as made:
        yield made


@pytest.fixture(scope="module")
def pool(certs: RunCertificates) -> Iterator[ServerPool]:
    with ServerPool(certs) as made:
        yield made


@pytest.fixture(scope="module")
def worker(certs: RunCertificates) -> Iterator[ScenarioWorker]:
    require_program(("node",), "install Node.js 18 or newer")
    try:
        runtime = WorkerdRuntime.from_node_modules(npm_cache.ensure("workerd", quiet=True))
        bundles = bundle.bundles("workerd", quiet=True)
    except InfrastructureError as error:
        pytest.skip(f"workerd or the driver packages are not available: {error}")
    made = ScenarioWorker(runtime, bundles.files, certs.ca_pem)
    try:
        yield made
    finally:
        made.close()


def server(pool: ServerPool, kind: str, certificate: str = "good") -> dict[str, Any]:
    require_kind(kind)
    return pool.get(kind, certificate).variables()


def resolved(outcome: dict[str, Any]) -> Any:
    assert outcome["status"] == "resolved", outcome
    return outcome["value"]


@pytest.mark.parametrize("driver", ["pg", "postgresjs"])
def test_postgres_drivers_connect_plain_and_over_tls(driver: str, pool: ServerPool, worker: ScenarioWorker) -> None:
    postgres = server(pool, "postgres")
    plain, _ = worker.run(driver, "connect", postgres)
    value = resolved(plain)
    assert value == {
        "user": postgres["user"],
        "database": "postgres",
        "version": value["version"],
        "tls": {"ssl": False, "version": None},
    }
    # What the session reports is the end of what the binary said: "postgres (PostgreSQL) 15.18 (Debian ...)".
    assert postgres["version"].endswith(f" {value['version']}")
    secure, _ = worker.run(driver, "tls", postgres)
    assert resolved(secure) == {"tls": {"ssl": True, "version": "TLSv1.3"}}


@pytest.mark.parametrize("driver", ["pg", "postgresjs"])
@pytest.mark.parametrize("certificate", ["untrusted", "wrong-host"])
def test_postgres_drivers_refuse_a_certificate_the_runtime_must_not_trust(
    driver: str, certificate: str, pool: ServerPool, worker: ScenarioWorker
) -> None:
    outcome, _ = worker.run(driver, "tls", server(pool, "postgres", certificate))
    assert outcome["status"] == "rejected", outcome
    assert outcome["error"]["name"] == "Error"


@pytest.mark.parametrize("driver", ["pg", "postgresjs"])
def test_postgres_drivers_carry_exact_values(driver: str, pool: ServerPool, worker: ScenarioWorker) -> None:
    outcome, _ = worker.run(driver, "query", server(pool, "postgres"))
    assert resolved(outcome) == {
        "text": SAMPLE_TEXT,
        "text_equal": True,
        "bytes_hex": ALL_BYTES,
        "bytes_equal": True,
        "int": 42,
        "big": "9007199254740993",
        "bool": True,
        "nothing": None,
        "chars": len(SAMPLE_TEXT),
        "octets": len(SAMPLE_TEXT.encode()),
    }


def test_pg_moves_a_large_result_and_runs_a_transaction(pool: ServerPool, worker: ScenarioWorker) -> None:
    postgres = server(pool, "postgres")
    large, _ = worker.run("pg", "large", postgres)
    assert resolved(large) == {"rows": 1, **TEN_MIB, "expected": TEN_MIB}
    transaction, _ = worker.run("pg", "transaction", postgres, tls=True)
    value = resolved(transaction)
    assert value["rows"] == [{"id": 1, "label": "committed"}]
    assert (value["duplicate"]["code"], value["duplicate"]["constraint"]) == ("23505", "items_pkey")


def test_pg_closes_both_sockets_after_end_over_starttls(pool: ServerPool, worker: ScenarioWorker) -> None:
    outcome, _ = worker.run("pg", "shutdown", server(pool, "postgres"), tls=True)
    assert resolved(outcome) == {
        "ended": True,
        "error": None,
        "sockets": [{"how": "connect", "closed": "fulfilled"}, {"how": "startTls", "closed": "fulfilled"}],
        "tls": {"ssl": True, "version": "TLSv1.3"},  # the server's pg_stat_ssl, read before end()
    }


def test_redis_on_workers_over_direct_tls(pool: ServerPool, worker: ScenarioWorker) -> None:
    redis = server(pool, "redis")
    secure, _ = worker.run("redis-on-workers", "tls", redis)
    assert resolved(secure) == {"client": {"server_port": redis["tls_port"], "via": "tls_port"}}
    large, _ = worker.run("redis-on-workers", "large", redis, tls=True, name="large")
    assert resolved(large) == {
        "strlen": 1 << 20,
        **ONE_MIB,
        "expected": ONE_MIB,
        "client": {"server_port": redis["tls_port"], "via": "tls_port"},  # the port Redis saw: its TLS port
    }
    refused, _ = worker.run("redis-on-workers", "tls", server(pool, "redis", "untrusted"))
    assert refused["status"] == "rejected", refused


def test_smtp_by_hand_with_starttls_is_proven_by_the_server(pool: ServerPool, worker: ScenarioWorker) -> None:
    smtp = server(pool, "smtp")
    secure, _ = worker.run("smtp", "tls", smtp)
    assert resolved(secure) == {"tls": "TLSv1.3"}
    large, _ = worker.run("smtp", "large", smtp, name="large-mail")
    value = resolved(large)
    assert value["receipt"] == {"code": 250, "tls": "TLSv1.3", **value["sent"]}
    assert value["sent"]["bytes"] == 1 << 20
    assert value["equal"] is True
    events = read_events(pool.running("smtp").folder.path / EVENTS_FILE)
    (message,) = [e for e in events if e["event"] == "message" and e["rcpt_tos"][0].startswith("cc_large_mail_")]
    assert (message["tls"], message["bytes"], message["sha256"]) == ("TLSv1.3", 1 << 20, value["sent"]["sha256"])
    refused, _ = worker.run("smtp", "plain", smtp)
    assert resolved(refused)["auth"] == 530
