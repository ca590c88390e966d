"""The peer in containers on a real Docker engine (issue 13): `run --peer docker` gives the in-process
outcomes, the standalone servers and compose serve real clients, nothing of a run is left behind (Ctrl-C
and a killed run included), and a missing engine or a broken build is a clear exit 3.

The engine is started by servers/docker/engine.sh when none answers, and left running (as in CI).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from conformance_peer import ListenerSpec

from conformance.core.certificates import RunCertificates
from conformance.peer import docker_engine as docker_support
from conformance.peer.docker import docker_peer
from tests.helpers import REPO, require_npm_packages, require_program, without_drivers
from tests.integration.cli import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.docker]

OWNER_PID = docker_support.LABEL_OWNER_PID
BASE_SCRIPT = REPO / "servers" / "docker" / "base-image.sh"


def answers() -> bool:
    with contextlib.suppress(docker.errors.DockerException):
        return bool(docker.from_env().ping())
    return False


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    if not answers():
        require_program(("dockerd",), "apt-get install -y docker.io")
    started = subprocess.run(
        [str(REPO / "servers" / "docker" / "engine.sh")], capture_output=True, text=True, timeout=180, check=False
    )
    if started.returncode != 0:
        pytest.fail(f"no Docker engine (servers/docker/engine.sh): {started.stderr.strip()}")
    return docker.from_env()


@pytest.fixture(scope="module")
def peer_image(engine: docker.DockerClient) -> str:
    """The peer image (and the local base under it), built on first use: up to a few minutes, once."""
    wanted = subprocess.run([str(BASE_SCRIPT), "--print-tag"], capture_output=True, text=True, check=True).stdout
    if not os.environ.get(docker_support.BASE_ENV) and not engine.images.list(name=wanted.strip()):
        require_program(("debootstrap",), "apt-get install -y debootstrap")
    built = subprocess.run(
        [sys.executable, "-m", "conformance", "peer", "image"],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return built.stdout.strip()


def owned_by(engine: docker.DockerClient, pid: int) -> list[str]:
    """Every container (running or not) a harness process made."""
    return [str(c.name) for c in engine.containers.list(all=True, filters={"label": f"{OWNER_PID}={pid}"})]


def run_in_background(*args: str, report_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "conformance", *args, *(["--report-dir", str(report_dir)] if args[0] == "run" else [])],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.timeout(900)  # two runs of the whole suite: 35 s on a quiet machine
def test_the_docker_peer_gives_the_outcomes_of_the_in_process_peer(peer_image: str, tmp_path: Path) -> None:
    # The same surroundings for both: a peer in a container is outside any sandbox.
    in_process = run_cli("run", "-n", "2", "--no-sandbox", report_dir=tmp_path / "in-process", timeout=300)
    assert in_process.code == 0, in_process.stdout[-2000:]
    containerised = run_cli("run", "-n", "2", "--peer", "docker", report_dir=tmp_path / "docker", timeout=300)
    assert containerised.code == 0, containerised.stdout[-2000:] + containerised.stderr[-2000:]
    assert containerised.results()["run"]["selection"]["peer"] == "docker"
    assert containerised.outcomes() == in_process.outcomes()
    assert set(containerised.outcomes().values()) <= {"pass", "skip"}
    skipped = [c for c in without_drivers(containerised.results()["cases"]) if c["outcome"] == "skip"]
    assert all("needs the network sandbox" in c["message"] for c in skipped)
    compared = run_cli(
        "report",
        "compare",
        str(tmp_path / "in-process" / "results.json"),
        str(tmp_path / "docker" / "results.json"),
        report_dir=tmp_path,
    )
    assert compared.code == 0, compared.stdout
    assert "0 regressions, 0 fixes, 0 changed" in compared.stdout


def test_workerd_with_the_docker_peer_passes_its_gate(
    peer_image: str, engine: docker.DockerClient, tmp_path: Path
) -> None:
    require_npm_packages("workerd")  # an install must not eat the run's timeout
    done = run_cli(
        "run",
        "--adapter",
        "workerd",
        "--expectations",
        "expectations/workerd.yaml",
        "-n",
        "2",
        "--peer",
        "docker",
        report_dir=tmp_path,
        timeout=600,
    )
    unexpected = [line for line in done.stdout.splitlines() if line.startswith(("UNEXPECTED", "    "))]
    assert done.code == 0, "\n".join(unexpected) or done.stderr[-2000:]
    assert done.results()["summary"]["error"] == 0


def test_ctrl_c_during_a_docker_run_removes_its_container(
    peer_image: str, engine: docker.DockerClient, tmp_path: Path
) -> None:
    process = run_in_background("run", "--peer", "docker", "-v", report_dir=tmp_path)
    try:
        assert process.stderr is not None
        passed = 0
        while passed < 3:
            line = process.stderr.readline()
            assert line, "the run ended before it could be interrupted"
            passed += line.startswith("PASS")
        assert len(owned_by(engine, process.pid)) == 1, "the run's peer container should be up"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert json.loads((tmp_path / "results.json").read_text())["run"]["interrupted"] is True
    assert owned_by(engine, process.pid) == []


def test_a_killed_runs_containers_are_removed_by_the_next_run(
    peer_image: str, engine: docker.DockerClient, tmp_path: Path
) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    labels = {
        docker_support.LABEL_RUN: f"test-{uuid.uuid4().hex[:8]}",
        docker_support.LABEL_OWNER_HOST: socket.gethostname(),
        docker_support.LABEL_OWNER_PID: str(dead_pid),
        docker_support.LABEL_OWNER_START: "1",
    }
    sleeper = ["python3", "-c", "import time; time.sleep(300)"]
    running = engine.containers.run(peer_image, sleeper, detach=True, network_mode="none", labels=labels)
    stopped = engine.containers.create(peer_image, sleeper, network_mode="none", labels=labels)
    me = docker_support.this_run()  # this test process: alive
    alive = engine.containers.create(
        peer_image,
        sleeper,
        network_mode="none",
        labels={**labels, docker_support.LABEL_OWNER_PID: str(me.pid), docker_support.LABEL_OWNER_START: me.start},
    )
    try:
        done = run_cli("run", "--peer", "docker", "-k", "address and ipv4", report_dir=tmp_path, timeout=120)
        assert done.code == 0, done.stderr
        remaining = {str(c.id) for c in engine.containers.list(all=True, filters={"label": docker_support.LABEL_RUN})}
        assert str(running.id) not in remaining
        assert str(stopped.id) not in remaining
        assert str(alive.id) in remaining, "a live harness's container is not a leftover"
    finally:
        for container in (running, stopped, alive):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def test_the_peer_container_is_locked_down_and_keeps_the_keys_in_memory(
    peer_image: str, engine: docker.DockerClient
) -> None:
    async def scenario() -> tuple[str, dict[str, Any], list[str], Any]:
        with RunCertificates() as certificates:
            async with docker_peer() as remote:
                session = await remote.open_session(ListenerSpec(kind="tls"), certificates.peer_files())
                (container,) = engine.containers.list(
                    filters={"label": f"{docker_support.LABEL_RUN}={docker_support.this_run().run_id}"}
                )
                listing = container.exec_run(
                    [
                        "python3",
                        "-c",
                        "import os; print('\\n'.join(os.readlink('/proc/1/fd/' + f) for f in os.listdir('/proc/1/fd')))",
                    ]
                )
                links = listing.output.decode().splitlines()
                await session.aclose()
                return str(container.name), container.attrs, links, container.diff()

    name, attrs, links, diff = asyncio.run(scenario())
    memfds = sorted(link for link in links if link.startswith("/memfd:"))
    assert len(memfds) == 8, links  # chain and key of each of the four certificates
    assert all(link.endswith("(deleted)") for link in memfds)
    assert attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert attrs["HostConfig"]["NetworkMode"] == "host"
    assert diff in (None, []), "nothing is written in the container"
    env = attrs["Config"]["Env"]
    assert any(entry.startswith("CONNECT_CONFORMANCE_PEER_TOKEN_SHA256=") for entry in env)
    assert not any(entry.startswith("CONNECT_CONFORMANCE_PEER_TOKEN=") for entry in env), "only the token's digest"
    assert engine.containers.list(all=True, filters={"name": name}) == []


def test_without_an_engine_the_run_exits_3_saying_how_to_start_one(tmp_path: Path) -> None:
    nowhere = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    done = run_cli("run", "-k", "address", "--peer", "docker", report_dir=tmp_path, env=nowhere)
    assert done.code == 3, done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(f"error: no Docker engine answers at unix://{tmp_path}/no-engine.sock: start one with")
    assert "servers/docker/engine.sh" in message
    assert done.results()["run"]["error"].startswith("no Docker engine answers")
    servers = run_cli("servers", "--docker", report_dir=tmp_path, env=nowhere)
    assert servers.code == 3
    assert "no Docker engine answers" in servers.stderr


def test_a_base_without_python_fails_the_build_with_its_log_and_leaves_nothing(
    engine: docker.DockerClient, tmp_path: Path
) -> None:
    rootfs = io.BytesIO()
    with tarfile.open(fileobj=rootfs, mode="w") as tar:
        info = tarfile.TarInfo("etc/marker")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    tag = f"connect-conformance-test/no-python:{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "import", "-", tag], input=rootfs.getvalue(), check=True, capture_output=True)
    images_before = {str(image.id) for image in engine.images.list(all=True)}
    try:
        done = run_cli("peer", "image", report_dir=tmp_path, env={docker_support.BASE_ENV: tag}, timeout=300)
        assert done.code == 3, done.stderr
        assert done.stderr.startswith(f"error: the peer image did not build (base {tag})")
        assert "Step 5/" in done.stderr, "the end of the build log is shown"
        assert 'RUN ["python3"' in done.stderr
        assert 'exec: "python3": executable file not found' in done.stderr
        assert {str(image.id) for image in engine.images.list(all=True)} == images_before
        assert engine.containers.list(all=True, filters={"ancestor": tag}) == []
    finally:
        engine.images.remove(tag, force=True)


def read_json_lines(process: subprocess.Popen[str], count: int) -> list[dict[str, Any]]:
    """The first `count` lines of stdout (pytest-timeout bounds the wait: they come once all are healthy)."""
    assert process.stdout is not None
    lines = []
    for _ in range(count):
        line = process.stdout.readline()
        assert line, f"the servers exited early: {process.stderr.read() if process.stderr else ''}"
        lines.append(json.loads(line))
    return lines


def assert_echo_tls_and_starttls(ports: dict[str, int], ca_file: Path) -> None:
    with socket.create_connection(("127.0.0.1", ports["echo"]), timeout=5) as plain:
        plain.sendall(b"plain\n")
        assert plain.recv(100) == b"plain\n"
    openssl = require_program(("openssl",), "apt-get install -y openssl")
    # -verify_return_error: s_client gives up unless the chain verifies against the CA it was given.
    checked = subprocess.run(
        [
            openssl,
            "s_client",
            "-connect",
            f"127.0.0.1:{ports['tls']}",
            "-CAfile",
            str(ca_file),
            "-servername",
            "localhost",
            "-verify_return_error",
        ],
        input=b"",  # shake hands, verify, leave
        capture_output=True,
        timeout=20,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr.decode()
    assert b"Verify return code: 0 (ok)" in checked.stdout
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection(("127.0.0.1", ports["tls"]), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"over tls\n")
        assert tls.recv(100) == b"over tls\n"
    with socket.create_connection(("127.0.0.1", ports["starttls"]), timeout=5) as raw:
        raw.sendall(b"STARTTLS\r\n")
        assert raw.recv(100) == b"OK\r\n"
        with context.wrap_socket(raw, server_hostname="localhost") as upgraded:
            assert upgraded.version() == "TLSv1.3"
            upgraded.sendall(b"after the upgrade\n")
            assert upgraded.recv(100) == b"after the upgrade\n"


def test_servers_in_containers_serve_echo_tls_and_starttls_then_go(
    peer_image: str, engine: docker.DockerClient, tmp_path: Path
) -> None:
    process = run_in_background(
        "servers", "--docker", "--kind", "echo", "--kind", "tls", "--kind", "starttls", report_dir=tmp_path
    )
    try:
        ca, *servers = read_json_lines(process, 4)
        assert ca["kind"] == "ca"
        ca_file = Path(ca["file"])
        ports = {line["kind"]: line["port"] for line in servers}
        assert set(ports) == {"echo", "tls", "starttls"}
        for line in servers:
            container = engine.containers.get(line["container"])
            assert container.attrs["State"]["Health"]["Status"] == "healthy"
            assert container.labels[OWNER_PID] == str(process.pid)
        assert_echo_tls_and_starttls(ports, ca_file)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    assert owned_by(engine, process.pid) == []
    assert not ca_file.exists(), "the run's CA is gone with the servers"


@pytest.fixture
def compose() -> list[str]:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return [require_program(("docker-compose",), "apt-get install -y docker-compose")]


@pytest.fixture
def compose_env(peer_image: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    base = subprocess.run([str(BASE_SCRIPT)], capture_output=True, text=True, check=True, timeout=900).stdout.strip()
    certs = tmp_path / "certs"
    certs.mkdir(mode=0o700)
    subprocess.run([sys.executable, "-m", "trustme", "-d", str(certs)], check=True, capture_output=True)
    held = [socket.socket() for _ in range(3)]
    for holder in held:
        holder.bind(("127.0.0.1", 0))
    ports = [holder.getsockname()[1] for holder in held]
    for holder in held:
        holder.close()
    yield {
        **os.environ,
        "PEER_BASE_IMAGE": base,
        "PEER_CERT_DIR": str(certs),
        "PEER_ECHO_PORT": str(ports[0]),
        "PEER_TLS_PORT": str(ports[1]),
        "PEER_STARTTLS_PORT": str(ports[2]),
    }
    shutil.rmtree(certs)  # trustme's CA and key: gone with the test


def test_compose_config_validates_and_names_what_is_missing(compose: list[str], compose_env: dict[str, str]) -> None:
    file = str(REPO / "servers" / "compose.yaml")
    config = subprocess.run(
        [*compose, "-f", file, "config"], env=compose_env, capture_output=True, text=True, check=False
    )
    assert config.returncode == 0, config.stderr
    services = yaml.safe_load(config.stdout)["services"]
    assert set(services) == {"echo", "tls", "starttls"}
    assert {service["network_mode"] for service in services.values()} == {"host"}
    assert services["tls"]["command"][-4:] == [
        "--cert",
        "/run/connect-conformance/server.pem",
        "--key",
        "/run/connect-conformance/server.key",
    ]
    missing = {key: value for key, value in compose_env.items() if key != "PEER_CERT_DIR"}
    refused = subprocess.run([*compose, "-f", file, "config"], env=missing, capture_output=True, text=True, check=False)
    assert refused.returncode != 0
    assert "set PEER_CERT_DIR" in refused.stderr


def test_compose_up_serves_the_same_set(
    compose: list[str], compose_env: dict[str, str], engine: docker.DockerClient
) -> None:
    project = f"cc-test-{uuid.uuid4().hex[:8]}"
    command = [*compose, "-p", project, "-f", str(REPO / "servers" / "compose.yaml")]
    ours = {"label": f"com.docker.compose.project={project}"}
    try:
        up = subprocess.run(
            [*command, "up", "-d", "--build"], env=compose_env, capture_output=True, text=True, timeout=300, check=False
        )
        assert up.returncode == 0, up.stderr
        deadline = time.monotonic() + 120  # healthy after 6 s on a quiet machine
        while not all(
            c.attrs["State"].get("Health", {}).get("Status") == "healthy" for c in engine.containers.list(filters=ours)
        ):
            assert time.monotonic() < deadline, "the compose services did not become healthy"
            time.sleep(0.5)
        assert len(engine.containers.list(filters=ours)) == 3
        ports = {kind: int(compose_env[f"PEER_{kind.upper()}_PORT"]) for kind in ("echo", "tls", "starttls")}
        assert_echo_tls_and_starttls(ports, Path(compose_env["PEER_CERT_DIR"]) / "client.pem")
    finally:
        subprocess.run(
            [*command, "down", "--rmi", "all"], env=compose_env, capture_output=True, timeout=120, check=False
        )
    assert engine.containers.list(all=True, filters=ours) == []
    assert engine.networks.list(filters=ours) == []
