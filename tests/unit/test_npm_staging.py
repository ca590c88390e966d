"""Staging folders of npm installs that died (SIGKILL) are removed by the next install; live ones stay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conformance.adapters import npm_cache


def _staging(folder: Path, name: str, owner: str | None) -> Path:
    path = folder / name
    path.mkdir()
    (path / "package.json").write_text("{}")
    if owner is not None:
        (path / npm_cache.OWNER).write_text(owner + "\n")
    return path


def test_only_the_staging_folders_of_dead_installs_are_removed(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_owner = npm_cache._owner_of(child.pid)  # taken while it lives: PID and start time
    child.wait()
    dead = _staging(tmp_path, ".workerd@1.20261117.1-abc", dead_owner)
    live = _staging(tmp_path, ".workerd@1.20261119.1-def", npm_cache._owner_of(os.getpid()))
    reused = _staging(tmp_path, ".workerd@1.20261123.1-ghi", f"{os.getpid()} 1")  # our PID, another start time
    fresh = _staging(tmp_path, ".miniflare-jkl", None)  # being created: no owner file yet
    old = _staging(tmp_path, ".miniflare-mno", None)  # left by a version that wrote no owner file
    long_ago = time.time() - npm_cache.OWNERLESS_GRACE_S - 60
    os.utime(old, (long_ago, long_ago))
    installed = tmp_path / "workerd-468fff59b8b7"
    installed.mkdir()

    removed = npm_cache.remove_stale_staging(tmp_path)

    assert sorted(removed) == sorted([dead, reused, old])
    assert live.is_dir()
    assert fresh.is_dir()
    assert installed.is_dir()
    assert not dead.exists()
    assert not reused.exists()
    assert not old.exists()
