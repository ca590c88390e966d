"""The harness's own image on a real engine: ``connect-conformance image`` builds it, and ``IMAGE run`` on the
reference and on workerd exits 0 and writes its results to a mounted folder.

The engine is started by servers/docker/engine.sh when none answers; the base is the local one of
servers/docker/base-image.sh (no registry here). The first build takes about a minute on 2 cores (the
pinned npm package sets are about 520 MB of context); an unchanged image is found again in seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import docker
import pytest

from conformance._version import __version__
from conformance.peer import docker_engine, harness_image
from tests.helpers import REPO, require_npm_packages, require_program

pytestmark = [pytest.mark.slow, pytest.mark.docker]

BASE_SCRIPT = REPO / "servers" / "docker" / "base-image.sh"
#: A few cases of several areas, TLS among them (the run's CA must reach the runtime in the image).
FEW = "lifecycle.close or tls.opened-resolves-after-handshake or tls.ipv6-literal or half-open.peer-fin"


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    with contextlib.suppress(docker.errors.DockerException):
        client = docker.from_env()
        client.ping()
        return client
    require_program(("dockerd",), "apt-get install -y docker.io")
    started = subprocess.run([str(BASE_SCRIPT.parent / "engine.sh")], capture_output=True, text=True, timeout=180)
    if started.returncode != 0:
        pytest.fail(f"no Docker engine (servers/docker/engine.sh): {started.stderr.strip()}")
    return docker.from_env()


@pytest.fixture(scope="module")
def image(engine: docker.DockerClient) -> str:
    wanted = subprocess.run([str(BASE_SCRIPT), "--print-tag"], capture_output=True, text=True, check=True).stdout
    if not os.environ.get(docker_engine.BASE_ENV) and not engine.images.list(name=wanted.strip()):
        require_program(("debootstrap",), "apt-get install -y debootstrap")
    for package_set in harness_image.package_sets():
        require_npm_packages(package_set)  # installed before the build, which copies them
    built = subprocess.run(
        [sys.executable, "-m", "conformance", "image"], capture_output=True, text=True, timeout=900, cwd=REPO
    )
    assert built.returncode == 0, built.stderr[-3000:]
    tag = built.stdout.strip()
    assert tag.startswith(f"{harness_image.REPOSITORY}:{__version__}-")
    return tag


def run_image(engine: docker.DockerClient, tag: str, reports: Path, *args: str) -> tuple[int, str]:
    """``docker run --network none --sysctl net.ipv6.conf.lo.disable_ipv6=0 -v REPORTS:/work/reports TAG ARGS``."""
    reports.mkdir(parents=True, exist_ok=True)
    container = engine.containers.run(
        tag,
        list(args),
        detach=True,
        network_mode="none",
        sysctls={"net.ipv6.conf.lo.disable_ipv6": "0"},  # ::1 for the IPv6 cases (Docker turns it off)
        volumes={str(reports): {"bind": "/work/reports", "mode": "rw"}},
        labels=docker_engine.this_run().labels(),
    )
    try:
        code = int(container.wait(timeout=600)["StatusCode"])
        return code, container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def results(reports: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((reports / "latest" / "results.json").read_text(encoding="utf-8"))
    return loaded


def test_the_image_knows_its_version(engine: docker.DockerClient, image: str, tmp_path: Path) -> None:
    code, output = run_image(engine, image, tmp_path, "--version")
    assert (code, output.strip()) == (0, f"connect-conformance {__version__}")


def test_the_image_runs_cases_on_the_reference(engine: docker.DockerClient, image: str, tmp_path: Path) -> None:
    code, output = run_image(engine, image, tmp_path, "run", "-k", FEW)
    assert code == 0, output[-3000:]
    ran = results(tmp_path)
    assert ran["run"]["adapter"]["name"] == "reference"
    assert ran["run"]["suite_version"] == __version__
    outcomes = {case["id"]: case["outcome"] for case in ran["cases"]}
    assert len(outcomes) >= 10
    assert set(outcomes.values()) == {"pass"}
    assert any(case_id.startswith("tls.") for case_id in outcomes)


def test_the_image_runs_workerd_with_its_shipped_expectations(
    engine: docker.DockerClient, image: str, tmp_path: Path
) -> None:
    code, output = run_image(
        engine, image, tmp_path, "run", "--adapter", "workerd", "--expectations", "workerd", "-k", FEW
    )
    assert code == 0, output[-3000:]
    ran = results(tmp_path)
    assert ran["run"]["adapter"]["name"] == "workerd"
    assert ran["run"]["selection"]["expectations"].startswith("/opt/connect-conformance/venv/")
    outcomes = {case["id"]: case["outcome"] for case in ran["cases"]}
    assert len(outcomes) >= 10
    assert outcomes["tls.ipv6-literal-verifies-ip-san"] == "pass"
    assert list(outcomes.values()).count("pass") >= len(outcomes) - 3, outcomes
    assert not engine.containers.list(
        all=True, filters={"label": f"{docker_engine.LABEL_RUN}={docker_engine.this_run().run_id}"}
    )
