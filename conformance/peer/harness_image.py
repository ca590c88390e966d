"""The harness's own image (``connect-conformance image``): the suite installed from its wheel, with the
pinned JavaScript runtimes, for CI that has Docker but no Python (docs/docker.md).

The image is ``docker/Dockerfile`` (shipped in the package as ``conformance/docker``) on the base the
peer uses (``docker_engine.resolve_base``). Its build runs without a network, so everything it installs
comes in the build context:

- ``wheels/``: the suite's wheel, its dependencies as wheels for the base's Python, libc and machine
  (``pip download`` here, from PyPI or the pip cache), and pip's own wheel, which the build runs from the
  wheel file itself (a minimal base has no pip);
- ``cache/npm/<set>-<digest>/``: the pinned npm package set of every JS adapter (workerd, node-socket,
  Miniflare with its Node 22), copied from this machine's cache as ``npm_cache.ensure`` installed them
  (the folder names hold a digest of their lockfiles, so the image finds them installed and never runs
  npm). The Node of the Miniflare set is the image's ``node`` (node-socket runs on it).

The suite's wheel is ``--wheel FILE``; else, in an editable install, one built from the checkout; else the
wheel this installation came from (its ``direct_url.json``), while that file is still there. The image's
tag is ``connect-conformance/harness:<version>-<digest>``, the digest covering the base's id, the
Dockerfile, the wheel's contents and the package sets' folder names: an image of the same inputs is reused.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ..adapters import npm_cache, registry
from ..core import packaged
from ..errors import InfrastructureError, UsageError
from . import docker_engine

if TYPE_CHECKING:
    import docker

REPOSITORY = "connect-conformance/harness"
#: The package set whose Node is the image's ``node``.
NODE_SET = "miniflare"
#: What building the wheel reads from a checkout (setup.py maps spec/, expectations/ and docker/ in).
SOURCE = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "conformance",
    "servers/conformance_peer",
    "spec",
    "expectations",
    "docker",
)
_NOT_SOURCE = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", "build", "dist", "*.egg-info")
PIP_TIMEOUT_S = 600


def package_sets() -> list[str]:
    """The pinned npm package sets of the JS adapters (the drivers' clients need servers the image has not)."""
    return sorted(registry.npm_package_sets().values())


def copy_build_inputs(checkout: Path, into: Path) -> None:
    """What building the wheel reads from a checkout, copied to ``into`` (without caches and build leftovers)."""
    into.mkdir(parents=True, exist_ok=True)
    for name in SOURCE:
        found = checkout / name
        if found.is_dir():
            shutil.copytree(found, into / name, ignore=_NOT_SOURCE)
        elif found.is_file():
            shutil.copy2(found, into / name)


def build_wheel(checkout: Path, into: Path) -> Path:
    """``pip wheel . --no-deps`` of a copy of the checkout's build inputs (a stale ``build/`` in the
    checkout never stands in for a file that is gone); the wheel's path."""
    with tempfile.TemporaryDirectory(prefix="connect-conformance-wheel-") as scratch:
        source = Path(scratch) / "source"
        copy_build_inputs(checkout, source)
        done = _pip("wheel", str(source), "--no-deps", "--wheel-dir", str(into))
        if done.returncode != 0:
            raise InfrastructureError(f"the wheel of {checkout} did not build:\n{_tail(done)}")
    built = sorted(into.glob("connect_conformance-*.whl"))
    if not built:
        raise InfrastructureError(f"pip wheel {checkout} made no wheel in {into}")
    return built[-1]


def _installed_from() -> Path | None:
    """The wheel file this installation was installed from, if its install record names one that exists."""
    for distribution in metadata.distributions(name=packaged.DISTRIBUTION):
        try:
            record = json.loads(distribution.read_text("direct_url.json") or "null")
        except ValueError:
            continue
        if isinstance(record, dict) and "archive_info" in record:
            parts = urlsplit(str(record.get("url", "")))
            wheel = Path(unquote(parts.path))
            if parts.scheme == "file" and wheel.suffix == ".whl" and wheel.is_file():
                return wheel
    return None


def suite_wheel(given: Path | None, scratch: Path) -> Path:
    """The wheel the image installs (see the module's docstring for the order)."""
    if given is not None:
        if not given.is_file() or given.suffix != ".whl":
            raise UsageError(f"--wheel {given}: no such wheel file")
        return given
    checkout = packaged.editable_source()
    if checkout is not None:
        return build_wheel(checkout, scratch)
    installed = _installed_from()
    if installed is not None:
        return installed
    raise UsageError(
        "no wheel of connect-conformance to put in the image: this installation is neither an editable "
        "checkout nor installed from a wheel file that is still there; give one with --wheel FILE"
    )


def wheel_digest(wheel: Path) -> str:
    """A digest of the wheel's files (not of the zip, whose timestamps change with every build)."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(f"\0{name}\0".encode())
            digest.update(archive.read(name))
    return digest.hexdigest()


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
        check=False,
    )


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stdout + done.stderr).splitlines() if not line.startswith("WARNING: Location")]
    return "\n".join(lines[-docker_engine.BUILD_LOG_TAIL :])


def base_python(client: docker.DockerClient, base: str) -> tuple[str, int, str]:
    """The base image's Python version (``3.11``), glibc minor version and machine, asked of the base itself."""
    import docker

    probe = "import os, platform, sys; print(sys.version_info[0], sys.version_info[1], os.confstr('CS_GNU_LIBC_VERSION'), platform.machine())"
    try:
        output = client.containers.run(
            base,
            ["python3", "-c", probe],
            remove=True,
            network_mode="none",
            labels={**docker_engine.this_run().labels(), docker_engine.LABEL_ROLE: "harness-probe"},
        )
    except docker.errors.DockerException as error:
        raise InfrastructureError(f"the base image {base} does not run python3: {error}") from None
    major, minor, _, libc, machine = output.decode().split()
    return f"{major}.{minor}", int(libc.split(".")[1]), machine


def download_wheels(wheel: Path, python: tuple[str, int, str], into: Path) -> None:
    """The wheel's dependencies and pip, as wheels for the base's Python, glibc and machine."""
    version, glibc_minor, machine = python
    # pip does not widen a manylinux_2_N platform to the older ones a wheel may be tagged with.
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(glibc_minor, 4, -1)]
    platforms += [f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}", "any"]
    abi = f"cp{version.replace('.', '')}"
    done = _pip(
        "download",
        "--quiet",
        "--dest",
        str(into),
        "--only-binary=:all:",
        "--python-version",
        version,
        "--implementation",
        "cp",
        *(f"--abi={tag}" for tag in (abi, "abi3", "none")),
        *(f"--platform={tag}" for tag in platforms),
        str(wheel),
        "pip",
    )
    if done.returncode != 0:
        raise InfrastructureError(
            f"the wheels for the image (Python {version}, {machine}) did not download:\n{_tail(done)}"
        )


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Owned by root and readable by anyone (the cache's folders are private to their owner here), so
    that the image runs under ``docker run --user`` too."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    if info.isdir() or info.mode & 0o100:
        info.mode = 0o755
    elif not info.issym():
        info.mode = 0o644
    return info


def context_file(dockerfile: bytes, wheels: Path, sets: Iterable[Path]) -> IO[bytes]:
    """The build context as a temporary file (the package sets make it about 520 MB): removed when closed."""
    buffer = tempfile.TemporaryFile(prefix="connect-conformance-image-")  # noqa: SIM115 (the caller closes it)
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(wheels, "wheels", filter=_normalised)
        for folder in sets:
            tar.add(folder, f"cache/npm/{folder.name}", filter=_normalised)
    buffer.seek(0)
    return buffer


def harness_image(client: docker.DockerClient, wheel: Path | None = None, base: str | None = None) -> str:
    """The harness image's tag, built unless one of the same inputs exists (see the module's docstring)."""
    base, base_id = docker_engine.resolve_base(client, base)
    dockerfile = (packaged.data_dir("docker") / "Dockerfile").read_bytes()
    sets = [npm_cache.ensure(name).parent for name in package_sets()]
    node = npm_cache.install_dir(NODE_SET) / "node_modules" / "node" / "bin" / "node"
    if not node.is_file():
        raise InfrastructureError(f"the {NODE_SET} package set brings no Node: {node} is missing")
    with tempfile.TemporaryDirectory(prefix="connect-conformance-image-") as scratch:
        chosen = suite_wheel(wheel, Path(scratch))
        digest = hashlib.sha256(f"{base_id}\0".encode())
        digest.update(dockerfile)
        digest.update(f"\0{wheel_digest(chosen)}\0{sorted(folder.name for folder in sets)}".encode())

        def context() -> IO[bytes]:
            wheels = Path(scratch) / "wheels"
            wheels.mkdir()
            shutil.copy2(chosen, wheels / chosen.name)
            download_wheels(chosen, base_python(client, base), wheels)
            return context_file(dockerfile, wheels, sets)

        build = docker_engine.ImageBuild(
            REPOSITORY,
            "harness",
            digest.hexdigest()[:16],
            base,
            base_id,
            context,
            {"NODE": node.relative_to(npm_cache.cache_root()).as_posix()},
        )
        return docker_engine.build_image(client, build)
