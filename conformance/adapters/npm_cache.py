"""The npm packages of the JavaScript adapters, installed on first use into a cache folder.

Each package set (``js/packages/<name>/``: package.json + package-lock.json)
is installed with ``npm ci`` into ``$CONNECT_CONFORMANCE_CACHE`` (default
``~/.cache/connect-conformance``) under a folder named after the lockfile's
digest, so a changed pin gets a fresh install and an unchanged one is reused
offline. npm's progress goes to the terminal: the first workerd install moves
about 160 MB.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from ..errors import InfrastructureError

PACKAGES = resources.files(__package__).joinpath("js", "packages")
INSTALL_TIMEOUT_S = 900


def cache_root() -> Path:
    configured = os.environ.get("CONNECT_CONFORMANCE_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "connect-conformance"


def _package_files(name: str) -> dict[str, bytes]:
    folder = PACKAGES.joinpath(name)
    return {file: folder.joinpath(file).read_bytes() for file in ("package.json", "package-lock.json")}


def install_dir(name: str) -> Path:
    files = _package_files(name)
    digest = hashlib.sha256(files["package.json"] + files["package-lock.json"]).hexdigest()[:12]
    return cache_root() / "npm" / f"{name}-{digest}"


def ensure(name: str, quiet: bool = False) -> Path:
    """The installed ``node_modules`` folder of package set ``name``, installing it if needed."""
    target = install_dir(name)
    stamp = target / ".installed"
    if stamp.is_file():
        return target / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        raise InfrastructureError(f"the {name} adapter needs npm (and Node.js) to install its packages")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Install into a sibling folder, then rename: an interrupted install never looks complete.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        for file, data in _package_files(name).items():
            (staging / file).write_bytes(data)
        if not quiet:
            print(
                f"installing the npm packages of the {name} adapter into {target} (first use only)...",
                file=sys.stderr,
                flush=True,
            )
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging,
            stdout=sys.stderr if not quiet else subprocess.DEVNULL,
            stderr=sys.stderr if not quiet else subprocess.PIPE,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace")[-2000:] if done.stderr else ""
            raise InfrastructureError(f"npm ci for the {name} adapter failed (exit {done.returncode}) {detail}")
        (staging / ".installed").write_text("ok\n")
        if stamp.is_file():
            return target / "node_modules"  # another process finished the same install first
        if target.exists():
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            if not stamp.is_file():
                raise
    except subprocess.TimeoutExpired:
        raise InfrastructureError(f"npm ci for the {name} adapter took longer than {INSTALL_TIMEOUT_S} s") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target / "node_modules"
