"""The harness image's inputs without an engine: which wheel, the tag's digest, the build context."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import docker
import pytest

from conformance.adapters import npm_cache
from conformance.core import packaged
from conformance.errors import UsageError
from conformance.peer import docker_engine, harness_image


def make_wheel(path: Path, text: str, when: tuple[int, int, int, int, int, int] = (2026, 1, 1, 0, 0, 0)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("conformance/__init__.py", when), text)
    return path


def test_the_wheels_digest_is_of_its_files_not_of_the_zip(tmp_path: Path) -> None:
    first = harness_image.wheel_digest(make_wheel(tmp_path / "a" / "x.whl", "one"))
    rebuilt = harness_image.wheel_digest(make_wheel(tmp_path / "b" / "x.whl", "one", (2027, 2, 2, 0, 0, 0)))
    changed = harness_image.wheel_digest(make_wheel(tmp_path / "c" / "x.whl", "two"))
    assert first == rebuilt
    assert changed != first


class Record:
    def __init__(self, record: object) -> None:
        self.record = record

    def read_text(self, name: str) -> str:
        return json.dumps(self.record)


def test_the_wheel_is_the_given_one_else_the_checkouts_else_the_one_installed_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = make_wheel(tmp_path / "given.whl", "x")
    assert harness_image.suite_wheel(given, tmp_path) == given
    with pytest.raises(UsageError, match=r"--wheel .*nothing\.whl: no such wheel file"):
        harness_image.suite_wheel(tmp_path / "nothing.whl", tmp_path)

    built: list[Path] = []
    monkeypatch.setattr(packaged, "editable_source", lambda: tmp_path / "checkout")
    monkeypatch.setattr(harness_image, "build_wheel", lambda checkout, into: built.append(checkout) or given)
    assert harness_image.suite_wheel(None, tmp_path) == given
    assert built == [tmp_path / "checkout"]

    monkeypatch.setattr(packaged, "editable_source", lambda: None)
    origin = make_wheel(tmp_path / "downloads" / "connect_conformance-0.1.0-py3-none-any.whl", "x")
    records = [Record({"url": origin.as_uri(), "archive_info": {}})]
    monkeypatch.setattr(harness_image.metadata, "distributions", lambda name: records)
    assert harness_image.suite_wheel(None, tmp_path) == origin
    origin.unlink()  # the file it came from is gone
    with pytest.raises(UsageError, match="give one with --wheel FILE"):
        harness_image.suite_wheel(None, tmp_path)


def package_set(cache: Path, name: str) -> Path:
    folder = cache / "npm" / f"{name}-0123456789ab"
    (folder / "node_modules" / ".bin").mkdir(parents=True)
    folder.chmod(0o700)  # as npm_cache leaves it: private to its owner
    (folder / ".installed").write_text("ok")
    tool = folder / "node_modules" / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o700)
    (folder / "node_modules" / ".bin" / "tool").symlink_to("../tool")
    if name == harness_image.NODE_SET:
        node = folder / "node_modules" / "node" / "bin" / "node"
        node.parent.mkdir(parents=True)
        node.write_text("node")
    return folder


def test_the_context_holds_the_dockerfile_the_wheels_and_the_package_sets_readable_by_anyone(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    make_wheel(wheels / "connect_conformance-0.1.0-py3-none-any.whl", "x")
    sets = [package_set(tmp_path / "cache", "workerd")]
    with harness_image.context_file(b"FROM scratch\n", wheels, sets) as context, tarfile.open(fileobj=context) as tar:
        members = {member.name: member for member in tar.getmembers()}
        assert tar.extractfile("Dockerfile").read() == b"FROM scratch\n"  # type: ignore[union-attr]
    assert "wheels/connect_conformance-0.1.0-py3-none-any.whl" in members
    folder = "cache/npm/workerd-0123456789ab"
    assert members[folder].mode == 0o755
    assert members[f"{folder}/node_modules/tool"].mode == 0o755
    assert members[f"{folder}/.installed"].mode == 0o644
    assert members[f"{folder}/node_modules/.bin/tool"].issym()
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}


class FakeImages:
    def __init__(self) -> None:
        self.built: list[dict[str, object]] = []
        self.tags: set[str] = set()

    def get(self, name: str) -> object:
        if name.startswith(harness_image.REPOSITORY) and name not in self.tags:
            raise docker.errors.ImageNotFound(name)
        return type("Image", (), {"id": "sha256:base"})()

    def build(self, **kwargs: object) -> None:
        context = kwargs["fileobj"]
        assert isinstance(context, io.BufferedRandom | io.BytesIO)
        with tarfile.open(fileobj=context) as tar:
            kwargs["names"] = tar.getnames()
        self.built.append(kwargs)
        self.tags.add(str(kwargs["tag"]))

    def list(self, **kwargs: object) -> list[object]:
        return []


class FakeClient:
    def __init__(self) -> None:
        self.images = FakeImages()


def test_the_image_is_built_once_per_inputs_with_the_node_of_the_miniflare_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("CONNECT_CONFORMANCE_CACHE", str(cache))
    folders = {name: package_set(cache, name) for name in harness_image.package_sets()}
    monkeypatch.setattr(npm_cache, "ensure", lambda name, quiet=False: folders[name] / "node_modules")
    monkeypatch.setattr(npm_cache, "install_dir", lambda name: folders[name])
    probed: list[str] = []
    monkeypatch.setattr(
        harness_image, "base_python", lambda client, base: probed.append(base) or ("3.11", 36, "x86_64")
    )

    def download(wheel: Path, python: tuple[str, int, str], into: Path) -> None:
        make_wheel(into / "pip-26.0-py3-none-any.whl", "pip")

    monkeypatch.setattr(harness_image, "download_wheels", download)
    client = FakeClient()
    wheel = make_wheel(tmp_path / "one" / "connect_conformance-0.1.0-py3-none-any.whl", "one")

    def image(path: Path) -> str:
        return harness_image.harness_image(client, wheel=path, base="base:1")  # type: ignore[arg-type]

    first = image(wheel)
    again = image(make_wheel(tmp_path / "rebuilt" / wheel.name, "one", (2030, 1, 1, 0, 0, 0)))
    changed = image(make_wheel(tmp_path / "two" / wheel.name, "two"))
    assert first == again != changed
    assert first.startswith(f"{harness_image.REPOSITORY}:")
    assert len(client.images.built) == 2
    assert probed == ["base:1", "base:1"]  # the base is asked only when an image is built
    build = client.images.built[0]
    assert build["buildargs"] == {
        "BASE": "base:1",
        "NODE": f"npm/{folders['miniflare'].name}/node_modules/node/bin/node",
    }
    assert build["network_mode"] == "none"
    assert build["labels"] == {docker_engine.LABEL_ROLE: "harness", docker_engine.LABEL_INPUTS: first.rsplit("-", 1)[1]}
    names: list[str] = build["names"]  # type: ignore[assignment]
    assert {"Dockerfile", f"wheels/{wheel.name}", "wheels/pip-26.0-py3-none-any.whl"} <= set(names)
    assert {f"cache/npm/{folder.name}" for folder in folders.values()} <= set(names)


def test_the_dockerfile_is_shipped_and_runs_the_suite_from_the_cache_it_copies() -> None:
    dockerfile = (packaged.data_dir("docker") / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG BASE=" in dockerfile
    assert "ENV CONNECT_CONFORMANCE_CACHE=/opt/connect-conformance/cache" in dockerfile
    assert "COPY cache /opt/connect-conformance/cache" in dockerfile
    assert 'ENTRYPOINT ["connect-conformance"]' in dockerfile
