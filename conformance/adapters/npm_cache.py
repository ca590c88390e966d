"""The npm packages of the JavaScript adapters, installed on first use into a cache folder.

Two kinds of cache entry live under ``$CONNECT_CONFORMANCE_CACHE/npm/`` (default
``~/.cache/connect-conformance``):

- a **pinned package set** (``js/packages/<name>/``: package.json + package-lock.json),
  installed with ``npm ci`` into a folder named after the lockfile's digest, so a
  changed pin gets a fresh install and an unchanged one is reused offline
  (``ensure``);
- **one published version** of a package (``--adapter workerd@1.20260426.1``),
  installed with ``npm install <package>@<version>`` into ``<package>@<version>/``,
  whose resulting package-lock.json stays there as the record of what was
  installed (``ensure_version``).

An entry counts as installed once its ``.installed`` stamp exists; until then
nothing in it is used, and after that npm is never asked again (offline runs).
Installs go to a sibling folder first and are renamed into place, so an
interrupted install never looks complete. The staging folder names its owner
(``.owner``: PID and start time); a later install removes the staging folders
of owners that are gone (an install killed with SIGKILL leaves one behind). Progress goes to stderr: a line when
an install starts and one when it ends (npm draws its own progress on a terminal);
a workerd version moves 65 to 160 MB.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from ..errors import InfrastructureError

PACKAGES = resources.files(__package__).joinpath("js", "packages")
INSTALL_TIMEOUT_S = 900
STAMP = ".installed"
OWNER = ".owner"
#: A staging folder without an owner file (being created, or from a version before owners) is left this long.
OWNERLESS_GRACE_S = 3600.0


def cache_root() -> Path:
    configured = os.environ.get("CONNECT_CONFORMANCE_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "connect-conformance"


def safe_name(package: str) -> str:
    """An npm package name as one folder name: ``@arrowood.dev/socket`` -> ``arrowood.dev+socket``."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", package.lstrip("@").replace("/", "+"))


def _package_files(name: str) -> dict[str, bytes]:
    folder = PACKAGES.joinpath(name)
    return {file: folder.joinpath(file).read_bytes() for file in ("package.json", "package-lock.json")}


def pinned_dependencies(name: str) -> dict[str, str]:
    """The dependencies package set ``name`` pins (its package.json)."""
    manifest = json.loads(_package_files(name)["package.json"])
    return {str(k): str(v) for k, v in manifest.get("dependencies", {}).items()}


def install_dir(name: str) -> Path:
    files = _package_files(name)
    digest = hashlib.sha256(files["package.json"] + files["package-lock.json"]).hexdigest()[:12]
    return cache_root() / "npm" / f"{name}-{digest}"


def version_dir(package: str, version: str) -> Path:
    return cache_root() / "npm" / f"{safe_name(package)}@{version}"


def is_installed(folder: Path) -> bool:
    return (folder / STAMP).is_file()


def ensure(name: str, quiet: bool = False) -> Path:
    """The installed ``node_modules`` folder of package set ``name``, installing it if needed."""
    target = install_dir(name)
    if not is_installed(target):
        _install(target, _package_files(name), ["ci"], f"the npm packages of the {name} adapter", quiet)
    return target / "node_modules"


def ensure_version(package: str, version: str, quiet: bool = False) -> Path:
    """The ``node_modules`` folder holding ``package`` at exactly ``version``, installing it if needed."""
    target = version_dir(package, version)
    if not is_installed(target):
        manifest = {
            "name": f"connect-conformance-{safe_name(package).lower()}-{version}",
            "private": True,
            "description": "One published version, installed by connect-conformance on demand.",
            "dependencies": {package: version},
        }
        files = {"package.json": (json.dumps(manifest, indent=2) + "\n").encode()}
        _install(target, files, ["install", "--save-exact"], f"{package}@{version}", quiet)
    return target / "node_modules"


def _owner_of(pid: int) -> str:
    """A process named so that a reused PID is not mistaken for it: PID and start time (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return f"{pid} {fields[19]}"  # field 22 of stat, counted after the command name
    except (OSError, IndexError):
        return f"{pid} ?"


def _alive(owner: str) -> bool:
    pid_text, _, started = owner.strip().partition(" ")
    if not pid_text.isdigit():
        return False
    current = _owner_of(int(pid_text))
    if current.endswith(" ?"):
        return Path(f"/proc/{pid_text}").exists() or not Path("/proc/self").exists()
    return current == owner.strip() or started == "?"


def remove_stale_staging(folder: Path) -> list[Path]:
    """Remove the staging folders under ``folder`` whose installer is gone; the ones removed."""
    removed: list[Path] = []
    try:
        candidates = [entry for entry in folder.iterdir() if entry.name.startswith(".") and entry.is_dir()]
    except OSError:
        return removed
    for entry in candidates:
        try:
            owner = (entry / OWNER).read_text()
        except FileNotFoundError:
            try:
                if time.time() - entry.stat().st_mtime < OWNERLESS_GRACE_S:
                    continue
            except OSError:
                continue
            owner = ""
        except OSError:
            continue
        if owner and _alive(owner):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _size_mb(folder: Path) -> float:
    total = 0
    seen: set[int] = set()  # npm hard-links some binaries (workerd, node): count each file once
    for root, _, files in os.walk(folder):
        for file in files:
            try:
                status = os.lstat(os.path.join(root, file))
            except OSError:
                continue
            if status.st_ino not in seen:
                seen.add(status.st_ino)
                total += status.st_size
    return total / 1e6


def _install(target: Path, files: Mapping[str, bytes], command: list[str], label: str, quiet: bool) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise InfrastructureError(f"installing {label} needs npm (and Node.js)")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    started = time.monotonic()
    try:
        (staging / OWNER).write_text(_owner_of(os.getpid()) + "\n")
        for file, data in files.items():
            (staging / file).write_bytes(data)
        if not quiet:
            print(f"installing {label} into {target} (first use only)...", file=sys.stderr, flush=True)
        done = subprocess.run(
            [npm, *command, "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            stdout=sys.stderr if not quiet else subprocess.DEVNULL,
            stderr=sys.stderr if not quiet else subprocess.PIPE,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace")[-2000:] if done.stderr else ""
            raise InfrastructureError(f"npm {command[0]} of {label} failed (exit {done.returncode}) {detail}".rstrip())
        (staging / STAMP).write_text("ok\n")
        if not quiet:
            seconds = time.monotonic() - started
            print(f"installed {label} in {seconds:.1f} s ({_size_mb(staging):.0f} MB)", file=sys.stderr, flush=True)
        if is_installed(target):
            return  # another process finished the same install first
        if target.exists():
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            if not is_installed(target):
                raise
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"npm {command[0]} of {label} took longer than {INSTALL_TIMEOUT_S} s") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
