"""Private temporary folders owned by one harness process, and the sweep of those a dead harness left.

A folder is named ``<prefix><harness pid>-<random>`` (mode 0700). When the
harness is killed with SIGKILL nothing of it runs, so its folders stay in
``TMPDIR``; the next harness that makes a folder with the same prefix removes
every such folder whose owner process no longer exists. (If the pid has been
reused meanwhile, the folder waits for that process to end.) The run's CA
folder holds a private key, and the workerd folders hold a copy of the CA:
neither may stay around.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def sweep_stale(prefix: str) -> list[Path]:
    """Remove this user's ``<prefix><pid>-*`` folders whose harness is gone; returns what was removed."""
    removed: list[Path] = []
    with contextlib.suppress(OSError):
        for entry in Path(tempfile.gettempdir()).glob(f"{prefix}*-*"):
            owner = entry.name[len(prefix) :].split("-", 1)[0]
            if not owner.isdigit() or int(owner) == os.getpid():
                continue
            try:
                if entry.stat().st_uid != os.getuid():
                    continue
                os.kill(int(owner), 0)  # signal 0: only asks whether the harness still exists
            except ProcessLookupError:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
            except OSError:
                continue
    return removed


def make_private(prefix: str) -> Path:
    """A new folder ``<prefix><this pid>-<random>`` with mode 0700, after sweeping stale ones."""
    sweep_stale(prefix)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    os.chmod(folder, 0o700)
    return folder
