"""An install killed with SIGKILL leaves its staging folder; the next install removes it (issue 19, defect 8)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FAKE_NPM = """\
#!/bin/sh
# A stand-in for npm: "install" writes node_modules, or hangs while $HANG exists.
while [ -e "$HANG" ]; do sleep 0.05; done
mkdir -p node_modules/fake && echo '{}' > node_modules/fake/package.json
"""


def _install(cache: Path, bin_dir: Path, hang: Path) -> subprocess.Popen[bytes]:
    code = "from conformance.adapters import npm_cache; npm_cache.ensure_version('fake', '1.0.0', quiet=True)"
    environment = {
        **os.environ,
        "CONNECT_CONFORMANCE_CACHE": str(cache),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HANG": str(hang),
    }
    return subprocess.Popen([sys.executable, "-c", code], env=environment)


def test_a_killed_install_leaves_nothing_once_the_next_install_ran(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(textwrap.dedent(FAKE_NPM))
    npm.chmod(0o755)
    cache, hang = tmp_path / "cache", tmp_path / "hang"
    hang.touch()
    first = _install(cache, bin_dir, hang)
    try:
        deadline = time.monotonic() + 60
        staging: list[Path] = []
        while not staging and time.monotonic() < deadline:
            time.sleep(0.05)
            staging = [p for p in (cache / "npm").glob(".fake@1.0.0-*") if (p / "package.json").exists()]
        assert staging, "the first install never started"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert staging[0].is_dir(), "SIGKILL leaves the staging folder behind"
    hang.unlink()

    second = _install(cache, bin_dir, hang)
    assert second.wait(timeout=120) == 0
    npm_folder = cache / "npm"
    assert (npm_folder / "fake@1.0.0" / ".installed").is_file()
    assert [p.name for p in npm_folder.iterdir() if p.name.startswith(".")] == []
