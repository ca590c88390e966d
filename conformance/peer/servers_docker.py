"""`connect-conformance servers --docker`: the standalone echo, TLS echo and STARTTLS echo servers in containers.

One container per `--kind`, on the host's network, bound to `--host` (loopback
by default), each health-checked by Docker (`conformance_peer.health`). Once
all are healthy it prints the run CA's file (when a TLS kind runs) and one JSON
line per server, as `servers` does without Docker, plus the container's name;
then it serves until SIGINT or SIGTERM and removes the containers. TLS servers
present the `good` certificate of a CA made for this run, mounted read-only.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING

from ..core.certificates import RunCertificates
from ..errors import InfrastructureError, UsageError
from . import docker_engine as docker_support

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

HEALTHY_TIMEOUT_S = 30.0
HEALTH_INTERVAL_NS = 500_000_000
CERT_DIR = "/run/connect-conformance"
"""Where a TLS server's certificate and key are mounted in its container (read-only)."""


def _free_ports(host: str, count: int) -> list[int]:
    """Ports free on `host` now (the containers share the host's network, so the host can tell)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    holders = [socket.socket(family, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for holder in holders:
            holder.bind((host, 0))
        return [holder.getsockname()[1] for holder in holders]
    finally:
        for holder in holders:
            holder.close()


def _start(
    client: docker.DockerClient, image: str, kind: str, host: str, port: int, certificates: RunCertificates | None
) -> Container:
    run = docker_support.this_run()
    command = ["python3", "-m", "conformance_peer", "--kind", kind, "--host", host, "--port", str(port)]
    volumes = {}
    if certificates is not None and kind in ("tls", "starttls"):
        volumes = {
            str(certificates.chain_file("good")): {"bind": f"{CERT_DIR}/chain.pem", "mode": "ro"},
            str(certificates.key_file("good")): {"bind": f"{CERT_DIR}/key.pem", "mode": "ro"},
        }
        command += ["--cert", f"{CERT_DIR}/chain.pem", "--key", f"{CERT_DIR}/key.pem"]
    container: Container = client.containers.run(
        image,
        command,
        name=f"connect-conformance-{kind}-{run.run_id}",
        detach=True,
        labels={**run.labels(), docker_support.LABEL_ROLE: f"server-{kind}"},
        network_mode="host",
        read_only=True,
        cap_drop=["ALL"],
        cap_add=["NET_BIND_SERVICE"],
        security_opt=["no-new-privileges"],
        volumes=volumes,
        healthcheck={
            "test": ["CMD", "python3", "-m", "conformance_peer.health"],
            "interval": HEALTH_INTERVAL_NS,
            "timeout": 3_000_000_000,
            "retries": 3,
        },
    )
    return container


def _wait_healthy(containers: Sequence[Container], timeout: float = HEALTHY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(containers)
    while waiting:
        for container in list(waiting):
            container.reload()
            state = container.attrs["State"]
            if state.get("Health", {}).get("Status") == "healthy":
                waiting.remove(container)
            elif state["Status"] in ("exited", "dead"):
                raise InfrastructureError(f"{container.name} exited ({state['ExitCode']}): {_logs(container)}")
        if waiting and time.monotonic() > deadline:
            names = ", ".join(str(container.name) for container in waiting)
            raise InfrastructureError(f"not healthy within {timeout:g} s: {names}: {_logs(waiting[0])}")
        time.sleep(0.1)


def _logs(container: Container) -> str:
    with contextlib.suppress(Exception):
        return container.logs().decode("utf-8", "replace").strip()[-2000:]
    return ""


@contextlib.contextmanager
def _until_signal() -> Iterator[threading.Event]:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def serve_in_containers(kinds: Sequence[str], host: str, ports: Sequence[int]) -> int:
    """Runs the servers until SIGINT or SIGTERM; 0 then, 1 if a container stops on its own, 3 if none starts."""
    if ports and len(ports) != len(kinds):
        raise UsageError("servers --docker: give one --port per --kind, or none (free ports are picked)")
    client = docker_support.engine()
    docker_support.remove_run_at_exit(client)
    for removed in docker_support.remove_leftovers(client):
        print(f"removed {removed}, left by a run that is gone", file=sys.stderr)
    image = docker_support.peer_image(client)
    chosen = list(ports) or _free_ports(host, len(kinds))
    containers: list[Container] = []
    with RunCertificates() as certificates, _until_signal() as stop:
        try:
            for kind, port in zip(kinds, chosen, strict=True):
                containers.append(_start(client, image, kind, host, port, certificates))
            _wait_healthy(containers)
            if {"tls", "starttls"} & set(kinds):
                # Clients must trust this CA; it is deleted when the servers stop.
                print(json.dumps({"kind": "ca", "file": str(certificates.ca_file)}), flush=True)
            for kind, port, container in zip(kinds, chosen, containers, strict=True):
                print(json.dumps({"kind": kind, "host": host, "port": port, "container": container.name}), flush=True)
            while not stop.wait(1.0):
                for container in containers:
                    container.reload()
                    if container.status != "running":
                        print(f"error: {container.name} stopped: {_logs(container)}", file=sys.stderr)
                        return 1
            return 0
        finally:
            docker_support.remove_run(client)
