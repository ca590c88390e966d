"""The Docker engine as the harness uses it: a client with clear errors, run labels, leftovers, images.

Everything a run creates in the engine (containers, and networks or temporary
images should it ever make any) carries the run's labels:

| label | value |
|---|---|
| `org.connect-conformance.run` | the run id (unique per process) |
| `org.connect-conformance.owner-host` | the harness's host name |
| `org.connect-conformance.owner-pid` | the harness's process id |
| `org.connect-conformance.owner-start` | that process's start time (so a reused pid is not taken for it) |

The run removes them when it ends (Ctrl-C included; an exit hook catches what
an interrupted start left), and every run first removes those of runs whose
harness is gone (killed with SIGKILL), as leftover workerd folders are.

Images are cached, not temporary: the peer image's tag holds the project's
version and a digest of what it is built from, so an unchanged peer is never
built twice. See docs/docker.md.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import conformance_peer

from .._version import __version__
from ..errors import InfrastructureError

if TYPE_CHECKING:
    import docker

LABEL_RUN = "org.connect-conformance.run"
LABEL_OWNER_HOST = "org.connect-conformance.owner-host"
LABEL_OWNER_PID = "org.connect-conformance.owner-pid"
LABEL_OWNER_START = "org.connect-conformance.owner-start"
LABEL_ROLE = "org.connect-conformance.role"
LABEL_INPUTS = "org.connect-conformance.inputs"

PEER_REPOSITORY = "connect-conformance/peer"
BASE_ENV = "CONNECT_CONFORMANCE_PEER_BASE"
"""An image to build the peer on instead of the local debootstrap base (e.g. python:3.11-slim-bookworm)."""
SERVERS = Path(conformance_peer.__file__).resolve().parents[1]
"""servers/: the Dockerfile, the peer package, docker/*.sh."""
BASE_SCRIPT = SERVERS / "docker" / "base-image.sh"
ENGINE_SCRIPT = SERVERS / "docker" / "engine.sh"
BUILD_LOG_TAIL = 25


@dataclass(frozen=True)
class RunIdentity:
    """Who owns what a run creates in the engine."""

    run_id: str
    host: str
    pid: int
    start: str

    def labels(self) -> dict[str, str]:
        return {
            LABEL_RUN: self.run_id,
            LABEL_OWNER_HOST: self.host,
            LABEL_OWNER_PID: str(self.pid),
            LABEL_OWNER_START: self.start,
        }


def _process_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


@functools.cache
def this_run() -> RunIdentity:
    pid = os.getpid()
    return RunIdentity(uuid.uuid4().hex[:16], socket.gethostname(), pid, _process_start(pid) or "?")


def engine() -> docker.DockerClient:
    """A client of the engine that answers (DOCKER_HOST, else the local socket); InfrastructureError if none."""
    try:
        import docker
    except ImportError:
        raise InfrastructureError("the docker Python SDK is not installed: pip install docker") from None
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as error:
        if "Permission denied" in str(error) or "PermissionError" in str(error):
            raise InfrastructureError(
                f"no permission to use the Docker engine at {where}: run as root or as a member of the docker group"
            ) from None
        raise InfrastructureError(
            f"no Docker engine answers at {where}: start one with {ENGINE_SCRIPT} (as root; docs/docker.md),"
            " or do without Docker (--peer in-process, servers without --docker)"
        ) from None
    return client


def _owner_alive(labels: dict[str, str]) -> bool:
    """Whether the harness that made something is still running (always True for another host's)."""
    if labels.get(LABEL_OWNER_HOST) != socket.gethostname():
        return True
    try:
        pid = int(labels.get(LABEL_OWNER_PID, ""))
    except ValueError:
        return False
    start = _process_start(pid)
    return start is not None and start == labels.get(LABEL_OWNER_START)


def remove_leftovers(client: docker.DockerClient) -> list[str]:
    """Removes the containers, networks and images of runs whose harness is gone; returns what it removed."""
    import docker

    removed = []
    mine = this_run().run_id
    selector: dict[str, str | list[str] | bool] = {"label": LABEL_RUN}
    found: list[Any] = [
        *client.containers.list(all=True, filters=selector),
        *client.networks.list(filters=selector),
        *client.images.list(filters=selector),
    ]
    for thing in found:
        labels = thing.labels or {}
        if labels.get(LABEL_RUN) == mine or _owner_alive(labels):
            continue
        with contextlib.suppress(docker.errors.NotFound):
            _remove(client, thing)
            removed.append(f"{type(thing).__name__.lower()} {getattr(thing, 'name', None) or thing.id}")
    return removed


def _remove(client: docker.DockerClient, thing: Any) -> None:
    from docker.models.containers import Container
    from docker.models.images import Image

    if isinstance(thing, Container):
        thing.remove(force=True)
    elif isinstance(thing, Image):
        client.images.remove(str(thing.id), force=True)
    else:
        thing.remove()


def remove_run(client: docker.DockerClient, run_id: str | None = None) -> None:
    """Removes everything labelled with this run (or `run_id`): containers first, then networks and images."""
    import docker

    selector: dict[str, str | list[str] | bool] = {"label": f"{LABEL_RUN}={run_id or this_run().run_id}"}
    leftovers: list[Any] = [
        *client.containers.list(all=True, filters=selector),
        *client.networks.list(filters=selector),
        *client.images.list(filters=selector),
    ]
    for thing in leftovers:
        with contextlib.suppress(docker.errors.NotFound):
            _remove(client, thing)


@functools.cache
def remove_run_at_exit(client: docker.DockerClient) -> None:
    """Registers (once) a last sweep of this run's things at interpreter exit.

    The normal path removes them as it goes; this catches a container whose
    creation was still under way when Ctrl-C cancelled the run.
    """

    def sweep() -> None:
        with contextlib.suppress(Exception):
            remove_run(client)

    atexit.register(sweep)


def base_image() -> str:
    """The image the peer is built on: $CONNECT_CONFORMANCE_PEER_BASE, else the local debootstrap base.

    The local base is made by servers/docker/base-image.sh on first use (about a
    minute; cached in the engine afterwards, keyed by the script's content).
    """
    chosen = os.environ.get(BASE_ENV)
    if chosen:
        return chosen
    if not BASE_SCRIPT.is_file():
        # An installed wheel has no servers/ folder: the local base is made from a checkout only.
        raise InfrastructureError(
            f"no local base image here (servers/docker/base-image.sh comes with a checkout, not with the wheel): "
            f"set {BASE_ENV} (or `image --base`) to an image with Python 3.11, e.g. python:3.11-slim-bookworm"
        )
    started = time.monotonic()
    try:
        done = subprocess.run([str(BASE_SCRIPT)], capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InfrastructureError(f"{BASE_SCRIPT} did not run: {error}") from None
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-BUILD_LOG_TAIL:])
        raise InfrastructureError(f"the base image could not be made ({BASE_SCRIPT}):\n{tail}")
    if time.monotonic() - started > 5:
        print(done.stderr.strip(), file=sys.stderr)
    return done.stdout.strip().splitlines()[-1]


def _peer_files() -> list[tuple[str, bytes]]:
    """The build context: the Dockerfile and the peer package's sources, in a stable order."""
    package = Path(conformance_peer.__file__).resolve().parent
    files = [("Dockerfile", (SERVERS / "Dockerfile").read_bytes())]
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".typed"):
            files.append((f"conformance_peer/{path.relative_to(package).as_posix()}", path.read_bytes()))
    return files


def _context(files: list[tuple[str, bytes]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def resolve_base(client: docker.DockerClient, base: str | None = None) -> tuple[str, str]:
    """The base to build on (``base``, else ``base_image()``) and its image id, which image digests cover.

    A base the user chose (``base`` or $CONNECT_CONFORMANCE_PEER_BASE) that the engine does not have is
    pulled by the build from their registry; a missing local base is an InfrastructureError.
    """
    import docker

    chosen_by_user = base is not None or bool(os.environ.get(BASE_ENV))
    base = base or base_image()
    try:
        return base, str(client.images.get(base).id)
    except docker.errors.ImageNotFound:
        if not chosen_by_user:
            raise InfrastructureError(f"the base image {base} is not in the engine: run {BASE_SCRIPT}") from None
        return base, base


@dataclass(frozen=True)
class ImageBuild:
    """One image of the project, tagged ``<repository>:<version>-<inputs>``: built only when no image of
    that tag exists, through the SDK, without a network."""

    repository: str
    #: The ``org.connect-conformance.role`` label: ``peer``, ``harness``.
    role: str
    #: A digest of everything the image is made from, the base image's id included.
    inputs: str
    base: str
    base_id: str
    #: The build context, a tar; made only when the image is built (it may be large), closed after it.
    context: Callable[[], IO[bytes]]
    #: Build arguments besides ``BASE``.
    buildargs: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return f"{self.repository}:{__version__}-{self.inputs}"


def build_image(client: docker.DockerClient, build: ImageBuild) -> str:
    """The image's tag, built unless an image of the same inputs exists. InfrastructureError (with the
    end of the build log) when it does not build; the step images of a failed build are removed, and
    after a new build the older images of the repository that no container uses."""
    import docker

    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(build.tag)
        return build.tag
    started = time.monotonic()
    try:
        with build.context() as context:  # closing it removes a temporary file
            client.images.build(
                fileobj=context,
                custom_context=True,
                tag=build.tag,
                buildargs={"BASE": build.base, **build.buildargs},
                labels={LABEL_ROLE: build.role, LABEL_INPUTS: build.inputs},
                network_mode="none",  # the build needs no network, and this engine may have no bridge
                rm=True,
                forcerm=True,
            )
    except docker.errors.BuildError as error:
        lines = [str(entry.get("stream") or entry.get("error") or "").rstrip() for entry in error.build_log]
        _remove_step_images(client, "\n".join(lines).splitlines(), build.base_id)
        tail = "\n".join(line for line in lines if line)
        tail = "\n".join(tail.splitlines()[-BUILD_LOG_TAIL:])
        raise InfrastructureError(
            f"the {build.role} image did not build (base {build.base}): {error.msg}\n{tail}"
        ) from None
    except docker.errors.APIError as error:
        raise InfrastructureError(
            f"the {build.role} image did not build (base {build.base}): {error.explanation}"
        ) from None
    print(f"built {build.tag} on {build.base} in {time.monotonic() - started:.1f} s", file=sys.stderr)
    _remove_older_images(client, build.repository, build.role, build.tag)
    return build.tag


def peer_image(client: docker.DockerClient, base: str | None = None, dockerfile: bytes | None = None) -> str:
    """The peer image's tag, built through the SDK unless an image of the same inputs exists.

    The tag is `connect-conformance/peer:<version>-<digest>`, the digest covering
    the base image's id, the Dockerfile and every file of the peer package.
    InfrastructureError (with the end of the build log) when it does not build.
    `dockerfile` replaces servers/Dockerfile (the project's tests use it to break a build).
    """
    base, base_id = resolve_base(client, base)
    files = _peer_files()
    if dockerfile is not None:
        files[0] = ("Dockerfile", dockerfile)
    digest = hashlib.sha256(base_id.encode())
    for name, data in files:
        digest.update(f"\0{name}\0{len(data)}\0".encode())
        digest.update(data)
    return build_image(
        client,
        ImageBuild(
            PEER_REPOSITORY,
            "peer",
            digest.hexdigest()[:16],
            base,
            base_id,
            lambda: _context(files),
        ),
    )


def _remove_step_images(client: docker.DockerClient, log: list[str], base_id: str) -> None:
    """Removes the untagged images a failed build committed for its steps (` ---> <id>` in its log)."""
    import docker

    for line in reversed(log):
        step = line.strip()
        if not step.startswith("---> ") or " " in step[len("---> ") :]:
            continue
        with contextlib.suppress(docker.errors.APIError):
            image = client.images.get(step[len("---> ") :])
            if not image.tags and image.id != base_id:
                client.images.remove(str(image.id))


def _remove_older_images(client: docker.DockerClient, repository: str, role: str, keep: str) -> None:
    """Older builds only take space (the peer rebuilds in a second); one a container uses stays."""
    import docker

    for image in client.images.list(name=repository, filters={"label": f"{LABEL_ROLE}={role}"}):
        if keep not in image.tags:
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(str(image.id))
