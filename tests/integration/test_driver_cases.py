"""The drivers area as cases (issue 22): how the runner treats a case's server (started once per run,
its variables, a program this machine lacks), and the area run for real on workerd and Miniflare:
the gate passes with the expectations files, every TLS case carries the server's own proof, the
results name the versions of drivers, servers and runtime, and no server or folder outlives the run,
not even one interrupted with Ctrl-C. A sandboxed run sends nothing off loopback."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.base import AdapterSpec, RunContext
from conformance.core.certificates import RunCertificates
from conformance.core.model import Case, ServerSpec
from conformance.core.outcomes import CaseResult, Outcome, SkipCause
from conformance.drivers.model import ServerInfo
from conformance.drivers.process import ProgramMissing
from conformance.execution.runner import INSTALL_DRIVERS, Lane
from conformance.protocol.transports import InProcessTransport
from conformance.sandbox.description import Description
from conformance.sandbox.trace import strace_command, summarize
from tests.helpers import (
    REPO,
    case_from_yaml,
    require_drivers,
    require_npm_packages,
    require_program,
    require_sandbox,
    require_servers,
)

KINDS = ("postgres", "redis", "mariadb", "smtp", "mosquitto")
POSTGRES_INSTALL = "apt-get install -y --no-install-recommends postgresql"
CASE = """\
- id: drivers.t
  title: t
  level: must
  source: [B45]
  requires: [drivers]
  server: {kind: postgres}
  steps:
    - driver: {name: pg, scenario: connect}
      expect: {resolves: {port: "${server.port}"}}
"""


class DriverAdapter:
    """An adapter in this process that runs "drivers": each scenario answers with the server it was given."""

    seen: list[dict[str, Any]] = []

    def __init__(self, capabilities: tuple[str, ...] = ("drivers",)) -> None:
        self.capabilities = list(capabilities)

    async def request(self, message: dict[str, Any]) -> dict[str, Any]:
        seq, op = message["seq"], message["op"]
        if op == "hello":
            value = {
                "name": "fake",
                "version": "1",
                "runtime": "none",
                "protocol": 1,
                "capabilities": self.capabilities,
            }
            return {"seq": seq, "status": "returned", "value": value}
        if op == "end":
            return {"seq": seq, "status": "returned", "value": {"open_sockets": 0, "unhandled_rejections": []}}
        if op == "driver":
            DriverAdapter.seen.append(message)
            return {"seq": seq, "status": "resolved", "value": {"port": message["server"]["port"]}, "elapsed_ms": 1}
        return {"seq": seq, "status": "returned"}


class FakeServers:
    """The run's servers as the lane sees them: one PostgreSQL, or none installed."""

    def __init__(self, installed: bool) -> None:
        self.installed = installed
        self.asked: list[ServerSpec] = []

    async def get(self, spec: ServerSpec) -> ServerInfo:
        self.asked.append(spec)
        if not self.installed:
            raise ProgramMissing("PostgreSQL (postgres, initdb)", POSTGRES_INSTALL)
        return ServerInfo(
            kind=spec.kind,
            certificate=spec.certificate,
            host="127.0.0.1",
            port=54321,
            tls_port=None,
            user="conformance",
            password="hunter2",
            database="postgres",
            ca_pem="-----BEGIN CERTIFICATE-----\n",
            version="postgres (PostgreSQL) 15",
            startup_s=0.1,
        )

    def versions(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass


def run_one(
    case: Case,
    servers: FakeServers,
    capabilities: tuple[str, ...] = ("drivers",),
    drivers_missing: str | None = None,
) -> CaseResult:
    spec = AdapterSpec("fake", lambda context: InProcessTransport(lambda: DriverAdapter(capabilities)))

    async def go() -> CaseResult:
        with RunCertificates() as certificates:
            context = RunContext(certificates, drivers_missing=drivers_missing)
            lane = Lane(spec, context, servers=servers)  # type: ignore[arg-type]
            await lane.start()
            try:
                return await lane.run_case(case)
            finally:
                await lane.close()

    return asyncio.run(go())


def test_the_lane_gives_the_scenario_the_server_and_the_case_its_variables() -> None:
    DriverAdapter.seen.clear()
    servers = FakeServers(installed=True)
    result = run_one(case_from_yaml(CASE), servers)
    assert result.outcome is Outcome.PASS, result.message
    assert servers.asked == [ServerSpec("postgres", "good")]
    (request,) = DriverAdapter.seen
    assert request["server"]["password"] == "hunter2"
    assert request["server"]["ca"].startswith("-----BEGIN")
    variables = result.transcript[0].as_dict()["variables"]
    assert variables["server.port"] == 54321
    assert "server.password" not in variables
    assert "server.ca" not in variables
    assert "hunter2" not in json.dumps([entry.as_dict() for entry in result.transcript])


def test_a_server_this_machine_lacks_is_not_run_here_naming_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    result = run_one(case_from_yaml(CASE), FakeServers(installed=False))
    assert (result.outcome, result.skipped_by) == (Outcome.SKIP, SkipCause.ENVIRONMENT)
    assert result.not_run_here
    assert result.message == f"PostgreSQL (postgres, initdb) is not installed ({POSTGRES_INSTALL})"


def test_under_ci_a_server_this_machine_lacks_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = run_one(case_from_yaml(CASE), FakeServers(installed=False))
    assert result.outcome is Outcome.ERROR
    assert POSTGRES_INSTALL in result.message
    assert "CI is set" in result.message


def test_drivers_not_installed_are_not_run_here_and_an_adapter_without_drivers_is_a_gap() -> None:
    servers = FakeServers(installed=True)
    missing = f"the drivers are not installed ({INSTALL_DRIVERS})"
    result = run_one(case_from_yaml(CASE), servers, capabilities=(), drivers_missing=missing)
    assert (result.outcome, result.skipped_by, result.message) == (Outcome.SKIP, SkipCause.ENVIRONMENT, missing)
    gap = run_one(case_from_yaml(CASE), servers, capabilities=())
    assert (gap.outcome, gap.skipped_by) == (Outcome.SKIP, SkipCause.ADAPTER)
    assert gap.message == "the adapter lacks capability: drivers"
    assert servers.asked == [], "no server is started for a case that cannot run"


# -- real runs ---------------------------------------------------------------------------------------------


def processes_of(folder: Path, marker: str) -> list[str]:
    """The live processes of a run: the harness's children carry ``marker``, servers their folder's path."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "stat").read_text().rpartition(")")[2].split()
            if status and status[0] in ("Z", "X"):
                continue
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes() if marker else b""
        except OSError:
            continue
        if str(folder).encode() in cmdline or marker.encode() in environ:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]
            found.append(f"{entry.name}: {shown}")
    return found


@pytest.fixture
def tmp_path(tmp_path: Path) -> Iterator[Path]:
    """A folder of the test's own in /tmp that every user may enter (0755): the servers' users (postgres,
    redis, ...) must reach their data folders under the run's TMPDIR, which pytest's 0700 folder forbids."""
    folder = Path(tempfile.mkdtemp(prefix="ccd-cases-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start_run(tmp_path: Path, marker: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    temp.chmod(0o755)
    return subprocess.Popen(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(tmp_path / "report"), *args],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(temp), "CONNECT_CONFORMANCE_TEST_MARKER": marker, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


#: What Miniflare itself leaves in TMPDIR after it is disposed (its own workerd's folders, with or
#: without drivers): not the run's to remove.
MINIFLARE_LEFTOVERS = "miniflare-"


def assert_nothing_left(tmp_path: Path, marker: str, tolerated: str | None = None) -> None:
    temp = tmp_path / "tmp"
    deadline = time.monotonic() + 30
    while processes_of(temp, marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_of(temp, marker) == []
    left = [path.name for path in temp.iterdir() if not (tolerated and path.name.startswith(tolerated))]
    assert left == [], "every server's data folder (and the run's CA) must be gone"


def proof_of(case: dict[str, Any]) -> Any:
    """What the server said about TLS in the case's driver step, as observed."""
    for entry in case["transcript"]:
        if entry.get("action") == "driver" and entry["observed"].get("status") == "resolved":
            value = entry["observed"]["value"]
            for key in ("tls", "client", "listener", "receipt"):
                if key in value:
                    return value[key]
            if "AUTH" in value.get("after_tls", ()) and value.get("auth") == 235:
                # The SMTP server offers and accepts AUTH over TLS only (without: 530).
                return {"smtp": "AUTH offered and accepted after STARTTLS"}
    return None


@pytest.mark.slow
@pytest.mark.timeout(600)  # about 25 s on a quiet machine
@pytest.mark.parametrize("adapter", ["workerd", "miniflare"])
def test_the_drivers_area_passes_its_gate_with_the_servers_proof_and_leaves_nothing(
    adapter: str, tmp_path: Path
) -> None:
    require_servers(*KINDS)
    require_npm_packages(adapter)
    require_drivers()
    marker = uuid.uuid4().hex
    expectations = str(REPO / "expectations" / f"{adapter}.yaml")
    process = start_run(tmp_path, marker, "spec/drivers", "--adapter", adapter, "--expectations", expectations)
    stdout, stderr = process.communicate(timeout=540)
    assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["summary"]["total"] >= 30
    assert results["summary"]["skip"] == 0, "every server and the drivers are here: nothing may be skipped"
    header = results["run"]
    assert header["adapter"]["drivers"]["pg"].startswith("pg@")
    assert header["adapter"]["drivers"]["node-redis"].startswith("redis@")
    assert set(header["servers"]) == set(KINDS)
    assert header["servers"]["postgres"].startswith("postgres (PostgreSQL) ")
    proven = 0
    for case in results["cases"]:
        over_tls = "tls" in case["tags"] or case["id"].endswith("[tls]")
        if not over_tls or "failure" in case["tags"] or case["outcome"] != "pass":
            continue
        proof = proof_of(case)
        assert proof, f"{case['id']} passed over TLS without the server's proof"
        text = json.dumps(proof)
        assert any(word in text for word in ("TLSv1.", "tls_port", "tls_listener", "STARTTLS")), (case["id"], proof)
        proven += 1
    assert proven >= 20
    assert_nothing_left(tmp_path, marker, MINIFLARE_LEFTOVERS if adapter == "miniflare" else None)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ctrl_c_while_servers_run_stops_them_and_removes_their_folders(tmp_path: Path) -> None:
    require_servers("postgres", "redis", "mariadb")
    require_npm_packages("workerd")
    require_drivers()
    marker = uuid.uuid4().hex
    temp = tmp_path / "tmp"
    process = start_run(tmp_path, marker, "spec/drivers", "--adapter", "workerd", "-v", "-k", "large or connect")
    assert process.stderr is not None
    passed = 0
    while passed < 3:  # servers are up and cases are running
        line = process.stderr.readline()
        assert line, "the run ended before it could be interrupted"
        passed += line.startswith(("PASS", "FAIL", "XFAIL"))
    running = [p for p in processes_of(temp, "") if "postgres" in p or "redis-server" in p or "mariadbd" in p]
    assert running, "the run's servers should be running now"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["run"]["interrupted"] is True
    assert_nothing_left(tmp_path, marker)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_without_postgresql_its_cases_are_not_run_here_and_the_others_run(tmp_path: Path) -> None:
    """PostgreSQL hidden from the harness (CONNECT_CONFORMANCE_SERVER_PATH lists a folder with Redis only),
    CI unset: the pg cases skip with the apt-get line, the Redis ones run."""
    require_servers("redis")
    require_npm_packages("workerd")
    require_drivers()
    from conformance.drivers.kinds import find

    only = tmp_path / "bin"
    only.mkdir()
    redis_server = find("redis-server")
    assert redis_server is not None
    (only / "redis-server").symlink_to(redis_server)
    env = {"CONNECT_CONFORMANCE_SERVER_PATH": str(only), "CI": ""}
    process = start_run(
        tmp_path, uuid.uuid4().hex, "spec/drivers", "--adapter", "workerd", "-k", "connect-plain", env=env
    )
    stdout, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stdout[-3000:] + stderr[-3000:]
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    outcomes = {case["id"]: case for case in results["cases"]}
    for postgres in ("drivers.pg.connect-plain", "drivers.postgresjs.connect-plain"):
        case = outcomes[postgres]
        assert (case["outcome"], case["skipped_by"]) == ("skip", "environment")
        assert case["message"] == f"PostgreSQL (postgres, initdb) is not installed ({POSTGRES_INSTALL})"
    assert outcomes["drivers.ioredis.connect-plain"]["outcome"] == "pass"
    assert "not run here" in stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_sandboxed_drivers_run_sends_nothing_off_loopback(tmp_path: Path) -> None:
    """The drivers, their servers and the runtime under ``strace -f``: every connect()/sendto()/sendmsg()
    goes to loopback, and no DNS query is sent (node-redis would ask for one by host name)."""
    require_sandbox()
    strace = require_program(("strace",), "apt-get install -y strace")
    require_servers(*KINDS)
    require_npm_packages("workerd")
    require_drivers()
    trace = tmp_path / "strace.log"
    done = subprocess.run(
        strace_command(
            strace,
            trace,
            [
                sys.executable,
                "-m",
                "conformance",
                "run",
                "--sandbox",
                "spec/drivers",
                "--adapter",
                "workerd",
                "-n",
                "4",
                "--expectations",
                str(REPO / "expectations" / "workerd.yaml"),
                "--report-dir",
                str(tmp_path / "report"),
            ],
        ),
        capture_output=True,
        text=True,
        timeout=540,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    described = Description()
    with trace.open(encoding="utf-8", errors="replace") as lines:
        summary = summarize(lines, described.on_lo)
    assert summary.total > 100, "the trace should hold the drivers' connections"
    assert summary.outside == [], summary.text()
    assert summary.dns == [], summary.text()
