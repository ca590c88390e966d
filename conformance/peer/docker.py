"""`run --peer docker`: the peer service in a container this run starts, drives and removes.

The container runs `python3 -m conformance_peer.control --once` on the host's
network (so the listeners it opens are on the same loopback as the
implementation under test), with a read-only root filesystem, no capabilities
but binding low ports, and the SHA-256 of a fresh token as its only secret. The
run's certificates reach it over the control channel and stay in its memory.
It exits by itself when the control connection ends (the harness died), and
the run removes it, Ctrl-C included.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from conformance_peer.control import TOKEN_SHA256_ENV

from ..errors import InfrastructureError
from . import docker_engine as docker_support
from .client import RemotePeer

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

ANNOUNCE_TIMEOUT_S = 30.0
FIRST_CLIENT_TIMEOUT_S = 120
"""The container gives up (and exits) when no harness has connected by then."""


def start_container(client: docker.DockerClient, image: str, token: str) -> Container:
    run = docker_support.this_run()
    container: Container = client.containers.run(
        image,
        [
            "python3",
            "-m",
            "conformance_peer.control",
            "--control",
            "127.0.0.1:0",
            "--once",
            "--first-client-timeout",
            str(FIRST_CLIENT_TIMEOUT_S),
        ],
        name=f"connect-conformance-peer-{run.run_id}",
        detach=True,
        environment={TOKEN_SHA256_ENV: hashlib.sha256(token.encode()).hexdigest()},
        labels={**run.labels(), docker_support.LABEL_ROLE: "peer-service"},
        # Not the image's health check: it connects to every socket the process listens on, and
        # here those are the cases' own listeners, where such a probe is a stray connection that
        # fails "nothing was dialled" cases. Readiness is the control connection itself.
        healthcheck={"test": ["NONE"]},
        network_mode="host",
        read_only=True,
        cap_drop=["ALL"],
        cap_add=["NET_BIND_SERVICE"],
        security_opt=["no-new-privileges"],
    )
    return container


def wait_for_announce(container: Container, timeout: float = ANNOUNCE_TIMEOUT_S) -> tuple[str, int]:
    """The control channel's host and port, from the line the service prints once it listens."""
    deadline = time.monotonic() + timeout
    while True:
        for line in container.logs(stdout=True, stderr=False).decode("utf-8", "replace").splitlines():
            with contextlib.suppress(ValueError):
                announced: Any = json.loads(line)
                if isinstance(announced, dict) and "port" in announced:
                    return str(announced["host"]), int(announced["port"])
        container.reload()
        if container.status in ("exited", "dead"):
            logs = container.logs(stdout=False, stderr=True).decode("utf-8", "replace").strip()
            code = container.attrs["State"]["ExitCode"]
            raise InfrastructureError(f"the peer container {container.name} exited ({code}) at start: {logs[-2000:]}")
        if time.monotonic() > deadline:
            raise InfrastructureError(f"the peer container {container.name} did not listen within {timeout:g} s")
        time.sleep(0.05)


@contextlib.asynccontextmanager
async def docker_peer() -> AsyncIterator[RemotePeer]:
    """A connected `RemotePeer` in a fresh container; the container is removed on exit."""
    client = await asyncio.to_thread(docker_support.engine)
    docker_support.remove_run_at_exit(client)
    await asyncio.to_thread(docker_support.remove_leftovers, client)
    image = await asyncio.to_thread(docker_support.peer_image, client)
    token = secrets.token_urlsafe(32)
    # Shielded: a Ctrl-C during the start still gets the container back, to remove it.
    starting = asyncio.ensure_future(asyncio.to_thread(start_container, client, image, token))
    try:
        container = await asyncio.shield(starting)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(_remove, await starting)
        raise
    except Exception as error:
        raise InfrastructureError(f"the peer container did not start from {image}: {error}") from None
    try:
        host, port = await asyncio.to_thread(wait_for_announce, container)
        async with await RemotePeer.connect(host, port, token) as remote:
            yield remote
    finally:
        await asyncio.shield(asyncio.to_thread(_remove, container))


def _remove(container: Container) -> None:
    import docker

    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True)
