"""The Docker support without an engine: what the errors say, who owns a leftover, what the peer
image is built from (its digest follows its inputs)."""

import io
import os
import socket
import tarfile

import docker
import pytest

from conformance.errors import InfrastructureError
from conformance.peer import docker_engine as docker_support


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            "Error while fetching server API version: ('Connection aborted.', FileNotFoundError(2, 'No such file'))",
            "no Docker engine answers at unix:///var/run/docker.sock: start one with",
        ),
        (
            "Error while fetching server API version: ('Connection aborted.', PermissionError(13, 'Permission denied'))",
            "no permission to use the Docker engine at unix:///var/run/docker.sock: run as root",
        ),
    ],
)
def test_engine_errors_say_what_to_do(monkeypatch: pytest.MonkeyPatch, raised: str, expected: str) -> None:
    def refuse(**kwargs: object) -> None:
        raise docker.errors.DockerException(raised)

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(docker, "from_env", refuse)
    with pytest.raises(InfrastructureError) as caught:
        docker_support.engine()
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value), "one line"


def test_a_thing_belongs_to_a_live_harness_only_if_pid_and_start_time_match() -> None:
    me = docker_support.this_run()
    assert me.pid == os.getpid()
    labels = me.labels()
    assert docker_support._owner_alive(labels)
    assert not docker_support._owner_alive({**labels, docker_support.LABEL_OWNER_START: "1"}), "a reused pid"
    assert not docker_support._owner_alive({**labels, docker_support.LABEL_OWNER_PID: "not a pid"})
    other_host = {**labels, docker_support.LABEL_OWNER_HOST: socket.gethostname() + "-elsewhere"}
    assert docker_support._owner_alive(other_host), "another host's harness cannot be checked, so it is left alone"


def test_the_build_context_is_the_dockerfile_and_the_peer_package_only() -> None:
    files = docker_support._peer_files()
    names = [name for name, _ in files]
    assert names[0] == "Dockerfile"
    assert "conformance_peer/control.py" in names
    assert "conformance_peer/health.py" in names
    assert all(name == "Dockerfile" or name.startswith("conformance_peer/") for name in names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    with tarfile.open(fileobj=docker_support._context(files)) as tar:
        assert tar.getnames() == names
        assert tar.extractfile("Dockerfile").read() == files[0][1]  # type: ignore[union-attr]


class FakeImages:
    def __init__(self) -> None:
        self.built: list[dict[str, object]] = []

    def get(self, name: str) -> object:
        if name.startswith(docker_support.PEER_REPOSITORY):
            raise docker.errors.ImageNotFound(name)
        return type("Image", (), {"id": "sha256:base"})()

    def build(self, **kwargs: object) -> None:
        self.built.append(kwargs)

    def list(self, **kwargs: object) -> list[object]:
        return []


class FakeClient:
    def __init__(self) -> None:
        self.images = FakeImages()


def test_the_peer_image_tag_follows_its_inputs() -> None:
    client = FakeClient()
    first = docker_support.peer_image(client, base="base:1")  # type: ignore[arg-type]
    again = docker_support.peer_image(client, base="base:1")  # type: ignore[arg-type]
    changed = docker_support.peer_image(client, base="base:1", dockerfile=b"FROM scratch\n")  # type: ignore[arg-type]
    assert first == again
    assert changed != first
    assert first.startswith(f"{docker_support.PEER_REPOSITORY}:{docker_support.__version__}-")
    build = client.images.built[0]
    assert build["buildargs"] == {"BASE": "base:1"}
    assert build["network_mode"] == "none"
    assert build["forcerm"] is True
    context = build["fileobj"]
    assert isinstance(context, io.BytesIO)
